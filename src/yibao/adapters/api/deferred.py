"""The deferred queue and transfers under ``/v1`` (先救治、后结算; docs/OFFLINE.md):
thin adapters over ``yibao.services.stays.deferred.queue`` and
``yibao.services.encounters.transfers``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from yibao.adapters.api.deps import Caller, Ctx, Mut, Uow, send
from yibao.adapters.api.render import deferral_doc
from yibao.adapters.api.schemas import ERRORS, CodeStr, Fen, TextStr, clean_params
from yibao.services.encounters import transfers
from yibao.services.encounters.validation import LENGTH
from yibao.services.stays.deferred import queue as deferred

router = APIRouter(prefix="/v1", dependencies=[Depends(clean_params)])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeferralIn(_In):
    """Defer a stay (e.g. captured offline while the hospital's system was down)."""

    reason: Literal["not_enrolled", "offline", "awaiting_transfer"] = "offline"
    discharge_date: dt.date | None = Field(None, description="if the stay is not discharged")
    advance_fen: Fen | None = Field(
        None, description="what the hospital advanced (provisional); null: the lines' total"
    )


class QueueRunIn(_In):
    provider_code: CodeStr | None = Field(
        None, max_length=LENGTH["provider_code"], description="one hospital only"
    )
    insuree_ids: list[Annotated[CodeStr, Field(max_length=LENGTH["insuree_id"])]] | None = Field(
        None, max_length=10000, description="these only"
    )


class TransferIn(_In):
    """转院备案 (2501) by the sending hospital."""

    insuree_id: CodeStr = Field(
        min_length=LENGTH["insuree_id"],
        max_length=LENGTH["insuree_id"],
        description="psn_no: an 18-character ID number with its check digit",
    )
    encounter_id: CodeStr | None = Field(
        None, max_length=LENGTH["encounter_id"], description="default: the newest stay"
    )
    to_provider: CodeStr | None = Field(
        None,
        max_length=LENGTH["provider_code"],
        description="null: any hospital; else a provider of the registry",
    )
    transfer_date: dt.date | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    reason: TextStr | None = Field(None, max_length=LENGTH["transfer_reason"])


@router.post(
    "/encounters/{encounter_id}/deferral",
    status_code=201,
    tags=["deferred"],
    responses=ERRORS,
    summary="Defer a stay: settle later, the hospital's advance booked (先救治、后结算)",
)
def create_deferral(encounter_id: str, body: DeferralIn, uow: Uow, ctx: Ctx,
                    caller: Caller, mut: Mut) -> Response:  # fmt: skip
    return mut(body.model_dump(mode="json"), 201,
                   lambda m: deferral_doc(deferred.defer(
                       uow, ctx, caller, encounter_id, reason=body.reason,
                       discharge_date=body.discharge_date, advance_fen=body.advance_fen,
                       msgid=m)))  # fmt: skip


@router.get(
    "/encounters/{encounter_id}/deferral",
    tags=["deferred"],
    responses=ERRORS,
    summary="A stay's newest deferral: reason, advance, and its settlement once cleared",
)
def get_deferral(encounter_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, deferral_doc(deferred.deferral(uow, caller, encounter_id)))


@router.get(
    "/deferred",
    tags=["deferred"],
    responses=ERRORS,
    summary="The deferred queue per hospital and reason: count, oldest, amounts advanced",
)
def get_queue(uow: Uow, ctx: Ctx, caller: Caller,
              provider_code: str | None = Query(None, max_length=20)) -> Response:  # fmt: skip
    st = deferred.queue_status(uow, ctx, caller, provider_code=provider_code)
    rows: list[dict[str, Any]] = [
        {"provider_code": r.provider_code, "reason": r.reason, "count": r.count,
         "oldest_deferred_at": r.oldest_deferred_at,
         "oldest_discharge_date": r.oldest_discharge_date, "oldest_age_days": r.oldest_age_days,
         "advance_fen": r.advance_fen, "medfee_sumamt": r.medfee_sumamt}
        for r in st.rows]  # fmt: skip
    return send(200, {"as_of": st.as_of, "count": st.count, "advance_fen": st.advance_fen,
                       "rows": rows})  # fmt: skip


@router.post(
    "/deferred/settle",
    tags=["deferred"],
    responses=ERRORS,
    summary="Settle what is ready in the queue, per insuree-year in discharge order",
)
def settle_queue(body: QueueRunIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    run = deferred.settle_ready(uow, ctx, caller, provider_code=body.provider_code,
                                insuree_ids=body.insuree_ids)  # fmt: skip
    return send(200, {
        "settled": [{"encounter_id": e, "settlement_id": s} for e, s in run.settled],
        "waiting": run.waiting, "batch": run.batch, "fallback": run.fallback,
        "failed": [{"encounter_id": e, "error": why} for e, why in run.failed]})  # fmt: skip


@router.post(
    "/transfers",
    status_code=201,
    tags=["deferred"],
    responses=ERRORS,
    summary="2501 转院备案: the sending hospital files a transfer; it settles first",
)
def create_transfer(body: TransferIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    def run(m: str | None) -> dict[str, Any]:
        f = transfers.file_transfer(
            uow, ctx, caller, insuree_id=body.insuree_id, to_provider=body.to_provider,
            transfer_date=body.transfer_date, valid_from=body.valid_from,
            valid_to=body.valid_to, reason=body.reason, encounter_id=body.encounter_id,
            msgid=m)  # fmt: skip
        return {"filing_id": f.id, "from_encounter_id": f.from_encounter_id,
                "from_provider": f.from_provider, "to_provider": f.to_provider,
                "transfer_date": f.transfer_date, "valid_from": f.valid_from,
                "valid_to": f.valid_to}  # fmt: skip

    return mut(body.model_dump(mode="json"), 201, run)


@router.post(
    "/transfers/{filing_id}/cancellation",
    tags=["deferred"],
    responses=ERRORS,
    summary="2502 转院备案撤销: the filing links no further admission",
)
def cancel_transfer(filing_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return mut(None, 200, lambda m: {
        "filing_id": filing_id,
        "cancelled": transfers.cancel_transfer(uow, ctx, caller, filing_id, msgid=m)})  # fmt: skip
