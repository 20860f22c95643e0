"""POST /nhsa on both databases: the national envelope end to end, exact yuan, msgid
idempotency per hospital, 冲正 (2601), refused lines naming their feedetl_sn."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.registry_data import CENTRE, DIBAO, EMPLOYEE
from yibao.adapters import nhsa


def _env(infno: str, msgid: str, data: dict[str, Any], **kw: Any) -> str:
    doc = {"infno": infno, "msgid": msgid, "fixmedins_code": CENTRE, "mdtrtarea_admvs": "500102",
           "inf_time": "2020-02-12 10:00:00", "input": data, "serv_code": "x", **kw}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False)


def _call(api: Api, body: str, role: str = "hospital") -> nhsa.ResponseEnvelope:
    r = api.client.post("/nhsa", content=body, headers=api.h(role))
    assert r.status_code == 200, r.text
    return nhsa.parse_response(r.text)


def _admit(api: Api, msgid: str = "A1", psn: str = DIBAO) -> str:
    ans = _call(api, _env("2401", msgid, {
        "mdtrtinfo": {"psn_no": psn, "insutype": "390", "begntime": "2020-02-03 09:00:00",
                      "med_type": "21"},
        "diseinfo": {"diag_code": "B99.900", "maindiag_flag": "1"}}))  # fmt: skip
    assert ans.ok, ans.err_msg
    assert ans.output is not None
    return str(ans.output["result"]["mdtrt_id"])


FEES = [("1", "YP-0002", "100.00", "2", "50"), ("2", "ZL-0001", "45.00", "3", "15.00"),
        ("3", "HC-0001", "600.00", "2.5", "240")]  # fmt: skip


def _upload(api: Api, mid: str, msgid: str = "F1", fees: Any = FEES) -> nhsa.ResponseEnvelope:
    rows = [{"feedetl_sn": sn, "mdtrt_id": mid, "med_list_codg": code, "det_item_fee_sumamt":
             nhsa.JsonNumber(amt), "cnt": nhsa.JsonNumber(cnt), "pric": nhsa.JsonNumber(pric),
             "fee_ocur_time": "2020-02-04 08:00:00"}
            for sn, code, amt, cnt, pric in fees]  # fmt: skip
    body = nhsa.dumps({"infno": "2301", "msgid": msgid, "fixmedins_code": CENTRE,
                       "input": {"feedetail": rows}})  # fmt: skip
    return _call(api, body)


def test_the_envelope_lifecycle_in_exact_yuan(api: Api) -> None:
    mid = _admit(api)
    up = _upload(api, mid)
    assert up.ok, up.err_msg
    assert up.output is not None
    first = up.output["result"][0]
    assert (first["feedetl_sn"], first["chrgitm_lv"]) == ("1", "03")
    pre = _call(api, _env("2303", "P1", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                                   "medfee_sumamt": 745.00}}))  # fmt: skip
    assert pre.ok, pre.err_msg
    r = api.client.post("/nhsa", content=_env("2304", "S1", {"data": {
        "psn_no": DIBAO, "mdtrt_id": mid, "medfee_sumamt": 745.00, "acct_used_flag": "0"}}),
        headers=api.h())  # fmt: skip
    text = r.text
    assert '"medfee_sumamt":745.00' in text
    assert '"psn_cash_pay":0.00' in text
    ans = nhsa.parse_response(text)
    assert ans.output is not None
    got = nhsa.read_settlement_output(ans.output).record
    a = got.amounts
    assert a["fund_pay_sumamt"] + a["psn_part_amt"] == a["medfee_sumamt"]
    assert a["psn_part_amt"] == a["acct_pay"] + a["psn_cash_pay"] + a["covid_fiscal_pay"]
    assert a["covid_fiscal_pay"] > 0  # the subsidy, outside fund_pay_sumamt
    assert got.ratio_bp == 4000  # pool_prop_selfpay is the ratio (resident tier 1, level 3)
    assert pre.output is not None
    assert pre.output["setlinfo"]["setl_id"] is None
    cum = _call(api, _env("5206", "C1", {"data": {"psn_no": DIBAO, "cum_ym": "202002"}}))
    assert cum.output is not None
    codes = {row["cum_type_code"] for row in cum.output["cuminfo"]}
    assert "L_BASIC_ENTITLED" in codes
    rev = _call(api, _env("2305", "R1", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                                   "setl_id": got.settlement_id}}))  # fmt: skip
    assert rev.ok, rev.err_msg
    assert rev.output is not None
    assert str(rev.output["setlinfo"]["medfee_sumamt"]) == "-745.00"
    again = _call(api, _env("2304", "S2", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                                     "medfee_sumamt": 745.00}}))  # fmt: skip
    assert again.ok, again.err_msg
    day = api.client.get(f"/v1/encounters/{mid}", headers=api.h()).json()
    assert (day["status"], day["discharge_date"]) == ("settled", "2020-02-12")
    stmt = _call(api, _env("3201", "T1", {"data": {
        "stmt_begndate": "2020-02-14", "stmt_enddate": "2020-02-14", "medfee_sumamt": 745.00,
        "fund_pay_sumamt": nhsa.yuan(a["fund_pay_sumamt"]), "acct_pay": 0,
        "fixmedins_setl_cnt": 1}}))  # fmt: skip
    assert stmt.output is not None
    assert stmt.output["stmtinfo"]["stmt_rslt"] == "0", stmt.output


def test_msgid_is_unique_per_hospital(api: Api) -> None:
    mid = _admit(api, "A1")
    body = _env("2402", "D1", {"dscginfo": {"mdtrt_id": mid, "psn_no": DIBAO,
                                             "endtime": "2020-02-12 09:00:00"}})  # fmt: skip
    r1 = api.client.post("/nhsa", content=body, headers=api.h())
    before = api.counts()
    r2 = api.client.post("/nhsa", content=body, headers=api.h())
    assert r2.text == r1.text  # the first answer, as stored
    assert api.counts() == before
    other = _env("2402", "D1", {"dscginfo": {"mdtrt_id": mid, "psn_no": DIBAO,
                                              "endtime": "2020-02-13 09:00:00"}})  # fmt: skip
    ans = _call(api, other)
    assert ans.infcode == -1
    assert "another request" in (ans.err_msg or "")


def test_refused_lines_name_their_serial_and_persist_nothing(api: Api) -> None:
    mid = _admit(api)
    before = api.counts()
    bad = _upload(api, mid, "F9", [*FEES, ("4", "ZL-0001", "15.00", "1", "15.001")])
    assert bad.infcode == -1
    assert "feedetl_sn 4" in (bad.err_msg or "")
    assert "never rounds" in (bad.err_msg or "")
    unknown = _upload(api, mid, "F10", [("5", "NOPE-1", "1.00", "1", "1")])
    assert unknown.infcode == -1
    assert "feedetl_sn 5" in (unknown.err_msg or "")
    assert api.counts() == before


def test_2601_reverses_a_lost_settlement_and_refuses_it_late(api: Api) -> None:
    mid = _admit(api)
    _upload(api, mid)
    lost = _env("2304", "LOST1", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                            "medfee_sumamt": 745.00}})  # fmt: skip
    assert _call(api, lost).ok
    undo = _call(api, _env("2601", "U1", {"data": {"psn_no": DIBAO, "omsgid": "LOST1",
                                                    "oinfno": "2304"}}))  # fmt: skip
    assert undo.ok, undo.err_msg
    late = _call(api, lost)
    assert late.infcode == -1
    assert "冲正" in (late.err_msg or "")
    enc = api.client.get(f"/v1/encounters/{mid}", headers=api.h()).json()
    assert enc["status"] == "discharged"
    lines = _call(api, _env("2601", "U2", {"data": {"psn_no": DIBAO, "omsgid": "F1",
                                                     "oinfno": "2301"}}))  # fmt: skip
    assert lines.ok
    fees = api.client.get(f"/v1/encounters/{mid}/fees", headers=api.h()).json()["lines"]
    assert all(ln["cancelled"] for ln in fees)
    assert api.client.get("/v1/ledger/check", headers=api.h("finance")).json()["ok"]


def test_2601_of_a_2302_uploads_the_cancelled_lines_again(api: Api) -> None:
    mid = _admit(api)
    _upload(api, mid)
    cancel = _call(api, _env("2302", "X1", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                                      "feedetl_sn": "0000"}}))  # fmt: skip
    assert cancel.ok, cancel.err_msg
    undo = _call(api, _env("2601", "U3", {"data": {"psn_no": DIBAO, "omsgid": "X1",
                                                    "oinfno": "2302"}}))  # fmt: skip
    assert undo.ok, undo.err_msg
    fees = api.client.get(f"/v1/encounters/{mid}/fees", headers=api.h()).json()["lines"]
    assert len([ln for ln in fees if not ln["cancelled"]]) == len(FEES)
    settle = _env("2304", "S9", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                           "medfee_sumamt": 745.00}})  # fmt: skip
    assert _call(api, settle).ok


def test_1101_and_the_key_must_be_the_hospitals(api: Api) -> None:
    who = _call(api, _env("1101", "Q1", {"data": {"mdtrt_cert_type": "02",
                                                   "mdtrt_cert_no": EMPLOYEE}}))  # fmt: skip
    assert who.output is not None
    assert who.output["baseinfo"]["psn_name"] == "张三丰"
    assert str(who.output["insuinfo"][0]["balc"]) == "3200.00"
    asked = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": EMPLOYEE}}
    wrong = _call(api, _env("1101", "Q2", asked), "other")
    assert wrong.infcode == -1
    assert "not this key's hospital" in (wrong.err_msg or "")
    r = api.client.post("/nhsa", content=_env("1101", "Q3", {}))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    nope = _call(api, _env("9999", "Q4", {}))
    assert nope.infcode == -1
    assert _call(api, "{not json").infcode == -1
    assert _call(api, _env("2501", "Q5", {"refmedin": {"psn_no": EMPLOYEE}})).infcode == -1
