"""What the hospital service (issue 6) will do with the two packages, end to end."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.settled import case
from yibao.adapters import nhsa
from yibao.adapters.nhsa import envelope, fees, fields, inputs, numbers, outputs, statements
from yibao.adapters.nhsa.fields import CST
from yibao.core import ledger
from yibao.core.errors import InvalidRequest

RECEIVED = dt.datetime(2020, 2, 10, 12, 0, 0, 250000, tzinfo=CST)
DONE = RECEIVED + dt.timedelta(milliseconds=40)


def test_public_api_is_pinned() -> None:
    assert sorted(nhsa.__all__) == sorted([
        "DECODERS", "Decoded", "JsonNumber", "RequestEnvelope", "ResponseEnvelope",
        "cumulative_output", "decode", "detail_result_rows", "dumps", "err_msg_of",
        "error_response", "fee_results", "inf_refmsgid", "loads", "parse_request",
        "parse_response", "ratio", "read_settlement_output", "settlement_output",
        "statement_output", "success_response", "time17", "yuan",
    ])  # fmt: skip
    for module in (envelope, fees, fields, inputs, numbers, outputs, statements):
        assert all(hasattr(module, name) for name in module.__all__)


def test_2304_from_body_to_answer() -> None:
    req, _, s = case("covid-confirmed-designated-employee")
    body = (
        '{"infno": "2304", "msgid": "H50010200001202002101200000001", "fixmedins_code": '
        '"H50010200001", "inf_time": "2020-02-10 12:00:00", "input": {"data": {"psn_no": "'
        + s.insuree_id
        + '", "mdtrt_id": "'
        + s.encounter_id
        + '", "medfee_sumamt": 3498.00, '
        '"acct_used_flag": "0", "insutype": "310"}}}'
    )
    env = nhsa.parse_request(body)
    asked = nhsa.decode(env).record
    assert asked.medfee_sumamt == s.setlinfo.medfee_sumamt  # the hospital's total agrees
    # ... the service settles (engine), then books the settlement:
    tx = ledger.postings_for(s, tx_id="SETL1", provider_code=env.fixmedins_code,
                             booked_on=RECEIVED.date(), accumulator_year=2020,
                             central_share_bp=6000, clr_type="21")  # fmt: skip
    assert ledger.transaction_problems(tx) == []
    out = nhsa.settlement_output(s, setl_id="SETL1", msgid=env.msgid, setl_time=RECEIVED,
                                 med_type=req.encounter.med_type, clr_type="21")  # fmt: skip
    text = nhsa.dumps(nhsa.success_response(out, region="500102", serial=1,
                                            received_at=RECEIVED, responded_at=DONE))  # fmt: skip
    answer = nhsa.parse_response(text)
    assert answer.ok
    assert answer.output is not None
    got = nhsa.read_settlement_output(answer.output).record
    assert got.amounts["fund_pay_sumamt"] == ledger.posted_amounts(tx).fund_pay_sumamt
    assert got.amounts["covid_fiscal_pay"] == ledger.posted_amounts(tx).fiscal_pay
    assert got.amounts["psn_cash_pay"] == 0


def test_a_refused_upload_answers_infcode_minus_one() -> None:
    # three good lines (a sub-fen tablet price among them), the fourth's pric has 7 decimals
    good = ('{"feedetl_sn": "%s", "mdtrt_id": "M1", "med_list_codg": "X", '
            '"det_item_fee_sumamt": 2.45, "cnt": 42.0000, "pric": 0.0583}')  # fmt: skip
    body = ('{"infno": "2301", "msgid": "M1", "fixmedins_code": "H1", "input": {"feedetail": ['
            + ", ".join(good % sn for sn in ("85", "86", "87"))
            + ', {"feedetl_sn": "88", "mdtrt_id": "M1", "med_list_codg": "X", '
            '"det_item_fee_sumamt": 1.23, "cnt": 1, "pric": 1.2345678}]}}')  # fmt: skip
    with pytest.raises(InvalidRequest) as exc:
        nhsa.decode(nhsa.parse_request(body))
    answer = nhsa.error_response(exc.value, region="500102", serial=2, received_at=RECEIVED,
                                 responded_at=DONE)  # fmt: skip
    parsed = nhsa.parse_response(nhsa.dumps(answer))
    assert parsed.infcode == -1
    assert parsed.err_msg == (
        "input.feedetail[3].pric: feedetl_sn 88: pric 1.2345678 has more than 6 decimals "
        "(pric is exact to 10^-6 yuan); yibao refuses it, never rounds"
    )
