"""Out-of-area care under ``/v1`` (异地就医, issue 18): filings (异地就医备案) — take in,
forward, decide, revoke, the queue with due times — and the clearing between regions
(inbound receivables, monthly statements). Thin adapters over ``yibao.services.filings``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yibao.adapters.api.deps import Caller, Ctx, Mut, Uow, send
from yibao.adapters.api.schemas import ERRORS, CodeStr, TextStr, clean_params
from yibao.services import filings as fs
from yibao.services.filings import clearing as cl

router = APIRouter(prefix="/v1", dependencies=[Depends(clean_params)])

MONTH = r"^\d{4}-\d{2}$"
Kind = Literal["resettled", "long_stay", "work_away", "referral", "temporary"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilingIn(_In):
    """异地就医备案 as the applicant gives it; the caller takes it in (受理)."""

    kind: Kind = Field(description="异地安置 resettled | 异地长期居住 long_stay | 常驻异地工作 "
                       "work_away | 异地转诊转院 referral | 临时外出就医 temporary")  # fmt: skip
    insuree_id: CodeStr = Field(min_length=18, max_length=18, description="psn_no")
    dest_region: CodeStr = Field(min_length=6, max_length=6, description="就医地 region code")
    dest_providers: list[Annotated[CodeStr, Field(max_length=20)]] = Field(
        default_factory=list, max_length=10, description="empty: any hospital there"
    )
    valid_from: dt.date
    valid_to: dt.date | None = None
    covid: bool = Field(False, description="for COVID-19 care (its own time limit)")
    submitted_at: dt.datetime | None = Field(None, description="when the applicant applied")


class DecisionIn(_In):
    approve: bool
    reason: TextStr | None = Field(None, max_length=200, description="required to refuse")
    version: int | None = Field(None, ge=1, description="the version decided on (optional)")


class ReasonIn(_In):
    reason: TextStr = Field(max_length=200)
    version: int | None = Field(None, ge=1)


class MonthIn(_In):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")


@router.post("/filings", status_code=201, tags=["filings"], responses=ERRORS,
             summary="受理: take an out-of-area filing in")  # fmt: skip
def create_filing(body: FilingIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    cmd = fs.FilingIn(body.kind, body.insuree_id, body.dest_region, body.valid_from,
                      body.valid_to, tuple(body.dest_providers), body.covid,
                      body.submitted_at)  # fmt: skip
    return mut(body.model_dump(mode="json"), 201,
               lambda _m: fs.take_in(uow, ctx, caller, cmd).as_dict())  # fmt: skip


@router.get("/filings", tags=["filings"], responses=ERRORS,
            summary="The queue: open filings soonest due first, or only the overdue")  # fmt: skip
def list_filings(uow: Uow, ctx: Ctx, caller: Caller,
                 state: list[str] = Query(default=["submitted", "accepted", "forwarded"]),  # noqa: B008
                 overdue: bool = False, limit: int = Query(200, ge=1, le=1000),
                 offset: int = Query(0, ge=0)) -> Response:  # fmt: skip
    found = fs.queue(uow, ctx, caller, states=tuple(state), overdue=overdue, limit=limit,
                     offset=offset)  # fmt: skip
    return send(200, {"filings": [f.as_dict() for f in found], "count": len(found)})


@router.get("/filings/{filing_id}", tags=["filings"], responses=ERRORS,
            summary="One filing with every step (who, when, why, due, clause)")  # fmt: skip
def get_filing(filing_id: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, fs.filing(uow, ctx, caller, filing_id).as_dict())


@router.post("/filings/{filing_id}/forward", tags=["filings"], responses=ERRORS,
             summary="报送: a township forwards a filing to the district")  # fmt: skip
def forward_filing(filing_id: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, fs.forward(uow, ctx, caller, filing_id).as_dict())


@router.post("/filings/{filing_id}/decision", tags=["filings"], responses=ERRORS,
             summary="审核: approve, or refuse with a reason")  # fmt: skip
def decide_filing(filing_id: str, body: DecisionIn, uow: Uow, ctx: Ctx,
                  caller: Caller) -> Response:  # fmt: skip
    f = fs.decide(uow, ctx, caller, filing_id, approve=body.approve, reason=body.reason,
                  version=body.version)  # fmt: skip
    return send(200, f.as_dict())


@router.post("/filings/{filing_id}/revocation", tags=["filings"], responses=ERRORS,
             summary="撤销: an approved filing stops covering stays")  # fmt: skip
def revoke_filing(filing_id: str, body: ReasonIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    f = fs.revoke(uow, ctx, caller, filing_id, reason=body.reason, version=body.version)
    return send(200, f.as_dict())


@router.post("/clearing/inbound", tags=["filings"], responses=ERRORS,
             summary="Book inbound stays' fund share as receivables of their regions")  # fmt: skip
def book_inbound(uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, {"booked": cl.book_inbound(uow, ctx, caller)})


@router.post("/clearing/statements", tags=["filings"], responses=ERRORS,
             summary="申请: prepare the month's statements per counterpart region")  # fmt: skip
def prepare(body: MonthIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    found = cl.prepare_statements(uow, ctx, caller, body.month)
    return send(200, {"statements": [s.as_dict() for s in found]})


@router.get("/clearing/statements", tags=["filings"], responses=ERRORS,
            summary="The clearing statements (a month's, or all)")  # fmt: skip
def list_statements(uow: Uow, caller: Caller,
                    month: str | None = Query(None, pattern=MONTH)) -> Response:  # fmt: skip
    return send(200, {"statements": [s.as_dict() for s in cl.statements(uow, caller, month)]})


@router.post("/clearing/statements/{statement_id}/{step}", tags=["filings"], responses=ERRORS,
             summary="确认 (confirm) or 清算 (clear) a statement")  # fmt: skip
def move(statement_id: int, step: Literal["confirm", "clear"], uow: Uow, ctx: Ctx,
         caller: Caller) -> Response:  # fmt: skip
    to = {"confirm": "confirmed", "clear": "cleared"}[step]
    doc: dict[str, Any] = cl.move_statement(uow, ctx, caller, statement_id, to).as_dict()
    return send(200, doc)
