"""Access (issue 15): refused attempts are audited (who, what, why, when) within a budget,
reads of personal data are audited before they are answered, and a revoked key is
refused at once — by every worker of ``yibao serve --workers 2``."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import NOW, OTHER, Api
from tests.api.test_rest import ADMIT, _admit
from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.adapters.api.app import PERSONAL, create_app
from yibao.services.access.rights import RefusalBudget, audit_refusal, create_key, revoke_key
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

MASKED = "500102********0016"  # EMPLOYEE as the audit log may hold it


def _entries(api: Api, action: str | None = None) -> list[Any]:
    with api.uow:
        rows = api.uow.hospital.audit_entries(entity=None, entity_id=None, limit=10_000)
    return [r for r in reversed(rows) if action is None or r.action == action]


def _at(e: Any) -> dt.datetime:
    """An entry's time, aware (SQLite gives it back naive, in UTC)."""
    at: dt.datetime = e.at
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _key_id(key: str) -> str:
    return key.split("_")[1]


def _nothing_secret_in(rows: list[Any], *secrets: str) -> None:
    text = json.dumps([list(map(str, r)) for r in rows], ensure_ascii=False)
    for s in secrets:
        assert s not in text


# -- refusals --------------------------------------------------------------------------------


def test_a_request_without_a_key_is_audited_as_anonymous(api: Api) -> None:
    r = api.client.get("/v1/encounters/E1")
    assert r.status_code == 401
    (e,) = _entries(api, "access.refused")
    assert (e.actor, e.role, e.provider_code) == ("anonymous", "none", None)
    assert (e.entity, e.entity_id) == ("encounter", "E1")
    assert e.detail == {"method": "GET", "route": "/v1/encounters/{encounter_id}",
                        "status": 401, "reason": "no key"}  # fmt: skip
    assert _at(e) == NOW


@pytest.mark.parametrize(
    ("key", "actor", "reason"),
    [
        ("yb_0123456789ab_nope", "key:0123456789ab", "unknown key id"),
        ("not-a-key-at-all", "anonymous", "not a yibao API key"),
        ("yb_x-y_secret", "anonymous", "not a yibao API key"),
    ],
)
def test_a_bad_key_is_audited_by_its_id_never_the_key(api: Api, key: str, actor: str,
                                                       reason: str) -> None:  # fmt: skip
    r = api.client.get("/v1/encounters", headers={"X-API-Key": key})
    assert r.status_code == 401, r.text
    (e,) = _entries(api, "access.refused")
    assert (e.actor, e.detail["reason"], e.detail["status"]) == (actor, reason, 401)
    assert (e.entity, e.entity_id) == ("route", "/v1/encounters")
    _nothing_secret_in(_entries(api), key, "nope", "secret")


def test_a_wrong_secret_and_a_revoked_key_say_which(api: Api) -> None:
    key = api.keys["clerk"]
    kid = _key_id(key)
    wrong = f"yb_{kid}_{'A' * 32}"
    assert api.client.get("/v1/encounters", headers={"X-API-Key": wrong}).status_code == 401
    revoke_key(api.uow, kid, by="test", now=NOW)
    assert api.client.get("/v1/encounters", headers=api.h("clerk")).status_code == 401
    refused = _entries(api, "access.refused")
    assert [(e.actor, e.detail["reason"]) for e in refused] == [
        (f"key:{kid}", "wrong secret"), (f"key:{kid}", "revoked")]  # fmt: skip
    _nothing_secret_in(_entries(api), key.split("_", 2)[2], wrong.split("_", 2)[2])


def test_a_role_that_may_not_is_403_and_audited_with_its_key(api: Api) -> None:
    r = api.client.post("/v1/encounters", json=ADMIT, headers=api.h("finance"))
    assert r.status_code == 403, r.text
    (e,) = _entries(api, "access.refused")
    assert (e.actor, e.role) == (f"key:{_key_id(api.keys['finance'])}", "finance")
    assert e.detail["status"] == 403
    assert e.detail["route"] == "/v1/encounters"
    assert "finance" in e.detail["reason"]
    assert EMPLOYEE not in json.dumps(e.detail)


