"""2301/2302: exact fee lines — pric and cnt are price_e6 and qty_e4, 1:1 — refused
(never rounded) when they do not fit, by sn."""

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
from yibao.core.errors import InvalidRequest
from yibao.core.money import MAX_I64, line_amount


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
    assert (line.sn, line.price_e6, line.qty_e4, line.amount_fen) == (
        "1",
        12_340_000,
        20_000,
        2468,
    )
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
    (line,) = got.record
    assert (line.price_e6, line.qty_e4) == (1_500_000, 3330)
    assert line.amount_fen == line_amount(1_500_000, 3330) == 50
    assert got.unknown == ("input.feedetail[0].hifdm_flag",)


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
    assert (line.refund, line.reverses_sn, line.qty_e4, line.amount_fen) == (
        True,
        "1",
        -20_000,
        -2468,
    )


def test_a_sub_fen_tablet_line_is_taken_exactly() -> None:
    # 0.0583 yuan a tablet, 42 tablets: 2.4486 yuan, 2.45 to the fen (half up)
    for pric, cnt in (("0.0583", "42.0000"), (loads("0.0583"), loads("42.0000")), ("0.058300", 42)):
        (line,) = decode_2301(
            {"feedetail": [_line(pric=pric, cnt=cnt, det_item_fee_sumamt="2.45")]}
        ).record
        assert (line.price_e6, line.qty_e4, line.amount_fen) == (58_300, 420_000, 245)


def test_a_refund_with_a_fractional_cnt() -> None:
    # -10.5 tablets at 0.0583: -0.61215 yuan -> -0.61 (half up on the magnitude)
    refund = _line("3", init_feedetl_sn="1", pric="0.0583", cnt="-10.5000")
    (line,) = decode_2301({"feedetail": [{**refund, "det_item_fee_sumamt": "-0.61"}]}).record
    assert (line.refund, line.qty_e4, line.amount_fen) == (True, -105_000, -61)
    wrong = _refused({**refund, "det_item_fee_sumamt": "-0.62"})
    assert [p for p, _ in wrong] == ["input.feedetail[0].det_item_fee_sumamt"]


@pytest.mark.parametrize("pric", ["0.0000001", loads("0.0000001"), loads("1E-7"), "12.3456789"])
def test_a_pric_with_more_than_six_decimals_is_refused(pric: object) -> None:
    (problem,) = _refused(_line("A7", pric=pric))
    assert problem[0] == "input.feedetail[0].pric"
    assert problem[1].startswith("feedetl_sn A7: pric ")
    assert "has more than 6 decimals" in problem[1]
    assert "never rounds" in problem[1]


def test_a_cnt_with_more_than_four_decimals_is_refused() -> None:
    problems = _refused(
        _line("A7"), _line("A8", pric="12.34", cnt="0.00005", det_item_fee_sumamt="0.00")
    )
    assert problems == [
        (
            "input.feedetail[1].cnt",
            "feedetl_sn A8: cnt 0.00005 has more than 4 decimals (cnt is exact to 10^-4); "
            "yibao refuses it, never rounds",
        )
    ]
    # trailing zeros are not decimals
    (line,) = decode_2301({"feedetail": [_line(cnt="2.000000")]}).record
    assert line.qty_e4 == 20_000


def test_amount_mismatch_is_refused_by_sn() -> None:
    problems = _refused(_line("9", pric="1.5", cnt="0.333", det_item_fee_sumamt="0.49"))
    assert problems == [
        (
            "input.feedetail[0].det_item_fee_sumamt",
            "feedetl_sn 9: det_item_fee_sumamt 0.49 is not pric × cnt = 0.50 "
            "(rounded half up to the fen)",
        )
    ]
    tablet = _refused(_line("T", pric="0.0583", cnt="42", det_item_fee_sumamt="2.44"))
    assert tablet == [
        (
            "input.feedetail[0].det_item_fee_sumamt",
            "feedetl_sn T: det_item_fee_sumamt 2.44 is not pric × cnt = 2.45 "
            "(rounded half up to the fen)",
        )
    ]


