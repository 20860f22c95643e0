"""2403 入院信息变更, 2405 出院撤销, 5203/5303/5304 at POST /nhsa, on both databases:
a suspected patient confirmed mid-stay settles under the overlay, the change is kept in
the stay's history, a settled stay is not changed, a cancelled discharge settles on the
new one, and the queries answer what was settled, what is open and what was filed."""

# ruff: noqa: F811  (test arguments named after the imported `api` fixture)
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, api  # noqa: F401  (the fixture: both databases)
from tests.registry_data import CENTRE, DIBAO, EMPLOYEE
from yibao.adapters import nhsa
from yibao.adapters.nhsa.stay import decode_2304_whole, decode_2403, decode_5304
from yibao.core.errors import InvalidRequest

SUSPECTED = [{"diag_code": "J18.900", "maindiag_flag": "1", "diag_srt_no": 1},
             {"diag_code": "Z03.800x001", "maindiag_flag": "0", "diag_srt_no": 2}]  # fmt: skip
CONFIRMED = {"diag_code": "B99.900", "diag_name": "新型冠状病毒感染的肺炎", "maindiag_flag": "1"}
FEES = [("1", "YP-0002", "100.00", "2", "50"), ("2", "ZL-0001", "45.00", "3", "15.00")]


def _call(api: Api, infno: str, msgid: str, inp: Any, role: str = "hospital",
          provider: str = CENTRE) -> nhsa.ResponseEnvelope:  # fmt: skip
    body = nhsa.dumps({"infno": infno, "msgid": msgid, "fixmedins_code": provider,
                       "mdtrtarea_admvs": "500102", "inf_time": "2020-02-14 10:00:00",
                       "input": inp})  # fmt: skip
    r = api.client.post("/nhsa", content=body.encode(), headers=api.h(role))
    assert r.status_code == 200, r.text
    return nhsa.parse_response(r.text)


def _ok(ans: nhsa.ResponseEnvelope) -> Any:
    assert ans.infcode == 0, ans.err_msg
    return ans.output


def _admit(api: Api, psn: str, insutype: str, diseinfo: Any, msgid: str) -> str:
    out = _ok(_call(api, "2401", msgid, {
        "mdtrtinfo": {"psn_no": psn, "insutype": insutype, "begntime": "2020-02-13 09:00:00",
                      "med_type": "21"}, "diseinfo": diseinfo}))  # fmt: skip
    return str(out["result"]["mdtrt_id"])


def _upload(api: Api, mid: str, msgid: str) -> None:
    rows = [{"feedetl_sn": sn, "mdtrt_id": mid, "med_list_codg": code,
             "det_item_fee_sumamt": nhsa.JsonNumber(amt), "cnt": nhsa.JsonNumber(cnt),
             "pric": nhsa.JsonNumber(pric), "fee_ocur_time": "2020-02-13 10:00:00"}
            for sn, code, amt, cnt, pric in FEES]  # fmt: skip
    _ok(_call(api, "2301", msgid, {"feedetail": rows}))


def _discharge(api: Api, mid: str, psn: str, msgid: str, when: str = "2020-02-14 09:00:00"
               ) -> nhsa.ResponseEnvelope:  # fmt: skip
    return _call(api, "2402", msgid, {"dscginfo": {"mdtrt_id": mid, "psn_no": psn,
                                                   "endtime": when}})  # fmt: skip


def _settle(api: Api, mid: str, psn: str, msgid: str) -> nhsa.ResponseEnvelope:
    return _call(api, "2304", msgid, {"data": {"psn_no": psn, "mdtrt_id": mid,
                                               "medfee_sumamt": nhsa.JsonNumber("145.00"),
                                               "acct_used_flag": "0"}})  # fmt: skip


def _change(mid: str, psn: str, diseinfo: Any) -> dict[str, Any]:
    info = {"mdtrt_id": mid, "psn_no": psn, "begntime": "2020-02-13 09:00:00", "med_type": "21",
            "mdtrt_cert_type": "02"}  # fmt: skip
    return {"adminfo": info, "diseinfo": diseinfo}


def _events(api: Api, mid: str) -> list[Any]:
    with api.uow:
        return list(api.uow.hospital.events(mid))


