"""Fund management under ``/v1/funds`` (issue 20): prepayments, monthly statements and
payment batches, subsidy claims, the central share, budgets — thin adapters over
``yibao.services.funds`` (amounts in fen, months as yyyy-mm)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yibao.adapters.api.deps import Caller, Ctx, Mut, Uow, send
from yibao.adapters.api.schemas import ERRORS, CodeStr, Fen, TextStr, clean_params
from yibao.services.funds import budget, clearing, parse_month, prepayment, subsidy

router = APIRouter(prefix="/v1/funds", dependencies=[Depends(clean_params)], tags=["funds"],
                   responses=ERRORS)  # fmt: skip


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrepaymentIn(_In):
    provider_code: CodeStr = Field(max_length=20)
    amount_fen: Fen
    reason: TextStr = Field(max_length=200)
    expected_patients: int = Field(0, ge=0, le=100_000)


class AmountIn(_In):
    amount_fen: Fen


class ReasonIn(_In):
    reason: TextStr = Field(max_length=200)


class MonthIn(_In):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="yyyy-mm")
    provider_code: CodeStr | None = Field(None, max_length=20)


class PayIn(_In):
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    statement_ids: list[CodeStr] | None = Field(None, max_length=10_000)


class ConfirmIn(_In):
    ref: TextStr = Field("", max_length=100, description="the hospital's message or paper")


class ClaimIn(_In):
    provider_code: CodeStr = Field(max_length=20)
    period_end: dt.date


class CentralIn(_In):
    period_end: dt.date


class BudgetIn(_In):
    provider_code: CodeStr = Field(max_length=20)
    year: int = Field(ge=2000, le=2100)
    target_fen: Fen
    prior_paid_fen: Fen | None = None


@router.post("/prepayments", status_code=201, summary="预付 application (a hospital, or a clerk)")
def apply(body: PrepaymentIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    cmd = prepayment.PrepaymentIn(body.provider_code, body.amount_fen, body.reason,
                                  body.expected_patients)  # fmt: skip
    return mut(body.model_dump(mode="json"), 201,
               lambda _m: prepayment.apply(uow, ctx, caller, cmd).as_dict())  # fmt: skip


@router.get("/prepayments", summary="Prepayments (a hospital sees its own)")
def list_prepayments(
    uow: Uow, caller: Caller, provider_code: str | None = Query(None, max_length=20)
) -> Response:
    got = prepayment.prepayments(uow, caller, provider_code=provider_code)
    return send(200, {"prepayments": [p.as_dict() for p in got]})


@router.post("/prepayments/{pid}/propose", summary="初审: finance sets the amount")
def propose(pid: str, body: AmountIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, prepayment.propose(uow, ctx, caller, pid, body.amount_fen).as_dict())


@router.post("/prepayments/{pid}/approve", summary="复核: another finance person approves")
def approve(pid: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, prepayment.approve(uow, ctx, caller, pid).as_dict())


@router.post("/prepayments/{pid}/reject", summary="不予预付, with the reason")
def reject(pid: str, body: ReasonIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, prepayment.reject(uow, ctx, caller, pid, body.reason).as_dict())


@router.post("/prepayments/{pid}/disburse", summary="拨付: the approved amount posted")
def disburse(pid: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, prepayment.disburse(uow, ctx, caller, pid).as_dict())


@router.post("/statements/prepare", status_code=201, summary="Draft a month's statements")
def prepare(body: MonthIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    made = clearing.prepare(uow, ctx, caller, parse_month(body.month),
                            provider_code=body.provider_code)  # fmt: skip
    return send(201, {"statements": [s.as_dict() for s in made]})


@router.get("/statements", summary="Monthly statements (a hospital sees its own)")
def list_statements(
    uow: Uow, caller: Caller, month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$")
) -> Response:
    got = clearing.statements(uow, caller, month=parse_month(month) if month else None)
    return send(200, {"statements": [s.as_dict() for s in got]})


@router.get("/statements/{sid}", summary="One statement with its lines per fund book")
def get_statement(sid: str, uow: Uow, caller: Caller) -> Response:
    return send(200, clearing.statement(uow, caller, sid).as_dict())


@router.post("/statements/{sid}/confirm", summary="The hospital confirms its statement")
def confirm(sid: str, body: ConfirmIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, clearing.confirm(uow, ctx, caller, sid, ref=body.ref).as_dict())


@router.post("/statements/{sid}/void", summary="Void an unpaid statement (then prepare again)")
def void(sid: str, body: ReasonIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, clearing.void(uow, ctx, caller, sid, body.reason).as_dict())


@router.post("/payments", status_code=201, summary="Pay the month's confirmed statements")
def pay(body: PayIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    b = clearing.pay(uow, ctx, caller, parse_month(body.month), body.statement_ids)
    return send(201, b.as_dict())


@router.post("/subsidy-claims", status_code=201, summary="财政补助申报 with its list of stays")
def claim(body: ClaimIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return mut(body.model_dump(mode="json"), 201,
               lambda _m: subsidy.claim(uow, ctx, caller, body.provider_code,
                                        body.period_end).as_dict())  # fmt: skip


@router.get("/subsidy-claims", summary="Subsidy claims (a hospital sees its own)")
def list_claims(uow: Uow, caller: Caller) -> Response:
    got = subsidy.claims(uow, caller, with_items=True)
    return send(200, {"claims": [c.as_dict() for c in got]})


@router.post("/subsidy-claims/{cid}/pay", summary="Finance pays a subsidy claim")
def pay_claim(cid: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, subsidy.pay_claim(uow, ctx, caller, cid).as_dict())


@router.post("/central-claims", status_code=201, summary="The central share (财社〔2020〕2号)")
def central(body: CentralIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(201, subsidy.central_claim(uow, ctx, caller, body.period_end).as_dict())


@router.post("/budgets", status_code=201, summary="A hospital's yearly target (a new version)")
def set_budget(body: BudgetIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    v = budget.set_budget(uow, ctx, caller, body.provider_code, body.year, body.target_fen,
                          prior_paid_fen=body.prior_paid_fen, source="api")  # fmt: skip
    return send(201, {"provider_code": body.provider_code, "year": body.year, "version": v})


@router.get("/budgets/{year}", summary="Targets and monthly spending, COVID excluded")
def year_report(year: int, uow: Uow, caller: Caller) -> Response:
    rows: list[dict[str, Any]] = [r.as_dict() for r in budget.year_report(uow, caller, year)]
    return send(200, {"year": year, "hospitals": rows})
