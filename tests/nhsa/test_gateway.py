"""The national gateway's clients (yibao gateway add/list/revoke), its signature check,
and the sign-in rules of POST /nhsa, on both databases."""

# ruff: noqa: F811  (test arguments named after the imported `api` fixture)
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from typer.testing import CliRunner

from tests.api.conftest import NOW, Api, api  # noqa: F401  (the fixture: both databases)
from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.adapters import nhsa
from yibao.adapters.api.nhsa import NhsaConfig
from yibao.adapters.cli.app import app
from yibao.core.errors import InvalidRequest, NotFound
from yibao.services.access import gateway
from yibao.store.uow import UnitOfWork


def _sign(ts: str, token: str, nonce: str) -> dict[str, str]:
    return {"x-tif-paasid": "HIS01", "x-tif-timestamp": ts, "x-tif-nonce": nonce,
            "x-tif-signature": gateway.gateway_signature(ts, token, nonce)}  # fmt: skip


def test_the_signature_is_sha256_of_timestamp_token_nonce_timestamp() -> None:
    want = hashlib.sha256(b"1581645600" + b"tok" + b"n1" + b"1581645600").hexdigest()
    assert gateway.gateway_signature("1581645600", "tok", "n1") == want


def test_clients_are_added_refused_twice_and_revoked(uow: UnitOfWork) -> None:
    load_examples(uow)
    made = gateway.create_client(uow, "HIS01", provider_code=CENTRE, by="t", now=NOW)
    assert len(made.token) >= 32
    with pytest.raises(InvalidRequest, match="exists"):
        gateway.create_client(uow, "HIS01", provider_code=CENTRE, by="t", now=NOW)
    with pytest.raises(NotFound, match="not in the registry"):
        gateway.create_client(uow, "HIS02", provider_code="H0", by="t", now=NOW)
    with pytest.raises(InvalidRequest, match="paasid"):
        gateway.create_client(uow, "bad id", provider_code=CENTRE, by="t", now=NOW)
    ts = str(int(NOW.timestamp()))
    h = _sign(ts, made.token, "n1")
    who = gateway.authenticate_gateway(uow, paasid="HIS01", timestamp=ts, nonce="n1",
                                       signature=h["x-tif-signature"], now=NOW)  # fmt: skip
    assert (who.role, who.provider_code, who.principal) == ("hospital", CENTRE, CENTRE)
    later = NOW + dt.timedelta(seconds=700)  # the nonce is pruned after twice the window
    ts2 = str(int(later.timestamp()))
    gateway.authenticate_gateway(uow, paasid="HIS01", timestamp=ts2, nonce="n2",
                                 signature=gateway.gateway_signature(ts2, made.token, "n2"),
                                 now=later)  # fmt: skip
    with uow:
        assert uow.gateway.remember_nonce("HIS01", "n1", later)  # n1 was forgotten
    gateway.revoke_client(uow, "HIS01", by="t", now=NOW)
    with pytest.raises(NotFound):
        gateway.revoke_client(uow, "HIS01", by="t", now=NOW)
    with pytest.raises(gateway.GatewayRefused, match="revoked"):
        gateway.authenticate_gateway(uow, paasid="HIS01", timestamp=ts, nonce="n3",
                                     signature=gateway.gateway_signature(ts, made.token, "n3"),
                                     now=NOW)  # fmt: skip
    assert [c["paasid"] for c in gateway.list_clients(uow)] == ["HIS01"]


def test_the_cli_prints_the_token_once_and_never_lists_it(cli_db: str) -> None:
    from yibao.bootstrap import unit_of_work

    load_examples(unit_of_work())
    run = CliRunner()
    added = run.invoke(app, ["gateway", "add", "HIS01", "--provider", CENTRE, "--by", "ops"])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    listed = run.invoke(app, ["gateway", "list"])
    assert listed.exit_code == 0
    assert "HIS01" in listed.stdout
    assert CENTRE in listed.stdout
    assert "active" in listed.stdout
    assert token not in listed.stdout
    assert run.invoke(app, ["gateway", "revoke", "HIS01"]).exit_code == 0
    assert "revoked" in run.invoke(app, ["gateway", "list"]).stdout
    again = run.invoke(app, ["gateway", "revoke", "HIS01"])
    assert again.exit_code == 2


def _body(infno: str, msgid: str, data: object, **kw: object) -> str:
    return json.dumps({"infno": infno, "msgid": msgid, "fixmedins_code": CENTRE,
                       "input": data, **kw}, ensure_ascii=False)  # fmt: skip


def test_refusals_are_audited_and_sign_no_can_be_required(api: Api) -> None:
    token = gateway.create_client(api.uow, "HIS01", provider_code=CENTRE, by="t", now=NOW).token
    ts = str(int(NOW.timestamp()))
    q = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": EMPLOYEE}}
    bad = _sign(ts, token + "x", "n1")
    r = api.client.post("/nhsa", content=_body("1101", "Q1", q), headers=bad)
    assert r.status_code == 200  # in the envelope, not a 401 problem
    assert nhsa.parse_response(r.text).infcode == -1
    missing = {k: v for k, v in _sign(ts, token, "n2").items() if k != "x-tif-nonce"}
    r = api.client.post("/nhsa", content=_body("1101", "Q2", q), headers=missing)
    assert "x-tif-nonce missing" in (nhsa.parse_response(r.text).err_msg or "")
    with api.uow:
        audit = api.uow.hospital.audit_entries(entity="nhsa", entity_id=None, limit=100)
    reasons = sorted(str(e.detail["reason"]) for e in audit if e.action == "access.refused")
    assert reasons == ["bad signature", "missing"]
    api.client.app.state.nhsa = NhsaConfig(require_sign_no=True)  # type: ignore[attr-defined]
    r = api.client.post("/nhsa", content=_body("1101", "Q3", q), headers=api.h())
    assert "缺少 sign_no" in (nhsa.parse_response(r.text).err_msg or "")
    signed = api.client.post("/nhsa", content=_body("9001", "Q4", {"signIn": {"opter_no": "01"}}),
                             headers=api.h())  # fmt: skip
    sign_no = nhsa.parse_response(signed.text).output["signinoutb"]["sign_no"]  # type: ignore[index]
    assert len(sign_no) == 30
    r = api.client.post("/nhsa", content=_body("1101", "Q5", q, sign_no=sign_no), headers=api.h())
    assert nhsa.parse_response(r.text).ok
    other = api.client.post("/nhsa", content=_body("1101", "Q6", q, sign_no=sign_no,
                                                    fixmedins_code="H50010200002"),
                            headers=api.h("other"))  # fmt: skip
    assert "不是本机构" in (nhsa.parse_response(other.text).err_msg or "")