def test_a_suspected_patient_confirmed_mid_stay_settles_under_the_overlay(api: Api) -> None:
    mid = _admit(api, EMPLOYEE, "310", SUSPECTED, "A1")
    _upload(api, mid, "F1")
    _ok(_discharge(api, mid, EMPLOYEE, "D1"))
    first = _ok(_settle(api, mid, EMPLOYEE, "S1"))["setlinfo"]
    assert str(first["covid_fiscal_pay"]) == "0.00"  # J18.900 + 疑似: no overlay on 02-14
    assert Decimal(str(first["psn_cash_pay"])) > 0

    refused = _call(api, "2403", "C1", _change(mid, EMPLOYEE, CONFIRMED))
    assert refused.infcode == -1
    assert "settled" in (refused.err_msg or "")
    assert "2305" in (refused.err_msg or "")

    _ok(_call(api, "2305", "R1", {"data": {"psn_no": EMPLOYEE, "mdtrt_id": mid,
                                           "setl_id": first["setl_id"]}}))  # fmt: skip
    assert _ok(_call(api, "2403", "C2", _change(mid, EMPLOYEE, CONFIRMED))) is None
    again = _ok(_settle(api, mid, EMPLOYEE, "S2"))
    second = again["setlinfo"]
    assert str(second["medfee_sumamt"]) == str(first["medfee_sumamt"]) == "145.00"
    assert str(second["psn_cash_pay"]) == "0.00"  # confirmed: the overlay pays the rest
    assert Decimal(str(second["covid_fiscal_pay"])) > 0
    assert str(second["covid_fiscal_pay"]) == str(first["psn_cash_pay"])  # under the deductible

    kinds = [e.kind for e in _events(api, mid)]
    assert kinds.count("admission_changed") == 1
    changed = next(e for e in _events(api, mid) if e.kind == "admission_changed")
    detail = changed.detail if isinstance(changed.detail, dict) else json.loads(changed.detail)
    assert [d["code"] for d in detail["before"]["diagnoses"]] == ["J18.900", "Z03.800x001"]
    assert [d["code"] for d in detail["after"]["diagnoses"]] == ["B99.900"]
    assert changed.msgid == "C2"
    with api.uow:
        audited = api.uow.hospital.audit_entries(entity="encounter", entity_id=mid, limit=50)
    assert "encounter.admission_changed" in [a.action for a in audited]

    # 5203 answers what 2304 answered, the reversed settlement too
    q = _ok(_call(api, "5203", "Q1", {"data": {"psn_no": EMPLOYEE, "setl_id": second["setl_id"],
                                               "mdtrt_id": mid}}))  # fmt: skip
    assert nhsa.dumps(q) == nhsa.dumps(again)
    old = _ok(_call(api, "5203", "Q2", {"data": {"psn_no": EMPLOYEE,
                                                 "setl_id": first["setl_id"]}}))  # fmt: skip
    assert nhsa.dumps(old["setlinfo"]) == nhsa.dumps(first)
    with api.uow:
        reads = api.uow.hospital.audit_entries(entity="insuree", entity_id=None, limit=50)
    assert sum(1 for a in reads if a.action == "personal.read") >= 2

    # another hospital, another insuree, another stay: not found
    other = _call(api, "5203", "Q3", {"data": {"psn_no": EMPLOYEE, "setl_id": second["setl_id"]}},
                  role="other", provider="H50010200002")  # fmt: skip
    assert other.infcode == -1
    assert "not found" in (other.err_msg or "")
    wrong = _call(api, "5203", "Q4", {"data": {"psn_no": DIBAO, "setl_id": second["setl_id"]}})
    assert wrong.infcode == -1
    assert "not found" in (wrong.err_msg or "")
    stay = _call(api, "5203", "Q5", {"data": {"psn_no": EMPLOYEE, "setl_id": second["setl_id"],
                                              "mdtrt_id": "M-none"}})  # fmt: skip
    assert stay.infcode == -1


def test_2403_checks_its_diagnoses_and_refuses_a_cancelled_stay(api: Api) -> None:
    mid = _admit(api, EMPLOYEE, "310", SUSPECTED, "A1")
    bad = _call(api, "2403", "C1", _change(mid, EMPLOYEE, [CONFIRMED, {"diag_code": "X99.999"}]))
    assert bad.infcode == -1
    assert (bad.err_msg or "").startswith("input.diseinfo[1].diag_code")
    moved = _change(mid, EMPLOYEE, CONFIRMED)
    moved["adminfo"]["begntime"] = "2020-02-12 09:00:00"
    assert (_call(api, "2403", "C2", moved).err_msg or "").startswith("input.adminfo.begntime")
    someone = _call(api, "2403", "C3", _change(mid, DIBAO, CONFIRMED))
    assert (someone.err_msg or "").startswith("input.adminfo.psn_no")
    _ok(_call(api, "2404", "X1", {"data": {"mdtrt_id": mid, "psn_no": EMPLOYEE}}))
    gone = _call(api, "2403", "C4", _change(mid, EMPLOYEE, CONFIRMED))
    assert gone.infcode == -1
    assert "cancelled" in (gone.err_msg or "")
    assert [e.kind for e in _events(api, mid)] == ["admitted", "admission_cancelled"]