def test_another_hospitals_encounter_is_404_and_audited(api: Api) -> None:
    eid = _admit(api)
    before = len(_entries(api))
    r = api.client.get(f"/v1/encounters/{eid}", headers=api.h("other"))
    assert r.status_code == 404
    new = _entries(api)[before:]
    other = f"key:{_key_id(api.keys['other'])}"
    assert [(e.action, e.actor, e.provider_code, e.entity, e.entity_id) for e in new] == [
        ("access.refused", other, OTHER, "encounter", eid)]  # fmt: skip
    assert new[0].detail["status"] == 404


def test_an_unknown_insuree_is_audited_with_the_id_number_masked(api: Api) -> None:
    psn = "500102199001010016"
    r = api.client.get(f"/v1/insurees/{psn}", headers=api.h("clerk"))
    assert r.status_code == 404, r.text
    (e,) = _entries(api, "access.refused")
    assert (e.entity, e.entity_id) == ("insuree", "500102********0016")
    _nothing_secret_in(_entries(api), psn)


def test_a_path_that_is_no_route_is_not_audited(api: Api) -> None:
    assert api.client.get("/v1/nothing-here", headers=api.h()).status_code == 404
    assert api.client.get("/v1/nothing-here").status_code == 404
    assert _entries(api, "access.refused") == []


def test_what_a_caller_sent_is_cleaned_before_it_is_stored(api: Api) -> None:
    # the routes refuse such ids with 422 (validation): the audit's own cleaning is
    # checked at the service, as nhsa.py calls it too
    nasty = f"E\x00\u202e\ud800{EMPLOYEE}" + "y" * 300
    audit_refusal(api.uow, None, status=404, reason=f"{nasty} not found", method="GET\x00",
                  route="/v1/encounters/{encounter_id}", entity="encounter",
                  entity_id=nasty, at=NOW, key_id=nasty[:20])  # fmt: skip
    (e,) = _entries(api, "access.refused")
    assert e.entity_id == ("E???" + MASKED + "y" * 100)[:100]
    assert e.detail["reason"] == ("E???" + MASKED + "y" * 300)[:200]
    assert e.detail["method"] == "GET?"
    assert e.actor == "key:E???500102198003"  # as presented, cleaned, at most 16
    _nothing_secret_in(_entries(api), EMPLOYEE)


def test_a_flood_of_401s_is_written_within_the_budget_and_counted(api: Api) -> None:
    clock = [0.0]
    api.client.app.state.refusals = RefusalBudget(  # type: ignore[attr-defined]
        per_s=2.0, burst=5, clock=lambda: clock[0]
    )
    for _ in range(40):
        assert api.client.get("/v1/encounters").status_code == 401
    assert len(_entries(api, "access.refused")) == 5
    clock[0] = 1.0  # two more tokens
    assert api.client.get("/v1/encounters").status_code == 401
    refused = _entries(api, "access.refused")
    assert len(refused) == 6
    assert refused[-1].detail["suppressed"] == 35
    assert "suppressed" not in refused[0].detail


def test_the_budget_refills_at_its_rate() -> None:
    clock = [0.0]
    b = RefusalBudget(per_s=10.0, burst=3, clock=lambda: clock[0])
    assert [b.take() for _ in range(5)] == [0, 0, 0, None, None]
    clock[0] = 0.25  # 2.5 tokens
    assert [b.take(), b.take(), b.take()] == [2, 0, None]
    clock[0] = 100.0
    assert [b.take() for _ in range(4)] == [1, 0, 0, None]  # never more than the burst


