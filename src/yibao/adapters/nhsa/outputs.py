"""Output encoders: our records -> national field names, amounts as exact yuan numbers.

- 2303/2304 ``{"setlinfo": {...}, "setldetail": [...]}`` from a ``Settlement``
  (``settlement_output``), and 2305's negated copy;
- 5206 ``{"cuminfo": [...]}`` (3201/3202's outputs are in statements.py).

The COVID fiscal subsidy has no national field (DECISIONS 0038): ``fund_pay_sumamt``
excludes it, ``psn_part_amt`` includes it (medfee − funds, the national definition),
``psn_cash_pay`` is what the patient pays, and the extension ``covid_fiscal_pay`` carries
it, so ``psn_part_amt = acct_pay + psn_cash_pay + covid_fiscal_pay``. A ``setldetail``
row for it appears only when the pack gives the overlay a local ``fiscal_fund_code``.

``read_settlement_output`` reads such an output back (also the platform's own, with its
quirks: ``"fund_payamt": ""``, nulls, unknown fields).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from yibao.adapters.nhsa.codes import CUM_TYPE, INSUTYPE, paid_cum_type
from yibao.adapters.nhsa.fields import Decoded, OptText, Wire, unknown_fields, validate, wall_time
from yibao.adapters.nhsa.numbers import OptFen, ratio, scaled, yuan
from yibao.core.engine.funds import ASSISTANCE, BASIC, SERIOUS
from yibao.core.engine.model import Accumulators, Settlement, Trace

__all__ = [
    "PERSON_FIELDS",
    "SETL_PROC_INFO_MAX",
    "SettlementResult",
    "cumulative_output",
    "read_settlement_output",
    "setldetail",
    "setlinfo",
    "settlement_output",
]

SETL_PROC_INFO_MAX = 4000
PERSON_FIELDS = ("psn_name", "psn_cert_type", "certno", "gend", "naty", "brdy", "age",
                 "psn_type", "cvlserv_flag", "mdtrt_cert_type")  # fmt: skip
_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
            "inscp_scp_amt", "act_pay_dedc", "hifp_pay")  # fmt: skip
_ZERO = ("cvlserv_pay", "hifes_pay")  # funds we never pay
_FIELDS_OF_FUND = {
    **dict.fromkeys(BASIC.values(), ("act_pay_dedc", "hifp_pay")),
    **dict.fromkeys(SERIOUS.values(), ("hifob_pay", "hifmi_pay")),
    ASSISTANCE: ("maf_pay",),
}


def setlinfo(
    s: Settlement,
    *,
    setl_id: str | None,
    msgid: str,
    setl_time: dt.datetime | None,
    med_type: str | None = None,
    clr_type: str | None = None,
    clr_way: str | None = None,
    clr_optins: str | None = None,
    person: Mapping[str, object] | None = None,
    reversal: bool = False,
    balc_fen: int | None = None,
) -> dict[str, object]:
    """setlinfo of 2303 (``setl_id`` None), 2304, or 2305 (``reversal``: every amount
    negated; pass ``balc_fen``, the account balance after the reversal)."""
    i, sign, who = s.setlinfo, -1 if reversal else 1, person or {}
    out: dict[str, object] = {
        "setl_id": setl_id,
        "mdtrt_id": s.encounter_id,
        "psn_no": s.insuree_id,
    }
    out.update({k: who.get(k) for k in PERSON_FIELDS if k != "mdtrt_cert_type"})
    out["insutype"] = INSUTYPE.get(s.facts.scheme)
    out["setl_time"] = None if setl_time is None else f"{wall_time(setl_time):%Y-%m-%d %H:%M:%S}"
    out["mdtrt_cert_type"] = who.get("mdtrt_cert_type")
    out["med_type"] = med_type
    out.update({k: yuan(sign * getattr(i, k)) for k in _AMOUNTS})
    out["pool_prop_selfpay"] = ratio(s.ratio_bp)  # the ratio R, not pool_selfpay_amt
    out.update({k: yuan(0) for k in _ZERO})
    out["hifmi_pay"] = yuan(sign * i.hifmi_pay)
    out["hifob_pay"] = yuan(sign * i.hifob_pay)
    out["maf_pay"] = yuan(sign * i.maf_pay)
    out["oth_pay"] = yuan(0)
    out["fund_pay_sumamt"] = yuan(sign * i.fund_pay_sumamt)  # never the fiscal subsidy
    out["psn_part_amt"] = yuan(sign * i.psn_part_amt)  # includes it
    out["acct_pay"] = yuan(sign * i.acct_pay)
    out["psn_cash_pay"] = yuan(sign * i.psn_cash_pay)
    out["hosp_part_amt"] = yuan(0)
    out["balc"] = yuan(s.account_balance_after_fen if balc_fen is None else balc_fen)
    out["acct_mulaid_pay"] = yuan(0)
    out["medins_setl_id"] = msgid  # 存放发送方报文ID
    out["clr_optins"], out["clr_way"], out["clr_type"] = clr_optins, clr_way, clr_type
    out["covid_fiscal_pay"] = yuan(sign * i.fiscal_pay)  # extension: no national field
    return out


def _entry(t: Trace) -> str:
    inputs = ",".join(f"{k}={v}" for k, v in t.inputs.items())
    return f"{t.field}={yuan(t.amount)}: {t.rule}" + (f" [{inputs}]" if inputs else "") + (
        f" 《{t.clause}》" if t.clause else "")  # fmt: skip


def setl_proc_info(s: Settlement, fund_code: str) -> str:
    """结算过程信息 of one fund row: its amounts' trace, condensed to 4000 characters
    (amounts in yuan; the step inputs in our units, fen and bp)."""
    fields = _FIELDS_OF_FUND.get(fund_code, ("fiscal_pay",))
    text = "; ".join(_entry(t) for t in s.trace if t.field in fields)
    return text if len(text) <= SETL_PROC_INFO_MAX else text[: SETL_PROC_INFO_MAX - 1] + "…"


ACCOUNT_FUND = ("310200", "城镇职工基本医疗保险个人账户基金")
"""fund_pay_type of the personal account (DOMAIN.md §1.6)."""


def _account_row(s: Settlement, sign: int) -> list[dict[str, object]]:
    """The personal account's setldetail row, whenever ``acct_pay`` > 0 and the engine's
    fund rows hold none: a HIS sums setldetail to funds + account."""
    code, name = ACCOUNT_FUND
    if s.setlinfo.acct_pay <= 0 or any(r.fund_pay_type == code for r in s.setldetail):
        return []
    text = "; ".join(_entry(t) for t in s.trace if t.field == "acct_pay")
    return [{
        "fund_pay_type": code,
        "fund_pay_type_name": name,
        "inscp_scp_amt": None,
        "crt_payb_lmt_amt": None,
        "fund_payamt": yuan(sign * s.setlinfo.acct_pay),
        "setl_proc_info": text[:SETL_PROC_INFO_MAX],
    }]  # fmt: skip


def setldetail(s: Settlement, *, reversal: bool = False) -> list[dict[str, object]]:
    """setldetail: one row per fund (and the fiscal subsidy's local row, if any), and
    the personal account's row when it paid (``acct_pay`` > 0)."""
    sign = -1 if reversal else 1
    return _account_row(s, sign) + [
        {
            "fund_pay_type": r.fund_pay_type,
            "fund_pay_type_name": r.fund_pay_type_name,
            "inscp_scp_amt": yuan(sign * r.inscp_scp_amt),
            "crt_payb_lmt_amt": None if r.crt_payb_lmt_amt is None else yuan(r.crt_payb_lmt_amt),
            "fund_payamt": yuan(sign * r.fund_payamt),
            "setl_proc_info": setl_proc_info(s, r.fund_pay_type),
        }
        for r in s.setldetail
    ]


def settlement_output(s: Settlement, **kw: Any) -> dict[str, object]:
    """2303/2304 (or, with ``reversal=True``, 2305) output: setlinfo + setldetail."""
    return {
        "setlinfo": setlinfo(s, **kw),
        "setldetail": setldetail(s, reversal=kw.get("reversal", False)),
    }


def cumulative_output(
    *, scheme: str, year: int, month: int, accumulators: Accumulators,
    paid_by_fund: Mapping[str, int],
) -> dict[str, list[dict[str, object]]]:  # fmt: skip
    """5206 ``{"cuminfo": [...]}``: the paid cumulatives per fund (from the ledger,
    ``ledger.post.paid_by_fund``) and our six accumulators under local codes."""
    base = {
        "insutype": INSUTYPE.get(scheme),
        "year": f"{year:04d}",
        "cum_ym": f"{year:04d}{month:02d}",
    }
    rows: list[dict[str, object]] = [
        {**base, "cum_type_code": paid_cum_type(code), "cum": yuan(fen)}
        for code, fen in sorted(paid_by_fund.items())
    ]
    values = accumulators.as_dict()
    rows += [{**base, "cum_type_code": code, "cum": yuan(values[name])}
             for name, code in CUM_TYPE.items()]  # fmt: skip
    return {"cuminfo": rows}


class _Setlinfo(Wire):
    known = frozenset({*PERSON_FIELDS, "insutype", "setl_time", "med_type", "cvlserv_pay",
                       "hifes_pay", "oth_pay", "hosp_part_amt", "acct_mulaid_pay",
                       "medins_setl_id", "clr_optins", "clr_way", "clr_type"})  # fmt: skip
    setl_id: OptText = None
    mdtrt_id: OptText = None
    psn_no: OptText = None
    medfee_sumamt: OptFen = None
    fulamt_ownpay_amt: OptFen = None
    overlmt_selfpay: OptFen = None
    preselfpay_amt: OptFen = None
    inscp_scp_amt: OptFen = None
    act_pay_dedc: OptFen = None
    hifp_pay: OptFen = None
    pool_prop_selfpay: Annotated[int | None, BeforeValidator(lambda v: scaled(v, 4))] = None
    hifmi_pay: OptFen = None
    hifob_pay: OptFen = None
    maf_pay: OptFen = None
    fund_pay_sumamt: OptFen = None
    psn_part_amt: OptFen = None
    acct_pay: OptFen = None
    psn_cash_pay: OptFen = None
    balc: OptFen = None
    covid_fiscal_pay: OptFen = None


class _Detail(Wire):
    known = frozenset({"fund_pay_type_name"})
    fund_pay_type: OptText = None
    inscp_scp_amt: OptFen = None
    crt_payb_lmt_amt: OptFen = None
    fund_payamt: OptFen = None
    setl_proc_info: OptText = None


class _SettlementOut(Wire):
    setlinfo: _Setlinfo
    setldetail: list[_Detail] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """A settlement output read back: amounts in fen (``None`` where absent or ``""``)."""

    settlement_id: str | None
    encounter_id: str | None
    insuree_id: str | None
    amounts: Mapping[str, int | None]  # national amount names -> fen
    ratio_bp: int | None  # pool_prop_selfpay
    fund_rows: tuple[tuple[str | None, int | None], ...]  # (fund_pay_type, fund_payamt)


def read_settlement_output(output: Mapping[str, Any]) -> Decoded[SettlementResult]:
    """``{"setlinfo": …, "setldetail": […]}`` -> exact fen, for round trips and for the
    platform's own answers (``"fund_payamt": ""`` reads as None)."""
    w = validate(_SettlementOut, output, "output")
    i = w.setlinfo
    names = [n for n in _Setlinfo.model_fields if n not in ("setl_id", "mdtrt_id", "psn_no",
                                                             "pool_prop_selfpay")]  # fmt: skip
    amounts = {n: getattr(i, n) for n in names}
    rows = tuple((r.fund_pay_type, r.fund_payamt) for r in w.setldetail)
    result = SettlementResult(i.setl_id, i.mdtrt_id, i.psn_no, amounts,
                              i.pool_prop_selfpay, rows)  # fmt: skip
    return Decoded(result, unknown_fields(w, "output."))
