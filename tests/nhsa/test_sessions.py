"""Whole HIS sessions replayed against POST /nhsa, on both databases: each file of
tests/nhsa/sessions/ holds the envelopes a hospital system sends, in order and in the
national shape, with the infcode and the key outputs each must get back.

A session file::

    {"title": "...",
     "gateway": {"paasid": "HIS01"},          # optional: a gateway client of CENTRE
     "steps": [{"infno": "2401", "msgid": "A1", "input": {...},
                "envelope": {"insuplc_admdvs": "500102"},   # optional extra fields
                "auth": "key" | {"gateway": {...}},        # default: the hospital key
                "expect": {"infcode": 0, "err_msg": "text it contains",
                           "output": {"result.mdtrt_id": "$mid"}}}]}

In ``input`` and ``envelope``, a string ``"$name"`` is replaced by what an earlier step
saved; in ``expect.output``, a dotted path (list indexes as numbers) whose value is
``"$name"`` saves the answer's value there, ``"*"`` asserts it is present and not null,
``null`` that it is null, and anything else that it equals (a JSON number compared by
its text: ``"745.00"``). Gateway steps sign with the client's token:
``{"gateway": {"nonce": "n1", "skew_s": 0, "bad_signature": false}}``.
"""

# ruff: noqa: F811  (test arguments named after the imported `api` fixture)
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import NOW, Api, api  # noqa: F401  (the fixture: both databases)
from tests.registry_data import CENTRE
from yibao.adapters import nhsa
from yibao.services.access.gateway import create_client, gateway_signature

SESSIONS = sorted((Path(__file__).parent / "sessions").glob("*.json"))


def _fill(value: Any, saved: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return saved[value[1:]]
    if isinstance(value, dict):
        return {k: _fill(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, saved) for v in value]
    return value


def _at(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _headers(api: Api, auth: Any, token: str | None, paasid: str | None) -> dict[str, str]:
    if auth in (None, "key"):
        return api.h()
    g = auth["gateway"]
    assert token is not None, "the session declares no gateway client"
    assert paasid is not None
    ts = str(int(NOW.timestamp()) + int(g.get("skew_s", 0)))
    sig = gateway_signature(ts, token, g["nonce"])
    if g.get("bad_signature"):
        sig = gateway_signature(ts, token + "x", g["nonce"])
    if g.get("upper"):
        sig = sig.upper()
    return {"x-tif-paasid": paasid, "x-tif-timestamp": ts, "x-tif-nonce": g["nonce"],
            "x-tif-signature": sig}  # fmt: skip


def _check(step: dict[str, Any], ans: nhsa.ResponseEnvelope, saved: dict[str, Any]) -> None:
    want = step.get("expect", {"infcode": 0})
    where = f"step {step['infno']} {step['msgid']}"
    assert ans.infcode == want.get("infcode", 0), f"{where}: {ans.err_msg}"
    if "err_msg" in want:
        assert want["err_msg"] in (ans.err_msg or ""), f"{where}: {ans.err_msg}"
    for path, value in want.get("output", {}).items():
        assert ans.output is not None, f"{where}: no output"
        got = _at(ans.output, path)
        if isinstance(value, str) and value.startswith("$"):
            saved[value[1:]] = got
        elif value == "*":
            assert got is not None, f"{where}: {path} is null"
        elif value is None:
            assert got is None, f"{where}: {path} = {got!r}, not null"
        else:
            number = isinstance(got, int | nhsa.JsonNumber) and not isinstance(got, bool)
            shown = str(got) if number else got
            assert shown == value, f"{where}: {path} = {got!r}, not {value!r}"


@pytest.mark.parametrize("path", SESSIONS, ids=[p.stem for p in SESSIONS])
def test_session(api: Api, path: Path) -> None:
    session = nhsa.loads(path.read_bytes())  # numbers kept as written
    token = paasid = None
    if "gateway" in session:
        paasid = session["gateway"]["paasid"]
        token = create_client(api.uow, paasid, provider_code=CENTRE, by="test", now=NOW).token
    saved: dict[str, Any] = {}
    for step in session["steps"]:
        doc = {"infno": step["infno"], "msgid": step["msgid"], "fixmedins_code": CENTRE,
               "mdtrtarea_admvs": "500102", "inf_time": step.get("inf_time",
                                                                 "2020-02-12 10:00:00"),
               **_fill(step.get("envelope", {}), saved),
               "input": _fill(step.get("input", {}), saved)}  # fmt: skip
        body = nhsa.dumps(doc)
        r = api.client.post("/nhsa", content=body.encode(),
                            headers=_headers(api, step.get("auth"), token, paasid))  # fmt: skip
        assert r.status_code == 200, r.text
        ans = nhsa.parse_response(r.text)
        _check(step, ans, saved)
        if step.get("replay"):  # the same msgid again: the stored answer, byte for byte
            again = api.client.post("/nhsa", content=body.encode(), headers=api.h())
            assert again.text == r.text, f"step {step['msgid']}: the replay differs"
    assert api.client.get("/v1/ledger/check", headers=api.h("finance")).json()["ok"]


def test_the_sessions_cover_the_brief() -> None:
    names = {p.stem for p in SESSIONS}
    assert {"confirmed-stay", "deferred-stay", "compensation", "sub-fen-lines",
            "gateway-signed"} <= names  # fmt: skip
    assert dt.date(2020, 2, 14) == NOW.date()  # the sessions' dates assume the fixture's clock
