"""/v1/supervision on both databases: a settlement answered over REST sets off the scan of
recent settlements; a hospital sees and answers its own flags only; reviewing is a
supervisor's (an API key gets 403 problem+json)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import Api, api  # noqa: F401 - the fixture
from tests.registry_data import CENTRE, EMPLOYEE
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context

T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)


def test_settling_raises_flags_the_hospital_sees_and_answers(
    api: Api,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from yibao.services.supervision import flags

    monkeypatch.setattr(flags, "AFTER_SETTLEMENT_EVERY_S", 0.0)  # every answer scans here
    monkeypatch.setattr(flags, "_LAST", [float("-inf")])
    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: T0)
    me = Principal("k", "hospital", CENTRE)
    enc = uc.admit(api.uow, ctx, me, uc.Admit(EMPLOYEE, "21", T0, (uc.Diagnosis("B99.900", True),)),
                   msgid=None)  # fmt: skip
    late = dt.datetime(2020, 2, 13, 9, tzinfo=CST)  # the day after discharge
    fee = uc.FeeIn("1", "ZL-0001", 15_000_000, 30_000, service_time=late)
    uc.upload_fees(api.uow, ctx, me, enc.id, (fee,), msgid=None)
    c = api.client
    r = c.post(f"/v1/encounters/{enc.id}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h())  # fmt: skip
    assert r.status_code == 201, r.text
    mine = c.get("/v1/supervision/flags", headers=api.h()).json()["flags"]
    assert [f["rule_id"] for f in mine] == ["fee_outside_stay"]
    flag = mine[0]
    assert flag["encounter_id"] == enc.id
    assert c.get("/v1/supervision/flags", headers=api.h("other")).json() == {"flags": []}
    assert c.get(f"/v1/supervision/flags/{flag['id']}", headers=api.h("other")).status_code == 404
    r = c.post(f"/v1/supervision/flags/{flag['id']}/answer", json={"answer": "出院带药"},
               headers=api.h())  # fmt: skip
    assert r.json()["state"] == "answered"
    one = c.get(f"/v1/supervision/flags/{flag['id']}", headers=api.h()).json()
    assert [s["kind"] for s in one["steps"]] == ["raised", "answered"]
    assert one["steps"][1]["text"] == "出院带药"
    r = c.post(f"/v1/supervision/flags/{flag['id']}/confirm", json={"amount_fen": 1},
               headers=api.h("clerk"))  # fmt: skip
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    r = c.post(f"/v1/supervision/flags/{flag['id']}/confirm", json={"amount_fen": 1.5},
               headers=api.h("clerk"))  # fmt: skip
    assert r.status_code == 422