def test_other_refusals() -> None:
    assert "pric may not be negative" in _refused(_line(pric="-1", det_item_fee_sumamt="-2"))[0][1]
    big = fen_text(MAX_I64 + 1, 6)
    assert _refused(_line(pric=big))[0] == (
        "input.feedetail[0].pric",
        f"feedetl_sn 1: pric {big} is too large",
    )
    many = fen_text(-(MAX_I64 + 1), 4)
    assert _refused(_line(pric="1", cnt=many))[0] == (
        "input.feedetail[0].cnt",
        f"feedetl_sn 1: cnt {many} is too large",
    )
    # each fits, the product does not: 1,000,000 yuan × 10,000,000 units
    product = _refused(_line(pric="1000000", cnt="10000000", det_item_fee_sumamt="1"))
    assert [p for p, _ in product] == ["input.feedetail[0].cnt"]
    assert "pric × cnt = 1000000.000000 × 10000000.0000 is too large" in product[0][1]
    # at the bound exactly it fits: price_e6 × qty_e4 = 2^63 − 1 (a prime times 1 unit)
    top = fen_text(MAX_I64, 6)
    amount = fen_text(line_amount(MAX_I64, 1), 2)
    at_bound = _line(pric=top, cnt="0.0001", det_item_fee_sumamt=amount)
    (line,) = decode_2301({"feedetail": [at_bound]}).record
    assert (line.price_e6, line.qty_e4) == (MAX_I64, 1)
    dup = _refused(
        _line("5", pric="1", cnt=1, det_item_fee_sumamt=1),
        _line("5", pric="1", cnt=1, det_item_fee_sumamt=1),
    )
    assert dup == [("input.feedetail[1].feedetl_sn", "feedetl_sn 5 appears twice in the upload")]
    schema = _refused(_line("7", med_list_codg=None), _line("", pric="x"), "oops")  # type: ignore[arg-type]
    assert schema[0] == (
        "input.feedetail[0].med_list_codg",
        "feedetl_sn 7: Input should be a valid string",
    )
    assert schema[1][1].startswith("feedetl_sn #2 (no feedetl_sn): ")
    assert schema[-1][1].startswith("feedetl_sn #3 (no feedetl_sn): ")
    with pytest.raises(InvalidRequest) as exc:
        decode_2301({"feedetail": "none"})
    assert exc.value.problems[0][0] == "input.feedetail"


@given(st.integers(0, 10**13), st.integers(-(10**9), 10**9), st.booleans(), st.booleans())
def test_every_pric_and_cnt_is_taken_exactly(
    price_e6: int, qty_e4: int, finer_price: bool, finer_qty: bool
) -> None:
    # pric and cnt map 1:1 to price_e6 and qty_e4; one more decimal is refused by path,
    # and so is a line whose product passes 2^63 − 1
    amount = line_amount(price_e6, abs(qty_e4)) * (-1 if qty_e4 < 0 else 1)
    pric = fen_text(price_e6, 6) + ("1" if finer_price else "")
    cnt = fen_text(qty_e4, 4) + ("7" if finer_qty else "")
    line = _line(pric=pric, cnt=cnt, det_item_fee_sumamt=fen_text(amount, 2))
    if not (finer_price or finer_qty) and price_e6 * abs(qty_e4) > MAX_I64:
        assert [p for p, _ in _refused(line)] == ["input.feedetail[0].cnt"]
        return
    if finer_price or finer_qty:
        problems = _refused(line)
        finer = {"cnt": finer_qty, "pric": finer_price}
        want = [f"input.feedetail[0].{k}" for k, is_finer in finer.items() if is_finer]
        assert sorted(p for p, _ in problems) == want
        assert all("feedetl_sn 1:" in msg for _, msg in problems)
        return
    (got,) = decode_2301(loads(dumps({"feedetail": [line]}))).record
    assert (got.price_e6, got.qty_e4, got.amount_fen) == (price_e6, qty_e4, amount)


def test_2302() -> None:
    one = decode_2302({"data": {"feedetl_sn": "7", "mdtrt_id": "M1", "psn_no": "P1"}})
    assert one.record == (FeeCancel("M1", "P1", "7"),)
    every = decode_2302({"data": {"feedetl_sn": "0000", "mdtrt_id": "M1"}})
    assert every.record == (FeeCancel("M1", None, None),)
    rows = [{"feedetl_sn": "7", "mdtrt_id": "M1"}, {"feedetl_sn": "8", "mdtrt_id": "M1"}]
    assert decode_2302({"data": rows}).record == (FeeCancel("M1", None, "7"),
                                                   FeeCancel("M1", None, "8"))  # fmt: skip
    with pytest.raises(InvalidRequest, match="one mdtrt_id"):
        decode_2302({"data": [*rows, {"feedetl_sn": "9", "mdtrt_id": "M2"}]})
    with pytest.raises(InvalidRequest, match=r"input\.data\[1\]\.feedetl_sn"):
        decode_2302({"data": [rows[0], {"mdtrt_id": "M1"}]})


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
        assert scaled(row["pric"], 6) == line.price_e6
        assert scaled(row["cnt"], 4) == line.qty_e4
        assert len(str(row["pric"]).partition(".")[2]) == 6
        assert len(str(row["cnt"]).partition(".")[2]) == 4
        assert row["chrgitm_lv"] == r.chrgitm_lv
        want = {"01": 0, "03": 10000}.get(r.chrgitm_lv, line.selfpay_bp)
        if s.covid and (line.in_protocol or line.temp_code):
            want = 0
        assert scaled(row["selfpay_prop"], 4) == want
        cap = row["pric_uplmt_amt"]  # a number: the cap, or the line's own pric without one
        assert scaled(cap, 6) == (line.price_e6 if line.price_cap_e6 is None else line.price_cap_e6)
        assert len(str(cap).partition(".")[2]) == 6
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
