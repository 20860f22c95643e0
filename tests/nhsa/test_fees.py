"""2301/2302: exact fee lines, refused (never rounded) when they do not fit, by sn."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.settled import case
from yibao.adapters.nhsa import dumps, loads
from yibao.adapters.nhsa.fees import decode_2301, decode_2302, fee_results
from yibao.adapters.nhsa.numbers import fen_text, scaled
from yibao.adapters.nhsa.records import FeeCancel
from yibao.core.engine.model import MAX_PRICE_FEN, MAX_QTY_MILLI
from yibao.core.errors import InvalidRequest
from yibao.core.money import line_amount


def _line(sn: str = "1", **kw: Any) -> dict[str, Any]:
    line = {
        "feedetl_sn": sn,
        "init_feedetl_sn": "",
        "mdtrt_id": "M1",
        "psn_no": "P1",
        "med_type": "21",
        "fee_ocur_time": "2020-02-01 10:00:00",
        "med_list_codg": "XJ01",
        "medins_list_codg": "HIS01",
        "det_item_fee_sumamt": "24.69",
        "cnt": "2.0000",
        "pric": "12.345000",
        "bilg_dept_codg": "D1",
        "bilg_dr_codg": "DR1",
        "hosp_appr_flag": "0",
    }
    line.update(kw)
    return line


def _refused(*lines: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as exc:
        decode_2301({"feedetail": list(lines)})
    return exc.value.problems


def test_a_line_in_our_units() -> None:
    got = decode_2301(
        loads(
            dumps(
                {
                    "feedetail": [
                        _line(pric=loads("12.34"), cnt=2, det_item_fee_sumamt=loads("24.68"))
                    ]
                }
            )
        )
    )
    (line,) = got.record
    assert (line.sn, line.price_fen, line.qty_milli, line.amount_fen) == ("1", 1234, 2000, 2468)
    assert (line.code, line.hospital_code, line.reverses_sn, line.refund) == (
        "XJ01",
        "HIS01",
        None,
        False,
    )
    assert line.med_type == "21"
    assert got.unknown == ()


def test_one_object_instead_of_a_list_and_unknown_fields() -> None:
    got = decode_2301(
        {"feedetail": _line(pric="1.5", cnt="0.333", det_item_fee_sumamt="0.50", hifdm_flag="1")}
    )
    assert got.record[0].amount_fen == line_amount(150, 333) == 50
    assert got.unknown == ("input.feedetail.0.hifdm_flag",)


def test_a_refund_line() -> None:
    (line,) = decode_2301(
        {
            "feedetail": [
                _line(
                    "2", init_feedetl_sn="1", pric="12.34", cnt="-2", det_item_fee_sumamt="-24.68"
                )
            ]
        }
    ).record
    assert (line.refund, line.reverses_sn, line.qty_milli, line.amount_fen) == (
        True,
        "1",
        -2000,
        -2468,
    )


def test_lines_finer_than_our_units_are_refused_by_sn() -> None:
    problems = _refused(
        _line("A7"), _line("A8", pric="12.34", cnt="0.0005", det_item_fee_sumamt="0.01")
    )
    assert problems == [
        (
            "input.feedetail.0.pric",
            "feedetl_sn A7: pric 12.345000 is not a whole number of fen; "
            "yibao refuses it, never rounds",
        ),
        (
            "input.feedetail.1.cnt",
            "feedetl_sn A8: cnt 0.0005 has ten-thousandths; yibao counts in thousandths and "
            "refuses it, never rounds",
        ),
    ]


def test_amount_mismatch_is_refused_by_sn() -> None:
    problems = _refused(_line("9", pric="1.5", cnt="0.333", det_item_fee_sumamt="0.49"))
    assert problems == [
        (
            "input.feedetail.0.det_item_fee_sumamt",
            "feedetl_sn 9: det_item_fee_sumamt 0.49 is not pric × cnt = 0.50 (rounded half up)",
        )
    ]


def test_other_refusals() -> None:
    assert "pric may not be negative" in _refused(_line(pric="-1", det_item_fee_sumamt="-2"))[0][1]
    big = fen_text((MAX_PRICE_FEN + 1) * 10_000, 6)
    assert "too large" in _refused(_line(pric=big))[0][1]
    assert "too large" in _refused(_line(pric="1", cnt=MAX_QTY_MILLI // 1000 + 1))[0][1]
    dup = _refused(
        _line("5", pric="1", cnt=1, det_item_fee_sumamt=1),
        _line("5", pric="1", cnt=1, det_item_fee_sumamt=1),
    )
    assert dup == [("input.feedetail.1.feedetl_sn", "feedetl_sn 5 appears twice in the upload")]
    schema = _refused(_line("7", med_list_codg=None), _line("", pric="x"), "oops")  # type: ignore[arg-type]
    assert schema[0] == (
        "input.feedetail.0.med_list_codg",
        "feedetl_sn 7: Input should be a valid string",
    )
    assert schema[1][1].startswith("feedetl_sn #2 (no feedetl_sn): ")
    assert schema[-1][1].startswith("feedetl_sn #3 (no feedetl_sn): ")
    with pytest.raises(InvalidRequest) as exc:
        decode_2301({"feedetail": "none"})
    assert exc.value.problems[0][0] == "input.feedetail"


@given(st.integers(0, 10**9 * 10_000), st.integers(-(10**6), 10**6))
def test_acceptance_exactly_when_representable(pric_micro: int, cnt_e4: int) -> None:
    fits = pric_micro % 10_000 == 0 and cnt_e4 % 10 == 0
    price, qty = pric_micro // 10_000, cnt_e4 // 10
    amount = line_amount(price, abs(qty)) * (-1 if qty < 0 else 1) if fits else 0
    line = _line(
        pric=fen_text(pric_micro, 6),
        cnt=fen_text(cnt_e4, 4),
        det_item_fee_sumamt=fen_text(amount, 2),
    )
    if not fits:
        problems = _refused(line)
        assert all("feedetl_sn 1:" in msg for _, msg in problems)
        return
    (got,) = decode_2301({"feedetail": [line]}).record
    assert (got.price_fen * 10_000, got.qty_milli * 10, got.amount_fen) == (
        pric_micro,
        cnt_e4,
        amount,
    )


def test_2302() -> None:
    one = decode_2302({"data": {"feedetl_sn": "7", "mdtrt_id": "M1", "psn_no": "P1"}})
    assert one.record == FeeCancel("M1", "P1", "7")
    every = decode_2302({"data": {"feedetl_sn": "0000", "mdtrt_id": "M1"}})
    assert every.record == FeeCancel("M1", None, None)


@pytest.mark.parametrize(
    "name", ["employee-classes-a-b-c", "price-cap-overlimit", "covid-confirmed-designated-employee"]
)
def test_2301_result_rows(name: str) -> None:
    req, _, s = case(name)
    out = loads(dumps(fee_results(req.lines, s.lines)))
    for row, line, r in zip(out["result"], req.lines, s.lines, strict=True):
        assert row["feedetl_sn"] == line.sn
        for f in (
            "det_item_fee_sumamt",
            "fulamt_ownpay_amt",
            "overlmt_amt",
            "preselfpay_amt",
            "inscp_scp_amt",
        ):
            assert scaled(row[f], 2) == getattr(r, f)
        assert scaled(row["pric"], 6) == line.price_fen * 10_000
        assert scaled(row["cnt"], 4) == line.qty_milli * 10
        assert row["chrgitm_lv"] == r.chrgitm_lv
        want = {"01": 0, "03": 10000}.get(r.chrgitm_lv, line.selfpay_bp)
        if s.covid and (line.in_protocol or line.temp_code):
            want = 0
        assert scaled(row["selfpay_prop"], 4) == want
        cap = row["pric_uplmt_amt"]
        assert (cap is None) == (line.price_cap_fen is None)
        assert row["lmt_used_flag"] is None


def test_2301_result_rows_with_catalog_data() -> None:
    req, _, s = case("employee-classes-a-b-c")
    sn = req.lines[0].sn
    rows = fee_results(req.lines, s.lines, chrgitm_types={sn: "11"}, restricted={sn: True})
    assert (rows["result"][0]["med_chrgitm_type"], rows["result"][0]["lmt_used_flag"]) == (
        "11",
        "1",
    )
    other = fee_results(req.lines, s.lines, restricted={sn: False})["result"]
    assert other[0]["lmt_used_flag"] == "0"
    with pytest.raises(ValueError, match="paired"):
        fee_results(req.lines[:1], s.lines[1:2])
