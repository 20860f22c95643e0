"""Encoders on the public golden settlements, read back exactly; 5206, 3201/3202."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.settled import SETTLED_CASES, settled
from tests.unit.test_ledger import post_it
from yibao.adapters.nhsa import (
    cumulative_output,
    detail_result_rows,
    dumps,
    loads,
    read_settlement_output,
    settlement_output,
    statement_output,
)
from yibao.adapters.nhsa.fields import CST
from yibao.adapters.nhsa.numbers import scaled
from yibao.adapters.nhsa.outputs import SETL_PROC_INFO_MAX, setl_proc_info
from yibao.core.engine.model import SETLINFO_FIELDS
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.journal import reversal_of
from yibao.core.ledger.post import paid_by_fund
from yibao.core.ledger.reconcile import (
    DetailRow,
    Totals,
    compare_details,
    compare_totals,
    detail_rows,
)

MSGID = "H50010200001202002101200000001"
AT = dt.datetime(2020, 2, 10, 12, 0, 0, tzinfo=CST)


def _wire(name: str, **kw: object) -> dict[str, object]:
    out = settlement_output(settled(name), setl_id="S1", msgid=MSGID, setl_time=AT, **kw)
    return loads(dumps(out))  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", SETTLED_CASES)
def test_setlinfo_on_the_wire(name: str) -> None:
    s = settled(name)
    wire = _wire(name, med_type="21", clr_type="21")
    info = wire["setlinfo"]
    assert isinstance(info, dict)
    i = s.setlinfo
    fen = {k: scaled(v, 2) for k, v in info.items() if k in SETLINFO_FIELDS}
    assert fen["fund_pay_sumamt"] == i.fund_pay_sumamt  # the fiscal subsidy is not in it
    assert fen["psn_part_amt"] == i.psn_part_amt == i.medfee_sumamt - i.fund_pay_sumamt
    covid_fiscal = scaled(info["covid_fiscal_pay"], 2)
    assert covid_fiscal == i.fiscal_pay
    assert fen["psn_part_amt"] == fen["acct_pay"] + fen["psn_cash_pay"] + covid_fiscal
    assert scaled(info["pool_prop_selfpay"], 4) == s.ratio_bp  # the ratio, not an amount
    assert "pool_selfpay_amt" not in info
    assert info["medins_setl_id"] == MSGID
    assert info["insutype"] == {"employee": "310", "resident": "390"}.get(s.facts.scheme)
    assert info["setl_time"] == "2020-02-10 12:00:00"
    assert scaled(info["balc"], 2) == s.account_balance_after_fen
    for zero in ("cvlserv_pay", "hifes_pay", "oth_pay", "hosp_part_amt", "acct_mulaid_pay"):
        assert scaled(info[zero], 2) == 0
    back = read_settlement_output(wire).record
    assert {k: back.amounts[k] for k in fen} == fen
    assert back.ratio_bp == s.ratio_bp
    assert back.settlement_id == "S1"
    rows = wire["setldetail"]
    assert isinstance(rows, list)
    assert sum(scaled(r["fund_payamt"], 2) or 0 for r in rows) == i.fund_pay_sumamt + i.acct_pay
    assert all(len(r["setl_proc_info"]) <= SETL_PROC_INFO_MAX for r in rows)
    account = [r for r in rows if r["fund_pay_type"] == "310200"]
    assert len(account) == (1 if i.acct_pay > 0 else 0)  # the account's row whenever it paid


def test_the_account_gets_a_setldetail_row_when_it_paid() -> None:
    s = settled("account-inscope-small-balance")
    assert s.setlinfo.acct_pay > 0
    rows = _wire("account-inscope-small-balance")["setldetail"]
    (acct,) = [r for r in rows if r["fund_pay_type"] == "310200"]  # type: ignore[index,union-attr]
    assert scaled(acct["fund_payamt"], 2) == s.setlinfo.acct_pay
    assert acct["setl_proc_info"].startswith("acct_pay=")


def test_the_fiscal_subsidy_gets_a_row_only_with_a_local_code() -> None:
    s = settled("covid-confirmed-designated-employee")
    assert [r["fund_pay_type"] for r in _wire("covid-confirmed-designated-employee")
            ["setldetail"]] == ["310100", "330100"]  # type: ignore[index]  # fmt: skip
    local = s._replace(facts=s.facts._replace(fiscal_fund_code="500001"))
    rows = settlement_output(local, setl_id="S1", msgid=MSGID, setl_time=AT)["setldetail"]
    fiscal = rows[-1]  # type: ignore[index]
    assert fiscal["fund_pay_type"] == "500001"
    assert fiscal["fund_payamt"] == "1488.60"
    assert fiscal["crt_payb_lmt_amt"] is None
    assert fiscal["setl_proc_info"].startswith("fiscal_pay=1488.60: §5.7 subsidy_scope all")


def test_reversal_output_is_negated() -> None:
    s = settled("account-inscope-small-balance")
    wire = _wire("account-inscope-small-balance", reversal=True,
                 balc_fen=s.account_balance_before_fen)  # fmt: skip
    info = wire["setlinfo"]
    assert scaled(info["medfee_sumamt"], 2) == -s.setlinfo.medfee_sumamt  # type: ignore[index]
    assert scaled(info["acct_pay"], 2) == -s.setlinfo.acct_pay  # type: ignore[index]
    assert scaled(info["balc"], 2) == s.account_balance_before_fen  # type: ignore[index]
    assert scaled(info["pool_prop_selfpay"], 4) == s.ratio_bp  # type: ignore[index]
    assert all((scaled(r["fund_payamt"], 2) or 0) <= 0 for r in wire["setldetail"])  # type: ignore[attr-defined]


def test_setl_proc_info_is_cut_at_4000() -> None:
    s = settled("covid-resident-dibao-all-funds")
    long = s._replace(facts=s.facts._replace(ratio_clause="条" * 5000))
    text = setl_proc_info(long, "390100")
    assert len(text) == SETL_PROC_INFO_MAX
    assert text.endswith("…")


REAL_2304 = """{"setlinfo": {"setl_id": null, "mdtrt_id": "460000000202106291234", "psn_no": "P1",
 "psn_name": "王五", "age": 37.5, "insutype": "390", "medfee_sumamt": 2685.99,
 "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0.00, "preselfpay_amt": 12.5,
 "inscp_scp_amt": 2673.49, "act_pay_dedc": 300, "hifp_pay": 1886.44,
 "pool_prop_selfpay": 0.0000, "hifmi_pay": 0, "hifob_pay": 0, "maf_pay": 0,
 "fund_pay_sumamt": 1886.44, "psn_part_amt": 799.55, "acct_pay": 0, "psn_cash_pay": 799.55,
 "balc": 0, "clr_way": null, "hifdm_pay": 0, "psn_pay": 799.55},
 "setldetail": [{"fund_pay_type": "390100", "fund_pay_type_name": "城乡居民基本医疗保险基金",
 "inscp_scp_amt": 2673.49, "crt_payb_lmt_amt": null, "fund_payamt": "",
 "setl_proc_info": null}]}"""


def test_reading_a_real_platform_answer() -> None:
    got = read_settlement_output(loads(REAL_2304))
    r = got.record
    assert r.settlement_id is None
    assert r.amounts["medfee_sumamt"] == 268599
    assert r.amounts["preselfpay_amt"] == 1250
    assert r.amounts["covid_fiscal_pay"] is None
    assert r.ratio_bp == 0
    assert r.fund_rows == (("390100", None),)
    assert got.unknown == ("output.setlinfo.hifdm_pay", "output.setlinfo.psn_pay")
    with pytest.raises(InvalidRequest, match=r"output\.setlinfo\.hifp_pay"):
        read_settlement_output(loads(REAL_2304.replace("1886.44,", "1886.441,", 1)))
    with pytest.raises(InvalidRequest, match="pool_prop_selfpay"):
        read_settlement_output(loads(REAL_2304.replace("0.0000", "0.00001")))


def test_5206_from_the_ledger() -> None:
    s = settled("covid-resident-dibao-all-funds")
    tx = post_it(s)
    out = loads(dumps(cumulative_output(scheme="resident", year=2020, month=2,
                                        accumulators=s.accumulators_after,
                                        paid_by_fund=paid_by_fund([tx]))))  # fmt: skip
    rows = {r["cum_type_code"]: scaled(r["cum"], 2) for r in out["cuminfo"]}
    assert rows == {
        "D390101": s.setlinfo.hifp_pay,
        "D390201": s.setlinfo.hifmi_pay,
        "D610101": s.setlinfo.maf_pay,
        "L_BASIC_ENTITLED": s.accumulators_after.basic_entitled_fen,
        "L_BASIC_PAID": s.accumulators_after.basic_paid_fen,
        "L_SERIOUS_BASE": s.accumulators_after.serious_base_fen,
        "L_SERIOUS_PAID": s.accumulators_after.serious_paid_fen,
        "L_ASSISTANCE_ENTITLED": s.accumulators_after.assistance_entitled_fen,
        "L_ASSISTANCE_PAID": s.accumulators_after.assistance_paid_fen,
    }
    first = out["cuminfo"][0]
    assert (first["insutype"], first["year"], first["cum_ym"]) == ("390", "2020", "202002")


def test_3201_output() -> None:
    ours = Totals(7840000, 7029160, 0, 0, 1)
    ok = statement_output(compare_totals(ours, ours), clearing_agency="500102")
    assert ok == {"stmtinfo": {"setl_optins": "500102", "stmt_rslt": "0",
                               "stmt_rslt_dscr": "对账平"}}  # fmt: skip
    off = statement_output(compare_totals(ours, ours._replace(fund_pay_sumamt=7029100,
                                                              settlement_count=2)),
                           clearing_agency=None)  # fmt: skip
    info = off["stmtinfo"]
    assert info["stmt_rslt"] == "1"  # type: ignore[index]
    assert info["stmt_rslt_dscr"] == (  # type: ignore[index]
        "不平: 基金支付总额 中心 70291.60元 / 机构 70291.00元; 结算笔数 中心 1 / 机构 2"
    )
    many = compare_totals(ours, Totals(1, 2, 3, 4, 5))
    long = statement_output(many._replace(differences=many.differences * 9), clearing_agency=None)
    assert len(long["stmtinfo"]["stmt_rslt_dscr"]) == 200  # type: ignore[index]


def test_3202_result_rows() -> None:
    s = settled("account-inscope-small-balance")
    tx = post_it(s)
    ours = detail_rows([tx, reversal_of(tx)])
    declared = [ours[("S1", False)], DetailRow("S9", "M9", "P9", False, 100, 0, 0)]
    rows = detail_result_rows(ours, compare_details(ours, declared), declared)
    assert [(r["setl_id"], r["refd_setl_flag"], r["stmt_rslt"]) for r in rows] == [
        ("S1", "0", "0"), ("S1", "1", "1"), ("S9", "0", "2")]  # fmt: skip
    changed = [ours[("S1", False)]._replace(acct_pay=0), ours[("S1", True)]]
    rows = detail_result_rows(ours, compare_details(ours, changed), changed)
    assert (rows[0]["stmt_rslt"], rows[0]["memo"]) == ("3", "acct_pay")
