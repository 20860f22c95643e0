"""Drug monitoring and emergency-procurement filings under ``/v1/drugs`` (issue 21,
docs/DRUGS.md): thin adapters over ``yibao.services.drugs``. A hospital key files its
own emergency purchases (应急采购备案) and reads them; the district (clerks) accepts
them, scans the region and moves signals on; readers read. Prices are ``price_e6``,
quantities ``qty_e4`` (integers)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yibao.adapters.api.deps import Caller, Ctx, Uow, send
from yibao.adapters.api.schemas import ERRORS, clean_params
from yibao.services import drugs
from yibao.services.access.rights import require

__all__ = ["router"]

router = APIRouter(prefix="/v1/drugs", dependencies=[Depends(clean_params)])
_STATES = "^(new|investigating|reported|dismissed)$"
_KINDS = "^(price|listed|quantity|delivery|shortage|markup)$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanIn(_In):
    start: dt.date
    end: dt.date


class MoveIn(_In):
    reason: str | None = Field(None, max_length=200, description="required to dismiss")
    version: int | None = Field(None, ge=1, description="the version the caller saw")


class FilingIn(_In):
    """应急采购备案: an emergency purchase at zero mark-up (the provincial notice 四（一）)."""

    provider_code: str = Field(min_length=1, max_length=20)
    code: str = Field(min_length=1, max_length=50, description="national drug code")
    supplier: str = Field(min_length=1, max_length=100)
    price_e6: int = Field(gt=0, lt=10**15, description="purchase price, yuan × 10^6")
    qty_e4: int = Field(gt=0, lt=10**15, description="quantity × 10^4")
    purchased_on: dt.date
    reason: str = Field(min_length=1, max_length=200)


class DecisionIn(_In):
    accept: bool
    reason: str | None = Field(None, max_length=200, description="required to refuse")


@router.get("/watch", tags=["drugs"], responses=ERRORS,
            summary="The watch list: the 诊疗方案's drugs in force on a day")  # fmt: skip
def watch(uow: Uow, caller: Caller, on: Annotated[dt.date, Query()]) -> Response:
    if not caller.may("drugs.file"):
        require(caller, "drugs.read")
    return send(200, {"drugs": [w.as_dict() for w in drugs.watch_list(uow, on)]})


@router.post("/scan", tags=["drugs"], responses=ERRORS,
             summary="Scan the region and record the new signals")  # fmt: skip
def scan(body: ScanIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    done = drugs.scan_region(uow, caller, body.start, body.end, now=ctx.now())
    return send(200, done.as_dict())


@router.get("/signals", tags=["drugs"], responses=ERRORS, summary="Signals, newest first")
def list_signals(uow: Uow, caller: Caller,
                 state: str | None = Query(None, pattern=_STATES),
                 kind: str | None = Query(None, pattern=_KINDS),
                 code: str | None = Query(None, max_length=50),
                 provider: str | None = Query(None, max_length=20),
                 limit: int = Query(200, ge=1, le=1000)) -> Response:  # fmt: skip
    rows = drugs.signals(uow, caller, states=[state] if state else None,
                         kinds=[kind] if kind else None, code=code, provider=provider,
                         limit=limit)  # fmt: skip
    return send(200, {"signals": [s.as_dict() for s in rows]})


@router.get("/signals/{signal_id}", tags=["drugs"], responses=ERRORS,
            summary="One signal: evidence, clause, every step")  # fmt: skip
def get_signal(signal_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, drugs.signal(uow, caller, signal_id).as_dict())


@router.post("/signals/{signal_id}/{action}", tags=["drugs"], responses=ERRORS,
             summary="investigate | report | dismiss a signal")  # fmt: skip
def move(signal_id: str, action: Literal["investigate", "report", "dismiss"], body: MoveIn,
         uow: Uow, ctx: Ctx, caller: Caller) -> Response:  # fmt: skip
    s = drugs.move_signal(uow, caller, signal_id, action, now=ctx.now(), reason=body.reason,
                          version=body.version)  # fmt: skip
    return send(200, s.as_dict())


@router.post("/filings", tags=["drugs"], responses=ERRORS, status_code=201,
             summary="File an emergency purchase (应急采购备案)")  # fmt: skip
def file_purchase(body: FilingIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    f = drugs.file_purchase(uow, caller, drugs.DrugFilingIn(
        body.provider_code, body.code, body.supplier, body.price_e6, body.qty_e4,
        body.purchased_on, body.reason), now=ctx.now())  # fmt: skip
    return send(201, f.as_dict())


@router.get("/filings", tags=["drugs"], responses=ERRORS,
            summary="Emergency purchases filed (a hospital: its own)")  # fmt: skip
def list_filings(uow: Uow, caller: Caller,
                 state: str | None = Query(None, pattern="^(filed|accepted|refused)$"),
                 provider: str | None = Query(None, max_length=20)) -> Response:  # fmt: skip
    rows = drugs.filings(uow, caller, states=[state] if state else None, provider=provider)
    return send(200, {"filings": [f.as_dict() for f in rows]})


@router.get("/filings/{filing_id}", tags=["drugs"], responses=ERRORS, summary="One filing")
def get_filing(filing_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, drugs.filing_view(uow, caller, filing_id).as_dict())


@router.post("/filings/{filing_id}/decision", tags=["drugs"], responses=ERRORS,
             summary="The agency accepts (受理) or refuses a filing")  # fmt: skip
def decide(filing_id: str, body: DecisionIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    f = drugs.decide_filing(uow, caller, filing_id, body.accept, now=ctx.now(),
                            reason=body.reason)  # fmt: skip
    return send(200, f.as_dict())
