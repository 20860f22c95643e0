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


LPV = "XL04AXX999T000000000001"  # 洛匹那韦利托那韦片, a 丙类 drug of the example catalog
FEES = [("1", "YP-0002", "100.00", "2", "50"), ("2", "ZL-0001", "45.00", "3", "15.00"),
        ("3", "HC-0001", "600.00", "2.5", "240")]  # fmt: skip


def _upload_body(mid: str, msgid: str, fees: Any, reverses: str | None = None) -> str:
    """A 2301 body; pric, cnt and the amount go as bare JSON numbers, exactly as written."""
    rows = [{"feedetl_sn": sn, "mdtrt_id": mid, "med_list_codg": code, "det_item_fee_sumamt":
             nhsa.JsonNumber(amt), "cnt": nhsa.JsonNumber(cnt), "pric": nhsa.JsonNumber(pric),
             "fee_ocur_time": "2020-02-04 08:00:00", "init_feedetl_sn": reverses}
            for sn, code, amt, cnt, pric in fees]  # fmt: skip
    return nhsa.dumps({"infno": "2301", "msgid": msgid, "fixmedins_code": CENTRE,
                       "input": {"feedetail": rows}})  # fmt: skip


def _upload(
    api: Api, mid: str, msgid: str = "F1", fees: Any = FEES, reverses: str | None = None
) -> nhsa.ResponseEnvelope:
    return _call(api, _upload_body(mid, msgid, fees, reverses))


def test_the_envelope_lifecycle_in_exact_yuan(api: Api) -> None:
    mid = _admit(api)
    up = _upload(api, mid)
    assert up.ok, up.err_msg
    assert up.output is not None
    first = up.output["result"][0]
    assert (first["feedetl_sn"], first["chrgitm_lv"]) == ("1", "03")
    # the echo: pric with 6 decimals, cnt with 4, the cap from the catalog's price_cap_e6
    echo = [(str(r["pric"]), str(r["cnt"]), r["pric_uplmt_amt"]) for r in up.output["result"]]
    assert [(p, c, str(cap)) for p, c, cap in echo] == [
        ("50.000000", "2.0000", "50.000000"),  # no cap: the line's own pric
        ("15.000000", "3.0000", "15.000000"),
        ("240.000000", "2.5000", "300.000000"),
    ]
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
    bad = _upload(api, mid, "F9", [*FEES, ("4", "ZL-0001", "15.00", "1", "15.0000001")])
    assert bad.infcode == -1
    assert (bad.err_msg or "").startswith("input.feedetail[3].pric: feedetl_sn 4: pric 15.0000001 "
                                          "has more than 6 decimals")  # fmt: skip
    assert "never rounds" in (bad.err_msg or "")
    finer = _upload(api, mid, "F11", [("6", "YP-0002", "2.45", "42.00001", "0.0583")])
    assert finer.infcode == -1
    assert (finer.err_msg or "").startswith("input.feedetail[0].cnt: feedetl_sn 6: cnt 42.00001 "
                                            "has more than 4 decimals")  # fmt: skip
    wrong = _upload(api, mid, "F12", [("7", "YP-0002", "2.44", "42", "0.0583")])
    assert wrong.infcode == -1
    assert wrong.err_msg == ("input.feedetail[0].det_item_fee_sumamt: feedetl_sn 7: "
                             "det_item_fee_sumamt 2.44 is not pric × cnt = 2.45 "
                             "(rounded half up to the fen)")  # fmt: skip
    unknown = _upload(api, mid, "F10", [("5", "NOPE-1", "1.00", "1", "1")])
    assert unknown.infcode == -1
    assert "feedetl_sn 5" in (unknown.err_msg or "")
    assert api.counts() == before


def test_a_sub_fen_tablet_line_goes_through_2301_to_2304(api: Api) -> None:
    mid = _admit(api)
    # 0.0583 yuan a tablet × 42 = 2.4486 yuan: 2.45 to the fen (half up)
    # med_list_codg the national code of YP-0002 (克力芝), the one its refund names
    tablets = [("1", LPV, "2.45", "42.0000", "0.0583"), ("2", "ZL-0001", "15.00", "1", "15")]
    r = api.client.post("/nhsa", content=_upload_body(mid, "F1", tablets), headers=api.h())
    assert '"pric":0.058300,' in r.text
    assert '"cnt":42.0000,' in r.text
    up = nhsa.parse_response(r.text)
    assert up.ok, up.err_msg
    assert up.output is not None
    assert str(up.output["result"][0]["det_item_fee_sumamt"]) == "2.45"
    # a refund of 10.5 tablets: -0.61215 yuan -> -0.61
    back = _upload(api, mid, "F2", [("3", LPV, "-0.61", "-10.5", "0.0583")], reverses="1")
    assert back.ok, back.err_msg
    assert back.output is not None
    row = back.output["result"][0]
    assert (str(row["cnt"]), str(row["pric"]), str(row["det_item_fee_sumamt"])) == (
        "-10.5000",
        "0.058300",
        "-0.61",
    )
    # 31.5 tablets stand: 1.83645 yuan -> 1.84; with the other line 16.84
    pre = _call(api, _env("2303", "P1", {"data": {"psn_no": DIBAO, "mdtrt_id": mid,
                                                   "medfee_sumamt": 16.84}}))  # fmt: skip
    assert pre.ok, pre.err_msg
    done = api.client.post("/nhsa", content=_env("2304", "S1", {"data": {
        "psn_no": DIBAO, "mdtrt_id": mid, "medfee_sumamt": 16.84}}), headers=api.h())  # fmt: skip
    assert '"medfee_sumamt":16.84' in done.text
    ans = nhsa.parse_response(done.text)
    assert ans.ok, ans.err_msg
    assert ans.output is not None
    a = nhsa.read_settlement_output(ans.output).record.amounts
    assert a["medfee_sumamt"] == 1684
    assert a["fund_pay_sumamt"] + a["psn_part_amt"] == a["medfee_sumamt"]
    assert a["psn_part_amt"] == a["acct_pay"] + a["psn_cash_pay"] + a["covid_fiscal_pay"]


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
    with api.uow:
        audit = api.uow.hospital.audit_entries(entity=None, entity_id=None, limit=10_000)
    reads = [e for e in audit if e.action == "personal.read" and "/nhsa 1101" in str(e.detail)]
    assert len(reads) == 1  # Q1 showed a person; Q2 was refused, Q3 had no key
    assert EMPLOYEE not in str(reads[0].entity_id)  # masked
    refused = [e for e in audit if e.action == "access.refused" and e.entity == "nhsa"]
    assert len(refused) == 1  # Q2: another hospital's key, 403 inside the envelope
    nope = _call(api, _env("9999", "Q4", {}))
    assert nope.infcode == -1
    assert _call(api, "{not json").infcode == -1
    assert _call(api, _env("2501", "Q5", {"refmedin": {"psn_no": EMPLOYEE}})).infcode == -1
