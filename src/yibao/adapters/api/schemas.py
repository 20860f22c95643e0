"""The REST API's request and response bodies (Pydantic 2). Amounts are integer fen,
ratios basis points, unit prices millionths of a yuan (``price_e6``) and quantities
ten-thousandths (``qty_e4``) — our vocabulary (GLOSSARY.md "ours"), the national wire's
``pric`` and ``cnt`` 1:1 (SETTLEMENT.md §1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from yibao.core.errors import InvalidRequest
from yibao.services.encounters.validation import (
    LENGTH,
    MAX_I64,
    MIN_I64,
    code_problem,
    insutype_problem,
    med_type_problem,
    text_problem,
)

# -- the field types every body uses (services.validation's rules, docs/API.md) ----------


def _refuse(why: str | None, value: str) -> str:
    if why is not None:
        raise PydanticCustomError("invalid_text", "{msg}", {"msg": why})
    return value


def _code(value: str) -> str:
    return _refuse(code_problem(value, 10_000), value)  # lengths: the Field's max_length


def _text(value: str) -> str:
    return _refuse(text_problem(value, 10_000), value)


CodeStr = Annotated[str, AfterValidator(_code)]
"""An id or code: printable, no space, no control, format or surrogate character."""
TextStr = Annotated[str, AfterValidator(_text)]
"""Free text: no control character but tab and newlines, no lone surrogate."""
MedType = Annotated[str, AfterValidator(lambda v: _refuse(med_type_problem(v), v))]
Insutype = Annotated[str, AfterValidator(lambda v: _refuse(insutype_problem(v), v))]
I64 = Annotated[int, Strict(), Field(ge=MIN_I64, le=MAX_I64)]
"""An integer within signed 64 bits; a bool, a float or a string is refused."""
Fen = Annotated[int, Strict(), Field(ge=0, le=MAX_I64)]


async def clean_params(request: Request) -> None:
    """Every path and query parameter is text a code may hold (no NUL or other control
    character, none a database refuses) and at most 200 characters: 422 naming it."""
    problems = []
    for kind, params in (("path", request.path_params), ("query", request.query_params)):
        for name, value in params.items():
            if isinstance(value, str) and (why := code_problem(value, 200)) is not None:
                problems.append((f"{kind}.{name}", why))
    if problems:
        raise InvalidRequest.of(problems)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class DiagnosisIn(_In):
    code: CodeStr = Field(
        min_length=1, max_length=LENGTH["diagnosis"], description="医保病种编码, e.g. B99.900"
    )
    main: StrictBool = Field(False, description="主诊断")


class AdmissionIn(_In):
    """入院办理 (2401) at the caller's hospital."""

    insuree_id: CodeStr = Field(
        min_length=LENGTH["insuree_id"],
        max_length=LENGTH["insuree_id"],
        description="psn_no: an 18-character ID number with its check digit",
    )
    med_type: MedType = Field(
        "21",
        min_length=1,
        max_length=LENGTH["med_type"],
        description="医疗类别: 21 普通住院; a national code or a local one extending it (2101)",
    )
    admit_time: AwareDatetime = Field(description="入院时间, with its time zone")
    diagnoses: list[DiagnosisIn] = Field(default_factory=list, max_length=50)
    covid_status: Literal["confirmed", "suspected", "none"] | None = Field(
        None, description="确诊/疑似 as 卫健 determined it; null: from the diagnoses"
    )
    filing: Literal["registered", "unregistered", "not_needed"] = Field(
        "not_needed", description="异地就医备案"
    )
    transfer_from: CodeStr | None = Field(
        None, max_length=LENGTH["transfer_from"], description="转院: earlier encounter"
    )
    insutype: Insutype | None = Field(
        None,
        max_length=LENGTH["scheme_code"],
        description="险种类型: 310, 390 …, or a local code extending one (39999)",
    )
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

    sn: CodeStr = Field(
        min_length=1, max_length=LENGTH["sn"], description="feedetl_sn: unique in the stay"
    )
    code: CodeStr = Field(
        min_length=1, max_length=LENGTH["code"], description="national or hospital code"
    )
    price_e6: Fen = Field(description="单价 in millionths of a yuan (pric × 10^6)")
    qty_e4: I64 = Field(
        ge=-MAX_I64,
        le=MAX_I64,
        description="数量 in ten-thousandths (cnt × 10^4); < 0: a refund. "
        "price_e6 × |qty_e4| may not exceed 2^63 − 1",
    )
    amount_fen: I64 | None = Field(
        None,
        description="optional, checked: price_e6 × qty_e4 / 10^8 rounded half up to the fen "
        "(negative on a refund)",
    )
    reverses_sn: CodeStr | None = Field(
        None, max_length=LENGTH["sn"], description="the line a refund reverses"
    )
    service_time: AwareDatetime | None = Field(None, description="费用发生时间")
    dept: TextStr | None = Field(None, max_length=LENGTH["dept"])
    doctor: TextStr | None = Field(None, max_length=LENGTH["doctor"])
    order_no: TextStr | None = Field(None, max_length=LENGTH["order_no"])

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
    medfee_sumamt: Fen | None = Field(None, description="the HIS's total, checked")
    acct_used: StrictBool = Field(True, description="个人账户使用标志: may the account pay")


class ReversalIn(_In):
    encounter_id: CodeStr | None = Field(
        None, max_length=LENGTH["encounter_id"], description="optional check: the settlement's stay"
    )


class CompensationIn(_In):
    """冲正 (2601): undo what the call with this request id did."""

    msgid: TextStr = Field(
        min_length=1, max_length=LENGTH["msgid"], description="msgid or Idempotency-Key"
    )
    infno: str | None = Field(None, pattern=r"^\d{4}$", description="its transaction, if known")


class TotalsIn(_In):
    medfee_sumamt: I64
    fund_pay_sumamt: I64
    acct_pay: I64 = 0
    psn_cash_pay: I64 = 0
    settlement_count: I64


class DetailRowIn(_In):
    settlement_id: CodeStr = Field(max_length=LENGTH["settlement_id"])
    encounter_id: CodeStr = Field(max_length=LENGTH["encounter_id"])
    insuree_id: CodeStr = Field(max_length=LENGTH["insuree_id"])
    refund: StrictBool = False
    medfee_sumamt: I64
    fund_pay_sumamt: I64
    acct_pay: I64 = 0


class ReconciliationIn(_In):
    """对总账 (3201), or with ``detail`` rows 对明细账 (3202)."""

    provider_code: CodeStr | None = Field(
        None, max_length=LENGTH["provider_code"], description="a hospital key: its own"
    )
    begin: dt.date
    end: dt.date
    scheme: Literal["employee", "resident", "none"] | None = None
    clr_type: CodeStr | None = Field(None, max_length=LENGTH["clr_type"])
    declared: TotalsIn
    detail: list[DetailRowIn] | None = Field(None, max_length=100_000)


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
    for code in (400, 401, 403, 404, 409, 422)
}
"""The problem responses every route documents in OpenAPI (400: a body that is not JSON)."""
