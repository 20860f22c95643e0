"""The REST API's request and response bodies (Pydantic 2). Amounts are integer fen,
ratios basis points, unit prices millionths of a yuan (``price_e6``) and quantities
ten-thousandths (``qty_e4``) — our vocabulary (GLOSSARY.md "ours"), the national wire's
``pric`` and ``cnt`` 1:1 (SETTLEMENT.md §1)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from yibao.core.money import MAX_I64

Code = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._\-]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class DiagnosisIn(_In):
    code: str = Field(min_length=1, max_length=32, description="医保病种编码, e.g. B99.900")
    main: bool = Field(False, description="主诊断")


class AdmissionIn(_In):
    """入院办理 (2401) at the caller's hospital."""

    insuree_id: str = Field(min_length=1, max_length=18, description="psn_no (ID number)")
    med_type: str = Field("21", min_length=1, max_length=8, description="医疗类别: 21 普通住院")
    admit_time: AwareDatetime = Field(description="入院时间, with its time zone")
    diagnoses: list[DiagnosisIn] = Field(default_factory=list, max_length=50)
    covid_status: Literal["confirmed", "suspected", "none"] | None = Field(
        None, description="确诊/疑似 as 卫健 determined it; null: from the diagnoses"
    )
    filing: Literal["registered", "unregistered", "not_needed"] = Field(
        "not_needed", description="异地就医备案"
    )
    transfer_from: str | None = Field(None, max_length=30, description="转院: earlier encounter")
    insutype: str | None = Field(None, max_length=8, description="险种类型 as the HIS has it")
    insured_region: str | None = Field(
        None,
        pattern=r"^\d{6}$",
        description="参保地 (insuplc_admdvs): admits an insuree whose enrolment is not "
        "imported yet; the stay settles once it is (先救治、后结算)",
    )


class FeeLineIn(_In):
    """One 费用明细 line at the national wire's precision: unit price in millionths of a
    yuan (``pric`` × 10^6: 0.0583 yuan = 58300), quantity in ten-thousandths (``cnt`` ×
    10^4: 2.5 boxes = 25000), amount in fen (SETTLEMENT.md §1)."""

    sn: str = Field(min_length=1, max_length=30, description="feedetl_sn: unique in the stay")
    code: str = Field(min_length=1, max_length=50, description="national or hospital code")
    price_e6: int = Field(
        ge=0, le=MAX_I64, description="单价 in millionths of a yuan (pric × 10^6)"
    )
    qty_e4: int = Field(
        ge=-MAX_I64,
        le=MAX_I64,
        description="数量 in ten-thousandths (cnt × 10^4); < 0: a refund. "
        "price_e6 × |qty_e4| may not exceed 2^63 − 1",
    )
    amount_fen: int | None = Field(
        None,
        description="optional, checked: price_e6 × qty_e4 / 10^8 rounded half up to the fen "
        "(negative on a refund)",
    )
    reverses_sn: str | None = Field(None, max_length=30, description="the line a refund reverses")
    service_time: AwareDatetime | None = Field(None, description="费用发生时间")
    dept: str | None = Field(None, max_length=30)
    doctor: str | None = Field(None, max_length=30)
    order_no: str | None = Field(None, max_length=30)

    @field_validator("qty_e4")
    @classmethod
    def _product_fits(cls, qty_e4: int, info: ValidationInfo) -> int:
        """A line's ``price_e6 × |qty_e4|`` stays within 2^63 − 1 (SETTLEMENT.md §1)."""
        price = info.data.get("price_e6")
        if isinstance(price, int) and price * abs(qty_e4) > MAX_I64:
            too_large = f"price_e6 × |qty_e4| = {price * abs(qty_e4)} exceeds 2^63 − 1"
            raise PydanticCustomError("line_too_large", "{msg}", {"msg": too_large})
        return qty_e4


class FeesIn(_In):
    lines: list[FeeLineIn] = Field(min_length=1, max_length=5000)


class DischargeIn(_In):
    discharge_time: AwareDatetime
    diagnoses: list[DiagnosisIn] = Field(
        default_factory=list,
        max_length=50,
        description="出院诊断: replace the admission's if given",
    )


class SettleIn(_In):
    """预结算 / 结算. ``discharge_date`` settles a stay not yet discharged (出院结算)."""

    discharge_date: dt.date | None = None
    medfee_sumamt: int | None = Field(None, ge=0, description="the HIS's total, checked")
    acct_used: bool = Field(True, description="个人账户使用标志: may the account pay")


class ReversalIn(_In):
    encounter_id: str | None = Field(None, description="optional check: the settlement's stay")


class CompensationIn(_In):
    """冲正 (2601): undo what the call with this request id did."""

    msgid: str = Field(min_length=1, max_length=100, description="msgid or Idempotency-Key")
    infno: str | None = Field(None, pattern=r"^\d{4}$", description="its transaction, if known")


class TotalsIn(_In):
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int = 0
    psn_cash_pay: int = 0
    settlement_count: int


class DetailRowIn(_In):
    settlement_id: str
    encounter_id: str
    insuree_id: str
    refund: bool = False
    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int = 0


class ReconciliationIn(_In):
    """对总账 (3201), or with ``detail`` rows 对明细账 (3202)."""

    provider_code: str | None = Field(None, description="a hospital key: its own")
    begin: dt.date
    end: dt.date
    scheme: Literal["employee", "resident", "none"] | None = None
    clr_type: str | None = None
    declared: TotalsIn
    detail: list[DetailRowIn] | None = None


# -- responses (documentation; routes send the JSON they built) --------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class EncounterOut(_Out):
    id: str
    provider_code: str
    insuree_id: str
    status: Literal["admitted", "discharged", "settled", "cancelled"]
    settlement_id: str | None
    version: int


class FeesOut(_Out):
    encounter_id: str
    new: int
    lines: list[dict[str, Any]]


class SettlementOut(_Out):
    settlement_id: str | None
    kind: Literal["settlement", "reversal", "presettlement"]
    encounter_id: str
    setlinfo: dict[str, int]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 422)
}
"""The problem responses every route documents in OpenAPI."""
