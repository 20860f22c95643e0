"""The deferred queue over REST and the national envelope (both databases): 202 with
the deferral, the queue status and run, 2501 and the transfer rule."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.registry_data import CENTRE, EMPLOYEE
from yibao.adapters import nhsa

NEW = "500102199501010061"
LINES = [{"sn": "1", "code": "001204000010000", "price_e6": 15_000_000, "qty_e4": 30_000}]


def _admit(api: Api, body: dict[str, Any], role: str = "hospital") -> str:
    r = api.client.post("/v1/encounters", json=body, headers=api.h(role))
    assert r.status_code == 201, r.text
    eid = str(r.json()["id"])
    r = api.client.post(f"/v1/encounters/{eid}/fees", json={"lines": LINES}, headers=api.h(role))
    assert r.status_code == 200, r.text
    return eid


def test_rest_settlement_defers_with_202_and_the_queue_shows_it(api: Api) -> None:
    c = api.client
    body = {"insuree_id": NEW, "admit_time": "2020-02-03T09:00:00+08:00",
            "diagnoses": [{"code": "J18.900", "main": True}]}  # fmt: skip
    r = c.post("/v1/encounters", json=body, headers=api.h())
    assert r.status_code == 404
    assert "insured_region" in r.json()["detail"]
    eid = _admit(api, body | {"insured_region": "500102"})
    key = {"Idempotency-Key": "settle-1"}
    r = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-10"},
               headers=api.h(**key))  # fmt: skip
    assert r.status_code == 202, r.text
    d = r.json()
    assert (d["status"], d["reason"], d["advance_fen"]) == ("deferred", "not_enrolled", 4500)
    again = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-10"},
                   headers=api.h(**key))  # fmt: skip
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    q = c.get("/v1/deferred", headers=api.h("clerk")).json()
    assert (q["count"], q["advance_fen"], q["rows"][0]["provider_code"]) == (1, 4500, CENTRE)
    assert c.get("/v1/deferred", headers=api.h("other")).json()["count"] == 0
    assert c.get(f"/v1/encounters/{eid}/deferral", headers=api.h("other")).status_code == 404
    assert c.post("/v1/deferred/settle", json={}, headers=api.h("finance")).status_code == 403
    run = c.post("/v1/deferred/settle", json={}, headers=api.h("clerk")).json()
    assert run["waiting"] == {"not_enrolled": 1}
    assert run["settled"] == []
    assert c.get("/v1/ledger/check", headers=api.h("finance")).json()["ok"]


def test_offline_deferral_route_and_bad_input(api: Api) -> None:
    c = api.client
    eid = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00"})
    bad = c.post(f"/v1/encounters/{eid}/deferral", json={"reason": "lost"}, headers=api.h())
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    body = {"discharge_date": "2020-02-10", "advance_fen": 9000}
    r = c.post(f"/v1/encounters/{eid}/deferral", json=body, headers=api.h())
    assert r.status_code == 201, r.text
    assert (r.json()["reason"], r.json()["provisional"]) == ("offline", True)
    s = c.post(f"/v1/encounters/{eid}/settlement", json={}, headers=api.h())
    assert s.status_code == 201, s.text  # ready: enrolled, lines uploaded
    got = c.get(f"/v1/encounters/{eid}/deferral", headers=api.h()).json()
    assert got["status"] == "settled"
    assert got["settlement_id"] == s.json()["settlement_id"]
    assert c.get("/v1/ledger/check", headers=api.h("finance")).json()["ok"]


def _env(infno: str, msgid: str, data: dict[str, Any], provider: str = CENTRE) -> str:
    doc = {"infno": infno, "msgid": msgid, "fixmedins_code": provider,
           "inf_time": "2020-02-12 10:00:00", "input": data}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False)


def _call(api: Api, body: str, role: str = "hospital") -> nhsa.ResponseEnvelope:
    r = api.client.post("/nhsa", content=body, headers=api.h(role))
    assert r.status_code == 200, r.text
    return nhsa.parse_response(r.text)


def test_national_2501_then_2304_defers_the_transfer_in(api: Api) -> None:
    from tests.api.conftest import OTHER

    sender = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00"})
    filed = _call(api, _env("2501", "T1", {"refmedin": {
        "psn_no": EMPLOYEE, "reflin_medins_no": OTHER, "refl_date": "2020-02-08",
        "refl_rea": "病情需要"}}))  # fmt: skip
    assert filed.ok, filed.err_msg
    assert filed.output is not None
    assert filed.output["result"]["mdtrt_id"] == sender
    adm = _call(api, _env("2401", "A1", {"mdtrtinfo": {
        "psn_no": EMPLOYEE, "insutype": "310", "begntime": "2020-02-08 11:00:00",
        "med_type": "21"}, "diseinfo": {"diag_code": "J18.900", "maindiag_flag": "1"}},
        OTHER), role="other")  # fmt: skip
    assert adm.ok, adm.err_msg
    assert adm.output is not None
    mid = adm.output["result"]["mdtrt_id"]
    enc = api.client.get(f"/v1/encounters/{mid}", headers=api.h("other")).json()
    assert enc["transfer_from"] == sender
    r = api.client.post(f"/v1/encounters/{mid}/fees", json={"lines": LINES}, headers=api.h("other"))
    assert r.status_code == 200
    data = {"data": {"psn_no": EMPLOYEE, "mdtrt_id": mid, "medfee_sumamt": 45.00}}
    ans = _call(api, _env("2304", "S1", data, OTHER), "other")
    assert not ans.ok  # a deferral is never a success (DECISIONS 0104): HIS books "not settled"
    assert "awaiting_transfer" in (ans.err_msg or "")
    assert ans.output is not None
    assert ans.output["setlinfo"] is None
    assert ans.output["deferral"]["reason"] == "awaiting_transfer"


def test_rest_transfer_then_the_queue_settles_the_transfer_in(api: Api) -> None:
    from tests.api.conftest import OTHER

    c = api.client
    sender = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00"})
    none = c.post("/v1/transfers", json={"insuree_id": EMPLOYEE}, headers=api.h("other"))
    assert none.status_code == 404  # no stay of the insuree at the other hospital
    f = c.post("/v1/transfers", json={"insuree_id": EMPLOYEE, "to_provider": OTHER,
                                      "transfer_date": "2020-02-08"}, headers=api.h())  # fmt: skip
    assert f.status_code == 201, f.text
    assert f.json()["from_encounter_id"] == sender
    got = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-08T11:00:00+08:00"},
                 role="other")  # fmt: skip
    enc = c.get(f"/v1/encounters/{got}", headers=api.h("other")).json()
    assert enc["transfer_from"] == sender
    r = c.post(f"/v1/encounters/{got}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h("other"))  # fmt: skip
    assert r.status_code == 202
    assert r.json()["reason"] == "awaiting_transfer"
    mine = c.get("/v1/deferred", headers=api.h("other")).json()
    assert [row["reason"] for row in mine["rows"]] == ["awaiting_transfer"]
    s = c.post(f"/v1/encounters/{sender}/settlement", json={"discharge_date": "2020-02-08"},
               headers=api.h())  # fmt: skip
    assert s.status_code == 201, s.text
    run = c.post("/v1/deferred/settle", json={}, headers=api.h("other")).json()
    assert [x["encounter_id"] for x in run["settled"]] == [got]
    assert run["batch"] == 0  # a transfer-in goes through the service one by one
    assert c.get("/v1/ledger/check", headers=api.h("finance")).json()["ok"]


def test_2502_and_rest_cancel_a_filing_so_it_links_no_admission(api: Api) -> None:
    from tests.api.conftest import OTHER

    c = api.client
    sender = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00"})
    filed = _call(api, _env("2501", "T1", {"refmedin": {
        "psn_no": EMPLOYEE, "reflin_medins_no": OTHER, "refl_date": "2020-02-08"}}))  # fmt: skip
    assert filed.ok, filed.err_msg
    assert filed.output is not None
    sn = filed.output["result"]["trt_dcla_detl_sn"]
    wrong = _call(api, _env("2502", "C0", {"data": {"psn_no": NEW, "trt_dcla_detl_sn": sn}}))
    assert (wrong.ok, "not found" in (wrong.err_msg or "")) == (False, True)
    theirs = c.post(f"/v1/transfers/{sn}/cancellation", headers=api.h("other"))
    assert theirs.status_code == 404  # another hospital's filing is not seen
    gone = _call(api, _env("2502", "C1", {"data": {"psn_no": EMPLOYEE, "trt_dcla_detl_sn": sn,
                                                    "memo": "病情好转"}}))  # fmt: skip
    assert gone.ok, gone.err_msg
    rest = c.post(f"/v1/transfers/{sn}/cancellation", headers=api.h())
    assert (rest.status_code, rest.json()["cancelled"]) == (200, False)  # already cancelled
    got = _admit(api, {"insuree_id": EMPLOYEE, "admit_time": "2020-02-08T11:00:00+08:00"},
                 role="other")  # fmt: skip
    assert c.get(f"/v1/encounters/{got}", headers=api.h("other")).json()["transfer_from"] is None
    assert sender != got