def test_a_refusal_that_cannot_be_audited_is_answered_all_the_same(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yibao.adapters.api.app as app_module

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(app_module, "audit_refusal", broken)
    r = api.client.get("/v1/encounters")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


# -- reads of personal data -----------------------------------------------------------------


NOT_PERSONAL = {"/v1/reconciliation", "/v1/audit", "/v1/ledger/check", "/v1/deferred",
                "/healthz", "/v1/claim-batches", "/v1/claim-batches/{batch_id}",
                "/v1/supervision/flags", "/v1/supervision/flags/{flag_id}",
                "/v1/clearing/statements",
                # drug monitoring and fund management show hospitals' and funds' figures,
                # never an insuree's data (a subsidy claim lists encounter ids and amounts)
                "/v1/drugs/watch", "/v1/drugs/signals", "/v1/drugs/signals/{signal_id}",
                "/v1/drugs/filings", "/v1/drugs/filings/{filing_id}", "/v1/funds/prepayments",
                "/v1/funds/statements", "/v1/funds/statements/{sid}", "/v1/funds/subsidy-claims",
                "/v1/funds/budgets/{year}"}  # fmt: skip


def test_every_get_route_is_classed_personal_or_not() -> None:
    spec = create_app("sqlite:///:memory:", check=False).openapi()
    gets = {path for path, ops in spec["paths"].items() if "get" in ops}
    assert gets == PERSONAL | NOT_PERSONAL, "class the new GET route in app.PERSONAL or here"


def test_reads_of_personal_data_are_audited_before_they_are_answered(api: Api) -> None:
    eid = _admit(api)
    c = api.client
    before = len(_entries(api))
    assert c.get(f"/v1/encounters/{eid}", headers=api.h("clerk")).status_code == 200
    assert c.get(f"/v1/encounters/{eid}/fees", headers=api.h()).status_code == 200
    got = c.get(f"/v1/insurees/{EMPLOYEE}?on=2020-02-12", headers=api.h("auditor"))
    assert got.status_code == 200
    listed = c.get(f"/v1/encounters?insuree_id={EMPLOYEE}", headers=api.h())
    assert listed.status_code == 200
    assert c.get("/v1/audit", headers=api.h("auditor")).status_code == 200  # not personal
    reads = [e for e in _entries(api)[before:] if e.action == "personal.read"]
    assert [(e.actor, e.role, e.entity, e.entity_id) for e in reads] == [
        (f"key:{_key_id(api.keys['clerk'])}", "clerk", "encounter", eid),
        (f"key:{_key_id(api.keys['hospital'])}", "hospital", "encounter", eid),
        (f"key:{_key_id(api.keys['auditor'])}", "auditor", "insuree", MASKED),
        (f"key:{_key_id(api.keys['hospital'])}", "hospital", "route", "/v1/encounters"),
    ]  # fmt: skip
    assert reads[0].detail == {"method": "GET", "route": "/v1/encounters/{encounter_id}"}
    assert reads[2].detail["query"] == "on=2020-02-12"
    assert reads[3].detail["query"] == f"insuree_id={MASKED}"
    assert all(_at(e) == NOW for e in reads)
    _nothing_secret_in(_entries(api), EMPLOYEE)


def test_a_read_that_cannot_be_audited_is_not_answered(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yibao.adapters.api.app as app_module

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(app_module, "audit_read", broken)
    r = api.client.get(f"/v1/insurees/{EMPLOYEE}?on=2020-02-12", headers=api.h())
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert EMPLOYEE not in r.text
    assert "张" not in r.text


# -- revocation ------------------------------------------------------------------------------


def test_a_revoked_key_is_refused_at_the_next_request_writes_included(api: Api) -> None:
    c = api.client
    for _ in range(3):  # verified, and kept by the worker
        assert c.get("/v1/encounters", headers=api.h()).status_code == 200
    revoke_key(api.uow, _key_id(api.keys["hospital"]), by="test", now=NOW)
    before = api.counts()["encounters"]
    assert c.get("/v1/encounters", headers=api.h()).status_code == 401
    r = c.post("/v1/encounters", json=ADMIT, headers=api.h(**{"Idempotency-Key": "late"}))
    assert r.status_code == 401
    assert api.counts()["encounters"] == before


# -- two workers ---------------------------------------------------------------------------------

DEADLINE_S = 90.0  # the whole two-worker test; start-up takes a few seconds per worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with suppress(OSError):
                stat = (d / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(d.name))
    return out


def _worker_of(conn: http.client.HTTPConnection, port: int, workers: set[int]) -> int | None:
    """The worker process holding the server side of ``conn`` (its socket's inode, by
    /proc/net/tcp, found among the workers' open files)."""
    assert conn.sock is not None
    mine = conn.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and int(f[2].split(":")[1], 16) == mine:
            inode = f[9]
    for pid in workers:
        with suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


@contextmanager
def _serve(db_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    yibao = Path(sys.executable).parent / "yibao"
    env = {**os.environ, "YIBAO_DATABASE_URL": db_url}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(yibao), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _call(conn: http.client.HTTPConnection, method: str, path: str, key: str,
          body: Any = None, **headers: str) -> int:  # fmt: skip
    data = None if body is None else json.dumps(body).encode()
    sent = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers}
    conn.request(method, path, body=data, headers=sent)
    r = conn.getresponse()
    r.read()
    return r.status


def test_revocation_holds_at_once_on_every_worker(db_url: str, tmp_path: Path) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("telling the workers apart needs Linux's /proc")
    start = time.monotonic()
    engine = make_engine(db_url)
    uow = UnitOfWork(engine)
    load_examples(uow)
    made = create_key(uow, role="hospital", provider_code=CENTRE, label="two workers",
                      by="test", now=dt.datetime.now(dt.UTC))  # fmt: skip
    port = _free_port()
    log = tmp_path / "serve.log"
    conns: dict[int, http.client.HTTPConnection] = {}
    with _serve(db_url, port, log) as proc:
        try:
            # one kept-alive connection to each worker, each used several times: both
            # workers have verified the key and keep it
            while len(conns) < 2:
                assert time.monotonic() - start < DEADLINE_S, log.read_text()[-3000:]
                assert proc.poll() is None, log.read_text()[-3000:]
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    status = _call(conn, "GET", "/v1/encounters", made.key)
                except OSError:  # not listening yet
                    conn.close()
                    time.sleep(0.2)
                    continue
                assert status == 200
                pid = _worker_of(conn, port, _children(proc.pid))
                assert pid is not None
                if pid in conns:
                    conn.close()
                else:
                    conns[pid] = conn
            for conn in conns.values():
                for _ in range(3):
                    assert _call(conn, "GET", "/v1/encounters", made.key) == 200
                status = _call(conn, "POST", "/v1/encounters", made.key, ADMIT,
                               **{"Idempotency-Key": "before"})  # fmt: skip
                assert status == 201  # the first admits, the other replays
            with uow:
                admitted = uow.hospital.counts()["encounters"]

            revoke_key(uow, made.key_id, by="test", now=dt.datetime.now(dt.UTC))

            for conn in conns.values():  # the very next requests, on each worker
                assert _call(conn, "GET", "/v1/encounters", made.key) == 401
                assert _call(conn, "POST", "/v1/encounters", made.key, ADMIT,
                             **{"Idempotency-Key": "after"}) == 401  # fmt: skip
                assert _call(conn, "POST", "/v1/encounters", made.key, ADMIT,
                             **{"Idempotency-Key": "before"}) == 401  # fmt: skip
            fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            assert _call(fresh, "GET", f"/v1/insurees/{EMPLOYEE}", made.key) == 401
            fresh.close()
        finally:
            for conn in conns.values():
                conn.close()
    with uow:
        assert uow.hospital.counts()["encounters"] == admitted
        rows = uow.hospital.audit_entries(entity=None, entity_id=None, limit=1000)
    revoked = [r for r in rows if r.action == "access.refused" and r.detail["reason"] == "revoked"]
    assert len(revoked) == 7
    assert {r.actor for r in revoked} == {f"key:{made.key_id}"}
    engine.dispose()
    assert time.monotonic() - start < DEADLINE_S
