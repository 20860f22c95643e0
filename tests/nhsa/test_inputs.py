"""Input decoders, with the quirks of real messages (DOMAIN.md "Real messages seen")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from yibao.adapters import nhsa
from yibao.adapters.nhsa import DECODERS, decode, loads, parse_request
from yibao.adapters.nhsa.fields import CST
from yibao.adapters.nhsa.inputs import decode_2401, decode_2402, decode_5206
from yibao.adapters.nhsa.records import (
    Admission,
    AdmissionCancel,
    Compensate,
    CumulativeQuery,
    Discharge,
    PersonQuery,
    ReversalRequest,
    SettlementRequest,
    SignInRequest,
    SignOutRequest,
    TransferCancel,
    TransferFiling,
)
from yibao.adapters.nhsa.statements import decode_3202_details
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.reconcile import DetailRow, Totals


def _env(infno: str, input_text: str) -> nhsa.RequestEnvelope:
    return parse_request(
        f'{{"infno": "{infno}", "msgid": "M1", "fixmedins_code": "H1", "input": {input_text}}}'
    )


def test_1101() -> None:
    got = decode(
        _env(
            "1101",
            '{"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": '
            '"500102198001011234", "psn_cert_type": "01", "begntime": '
            '"2020-02-10 08:00:00", "card_sn": "", "x_local": 1}}',
        )
    )
    assert got.record == PersonQuery(
        "02",
        "500102198001011234",
        None,
        None,
        "01",
        None,
        None,
        dt.datetime(2020, 2, 10, 8, tzinfo=CST),
    )
    assert got.unknown == ("input.data.x_local",)


ADMISSION = {
    "mdtrtinfo": {
        "psn_no": "P1",
        "insutype": 390,
        "begntime": "2020-01-25 10:00:00",
        "med_type": "2101",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": "5001",
        "ipt_no": "Z9",
        "adm_dept_codg": "D1",
        "adm_bed": "12",
        "atddr_no": "DR1",
        "insuplc_admdvs": "500102",
        "mdtrtarea_admvs": "500102",
        "tel": "138",
        "coner_name": "李四",
    },
    "diseinfo": {
        "psn_no": "P1",
        "diag_type": "1",
        "maindiag_flag": "1",
        "diag_srt_no": "1",
        "diag_code": "B99.900",
        "diag_name": "新型冠状病毒感染的肺炎",
        "diag_time": "2020-01-25 10:00:00",
        "adm_cond": "1",
    },
}


def test_2401_with_diseinfo_as_an_object_or_a_list() -> None:
    one = decode_2401(ADMISSION)
    a = one.record
    assert isinstance(a, Admission)
    assert (a.scheme_code, a.scheme, a.med_type) == ("390", "resident", "2101")
    assert a.admit_time == dt.datetime(2020, 1, 25, 10, tzinfo=CST)
    assert [(d.code, d.main, d.seq) for d in a.diagnoses] == [("B99.900", True, 1)]
    assert one.unknown == ()
    listed = decode_2401({**ADMISSION, "diseinfo": [ADMISSION["diseinfo"]] * 2})
    assert len(listed.record.diagnoses) == 2
    none = decode_2401({"mdtrtinfo": ADMISSION["mdtrtinfo"], "diseinfo": None})
    assert none.record.diagnoses == ()
    local = decode_2401({**ADMISSION, "mdtrtinfo": {**ADMISSION["mdtrtinfo"], "insutype": 39999}})
    assert (local.record.scheme_code, local.record.scheme) == ("39999", None)


def test_2401_refusals_name_the_national_path() -> None:
    bad: dict[str, Any] = {**ADMISSION, "mdtrtinfo": {**ADMISSION["mdtrtinfo"], "begntime": "x"}}
    bad["diseinfo"] = {**ADMISSION["diseinfo"], "maindiag_flag": "maybe"}
    with pytest.raises(InvalidRequest) as exc:
        decode_2401(bad)
    assert [p for p, _ in exc.value.problems] == [
        "input.mdtrtinfo.begntime",
        "input.diseinfo[0].maindiag_flag",
    ]


def test_2402_discharge() -> None:
    got = decode_2402(
        {
            "dscginfo": {
                "mdtrt_id": "M1",
                "psn_no": "P1",
                "insutype": "310",
                "endtime": "2020-02-10",
                "dscg_way": "1",
                "dscg_bed": "3",
            },
            "diseinfo": [{"diag_code": "U07.100x001", "maindiag_flag": 0}],
        }
    )
    d = got.record
    assert isinstance(d, Discharge)
    assert d.discharge_time == dt.datetime(2020, 2, 10, tzinfo=CST)
    assert d.diagnoses[0].main is False


def test_small_transactions() -> None:
    assert decode(
        _env("2404", '{"data": {"mdtrt_id": "M1", "psn_no": "P1"}}')
    ).record == AdmissionCancel("M1", "P1")
    assert decode(
        _env("2305", '{"data": {"mdtrt_id": "M1", "setl_id": "S1", "psn_no": "P1"}}')
    ).record == ReversalRequest("M1", "S1", "P1")
    got = decode(
        _env(
            "2601", '{"data": {"psn_no": "P1", "omsgid": "H1202002100930050001", "oinfno": "2304"}}'
        )
    )
    assert got.record == Compensate("P1", "H1202002100930050001", "2304")
    assert decode(
        _env("5206", '{"data": {"psn_no": "P1", "cum_ym": "202002"}}')
    ).record == CumulativeQuery("P1", 2020, 2)
    with pytest.raises(InvalidRequest, match="cum_ym"):
        decode_5206({"data": {"psn_no": "P1", "cum_ym": "202013"}})
    with pytest.raises(InvalidRequest, match="oinfno"):
        decode(_env("2601", '{"data": {"psn_no": "P1", "omsgid": "M", "oinfno": "23"}}'))


def test_2303_and_2304() -> None:
    text = (
        '{"data": {"psn_no": "P1", "mdtrt_id": "M1", "medfee_sumamt": 3498.00, '
        '"acct_used_flag": "0", "insutype": "310", "mdtrt_cert_type": "02", '
        '"mdtrt_cert_no": "5001", "psn_setlway": "01", "mid_setl_flag": 0, '
        '"fulamt_ownpay_amt": 198, "invono": ""}}'
    )
    pre = decode(_env("2303", text)).record
    assert isinstance(pre, SettlementRequest)
    assert (pre.pre, pre.medfee_sumamt, pre.acct_used, pre.scheme) == (
        True,
        349800,
        False,
        "employee",
    )
    assert pre.invoice_no is None
    final = decode(_env("2304", text.replace('"acct_used_flag": "0"', '"acct_used_flag": 1')))
    assert (final.record.pre, final.record.acct_used, final.unknown) == (False, True, ())
    with pytest.raises(InvalidRequest, match="more than 2 decimals"):
        decode(_env("2304", text.replace("3498.00", "3498.001")))
    with pytest.raises(InvalidRequest, match="may not be negative"):
        decode(_env("2304", text.replace("3498.00", "-1")))


def test_2501_transfer_filing() -> None:
    got = decode(
        _env(
            "2501",
            '{"refmedin": {"psn_no": "P1", "insutype": "390", '
            '"reflin_medins_no": "H2", "refl_date": "2020-02-01", '
            '"begndate": "2020-02-01", "enddate": "", "tel": "1"}}',
        )
    )
    r = got.record
    assert isinstance(r, TransferFiling)
    assert (r.to_provider_code, r.transfer_date, r.valid_to) == ("H2", dt.date(2020, 2, 1), None)


def test_3201_and_3202() -> None:
    text = (
        '{"data": {"insutype": "390", "clr_type": "21", "setl_optins": "500102", '
        '"stmt_begndate": "2020-02-01", "stmt_enddate": "2020-02-29", '
        '"medfee_sumamt": 78400.00, "fund_pay_sumamt": 70291.60, "acct_pay": 0, '
        '"fixmedins_setl_cnt": 1, "refd_setl_flag": "0"}}'
    )
    got = decode(_env("3201", text)).record
    assert got.declared == Totals(7840000, 7029160, 0, 0, 1)
    assert (got.scheme, got.clr_type, got.begin) == ("resident", "21", dt.date(2020, 2, 1))
    detail = decode(_env("3202", text.replace('"acct_pay": 0', '"cash_payamt": 12.5')))
    assert detail.record.declared == Totals(7840000, 7029160, 0, 1250, 1)
    with pytest.raises(InvalidRequest, match="ends before"):
        decode(_env("3201", text.replace("2020-02-29", "2020-01-31")))


def test_3202_detail_rows() -> None:
    rows = loads(
        '[{"psn_no": "P1", "mdtrt_id": "M1", "setl_id": "S1", "msgid": "X", '
        '"medfee_sumamt": 10.00, "fund_pay_sumamt": 8, "acct_pay": "", '
        '"refd_setl_flag": "1", "memo": null, "zz": 0}]'
    )
    got = decode_3202_details(rows)
    assert got.record == (DetailRow("S1", "M1", "P1", True, 1000, 800, 0),)
    assert got.unknown == ("file.rows[0].zz",)


def test_unsupported_infno() -> None:
    assert {"1101", "2301", "2302", "2303", "2304", "2305", "2401", "2402", "2404", "2501",
            "2502", "2601", "3201", "3202", "5206", "9001", "9002"} <= set(DECODERS)  # fmt: skip
    for infno in ("9999", "4101B"):  # any text: "not supported", never a pattern error
        with pytest.raises(InvalidRequest, match=f"{infno} is not supported"):
            decode(_env(infno, "{}"))


def test_9001_and_9002() -> None:
    got = decode(_env("9001", '{"signIn": {"opter_no": "001", "mac": "", "ip": "10.0.0.1"}}'))
    assert got.record == SignInRequest("001", None, "10.0.0.1")
    out = decode(_env("9002", '{"signOut": {"sign_no": "S1", "opter_no": "001"}}'))
    assert out.record == SignOutRequest("S1", "001")
    with pytest.raises(InvalidRequest, match=r"input\.signIn\.opter_no"):
        decode(_env("9001", '{"signIn": {"mac": "x"}}'))


def test_2502_transfer_cancel() -> None:
    got = decode(_env("2502", '{"data": {"psn_no": "P1", "trt_dcla_detl_sn": "TF1", "memo": ""}}'))
    assert got.record == TransferCancel("P1", "TF1", None)
    with pytest.raises(InvalidRequest, match="trt_dcla_detl_sn"):
        decode(_env("2502", '{"data": {"psn_no": "P1"}}'))