def test_2405_cancels_a_discharge_and_5303_lists_only_open_stays(api: Api) -> None:
    mid = _admit(api, DIBAO, "390", CONFIRMED, "A1")
    _upload(api, mid, "F1")
    listed = _ok(_call(api, "5303", "Q1", {"data": {"psn_no": DIBAO}}))["data"]
    assert [(r["mdtrt_id"], r["psn_name"], r["begntime"]) for r in listed] == [
        (mid, "李秀英", "2020-02-13 09:00:00")]  # fmt: skip
    assert listed[0]["fixmedins_code"] == CENTRE
    assert listed[0]["dise_codg"] == "B99.900"
    elsewhere = _call(api, "5303", "Q2", {"data": {"psn_no": DIBAO}}, role="other",
                      provider="H50010200002")  # fmt: skip
    assert _ok(elsewhere)["data"] == []

    _ok(_discharge(api, mid, DIBAO, "D1", "2020-02-13 18:00:00"))
    assert _ok(_call(api, "5303", "Q3", {"data": {"psn_no": DIBAO}}))["data"] == []
    _ok(_call(api, "2405", "U1", {"data": {"mdtrt_id": mid, "psn_no": DIBAO}}))
    assert len(_ok(_call(api, "5303", "Q4", {"data": {"psn_no": DIBAO}}))["data"]) == 1
    twice = _call(api, "2405", "U2", {"data": {"mdtrt_id": mid, "psn_no": DIBAO}})
    assert twice.infcode == -1
    assert "not discharged" in (twice.err_msg or "")

    _ok(_discharge(api, mid, DIBAO, "D2"))  # discharged again, on another day
    done = _ok(_settle(api, mid, DIBAO, "S1"))
    assert str(done["setlinfo"]["psn_cash_pay"]) == "0.00"
    with api.uow:
        assert api.uow.hospital.encounter(mid).discharge_date.isoformat() == "2020-02-14"
    late = _call(api, "2405", "U3", {"data": {"mdtrt_id": mid, "psn_no": DIBAO}})
    assert late.infcode == -1
    assert "2305" in (late.err_msg or "")
    kinds = [e.kind for e in _events(api, mid) if e.status_from != e.status_to]
    assert kinds == ["admitted", "discharged", "discharge_undone", "discharged", "settled"]


def test_5304_lists_the_filings_in_the_window(api: Api) -> None:
    mid = _admit(api, EMPLOYEE, "310", CONFIRMED, "A1")
    filed = _ok(_call(api, "2501", "T1", {"refmedin": {
        "psn_no": EMPLOYEE, "reflin_medins_no": "H50010200002", "refl_date": "2020-02-13",
        "refl_rea": "病情需要", "begndate": "2020-02-13"}}))  # fmt: skip
    sn = filed["result"]["trt_dcla_detl_sn"]
    window = {"psn_no": EMPLOYEE, "begntime": "2020-02-13 00:00:00",
              "endtime": "2020-02-14 00:00:00"}  # fmt: skip
    rows = _ok(_call(api, "5304", "Q1", {"data": window}))["refmedin"]
    assert [(r["trt_dcla_detl_sn"], r["mdtrt_id"], r["reflin_medins_no"], r["refl_date"],
             r["diag_code"]) for r in rows] == [
        (sn, mid, "H50010200002", "2020-02-13", "B99.900")]  # fmt: skip
    assert rows[0]["psn_name"] == "张三丰"
    assert rows[0]["insutype"] == "310"
    before = {"psn_no": EMPLOYEE, "begntime": "2020-02-01 00:00:00",
              "endtime": "2020-02-12 23:59:59"}  # fmt: skip
    assert _ok(_call(api, "5304", "Q2", {"data": before}))["refmedin"] == []
    received = _ok(_call(api, "5304", "Q3", {"data": window}, role="other",
                         provider="H50010200002"))["refmedin"]  # fmt: skip
    assert [r["trt_dcla_detl_sn"] for r in received] == [sn]  # the hospital it names sees it
    _ok(_call(api, "2502", "T2", {"data": {"psn_no": EMPLOYEE, "trt_dcla_detl_sn": sn}}))
    assert _ok(_call(api, "5304", "Q4", {"data": window}))["refmedin"] == []


def test_the_decoders_name_national_key_paths() -> None:
    with pytest.raises(InvalidRequest) as exc:
        decode_2403({"adminfo": {"psn_no": "P"}, "diseinfo": [{"maindiag_flag": "1"}]})
    paths = [p for p, _ in exc.value.problems]
    assert "input.adminfo.mdtrt_id" in paths
    assert "input.diseinfo[0].diag_code" in paths
    one = decode_2403({"adminfo": {"mdtrt_id": "M1", "psn_no": "P", "tel": "1"},
                       "diseinfo": CONFIRMED}).record  # fmt: skip
    assert [(d.code, d.main) for d in one.diagnoses] == [("B99.900", True)]
    with pytest.raises(InvalidRequest, match=r"input\.data\.endtime"):
        decode_5304({"data": {"psn_no": "P", "begntime": "2020-02-13 00:00:00",
                              "endtime": "2020-02-12 00:00:00"}})  # fmt: skip
    with pytest.raises(InvalidRequest, match=r"input\.data\.mid_setl_flag: 中途结算 not supported"):
        decode_2304_whole({"data": {"psn_no": "P", "mdtrt_id": "M", "medfee_sumamt": 1,
                                    "mid_setl_flag": "1"}})  # fmt: skip
