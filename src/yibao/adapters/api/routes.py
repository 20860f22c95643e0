"""The REST resources under ``/v1`` that change things — encounters, fee lines,
settlements, reversals, 冲正 — thin adapters over ``yibao.services`` (docs/API.md);
queries.py has the ones that only read.

Every route parses its body with a Pydantic model, calls ONE service function and
renders the answer. A mutating route honours ``Idempotency-Key``: the first answer is
stored with the change, in its transaction; the same key and body get it back byte for
byte (header ``Idempotent-Replayed: true``), the same key with another body is 409.
ID numbers and names are masked unless the caller's role may see them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from yibao.adapters.api.deps import Answer, Caller, Ctx, Mut, Uow, send
from yibao.adapters.api.render import deferral_doc, encounter_doc, line_doc, settlement_doc
from yibao.adapters.api.schemas import (
    ERRORS,
    AdmissionIn,
    CompensationIn,
    DischargeIn,
    EncounterOut,
    FeesIn,
    FeesOut,
    ReversalIn,
    SettleIn,
    SettlementOut,
    clean_params,
)
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.requests import compensate
from yibao.services.encounters.validation import MAX_I64
from yibao.services.stays.deferred import queue as deferred

router = APIRouter(prefix="/v1", dependencies=[Depends(clean_params)])


# -- encounters ------------------------------------------------------------------------------


@router.post(
    "/encounters",
    status_code=201,
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="2401 入院办理: admit a patient at the caller's hospital",
)
def create_encounter(body: AdmissionIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    cmd = uc.Admit(
        body.insuree_id,
        body.med_type,
        body.admit_time,
        tuple(uc.Diagnosis(d.code, d.main) for d in body.diagnoses),
        body.covid_status,
        body.filing,
        body.transfer_from,
        body.insutype,
        body.insured_region,
    )
    return mut(
        body.model_dump(mode="json"),
        201,
        lambda m: encounter_doc(caller, uc.admit(uow, ctx, caller, cmd, msgid=m)),
    )


@router.get(
    "/encounters",
    tags=["encounters"],
    responses=ERRORS,
    summary="List encounters, newest first (a hospital: its own)",
)
def list_encounters(
    uow: Uow,
    caller: Caller,
    insuree_id: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_I64)] = 0,
) -> Response:
    found = uc.encounters(
        uow, caller, insuree_id=insuree_id, status=status, limit=limit, offset=offset
    )
    return send(200, {"encounters": [encounter_doc(caller, e) for e in found]})


@router.get(
    "/encounters/{encounter_id}",
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="One encounter (its current state)",
)
def get_encounter(encounter_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, encounter_doc(caller, uc.encounter(uow, caller, encounter_id)))


@router.post(
    "/encounters/{encounter_id}/cancellation",
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="2404 入院办理撤销: cancel an admission without fee lines",
)
def cancel_encounter(encounter_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return mut(
        None,
        200,
        lambda m: encounter_doc(
            caller, uc.cancel_admission(uow, ctx, caller, encounter_id, msgid=m)
        ),
    )


@router.post(
    "/encounters/{encounter_id}/fees",
    response_model=FeesOut,
    tags=["fees"],
    responses=ERRORS,
    summary="2301 费用明细上传: lines resolved against the catalog, idempotent per sn",
)
def upload_fees(
    encounter_id: str,
    body: FeesIn,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
) -> Response:
    fees = [
        uc.FeeIn(
            sn=f.sn,
            code=f.code,
            price_e6=f.price_e6,
            qty_e4=f.qty_e4,
            amount_fen=f.amount_fen,
            reverses_sn=f.reverses_sn,
            hospital_code=None,
            service_time=f.service_time,
            dept=f.dept,
            doctor=f.doctor,
            order_no=f.order_no,
        )
        for f in body.lines
    ]

    def run(m: str | None) -> dict[str, Any]:
        up = uc.upload_fees(uow, ctx, caller, encounter_id, fees, msgid=m)
        return {
            "encounter_id": encounter_id,
            "new": up.new,
            "lines": [line_doc(ln, r) for ln, r in zip(up.lines, up.results, strict=True)],
        }

    return mut(body.model_dump(mode="json"), 200, run)


@router.get(
    "/encounters/{encounter_id}/fees",
    tags=["fees"],
    responses=ERRORS,
    summary="Every fee line of an encounter, cancelled ones too",
)
def list_fees(encounter_id: str, uow: Uow, caller: Caller) -> Response:
    lines = uc.encounter_lines(uow, caller, encounter_id)
    return send(200, {"encounter_id": encounter_id, "lines": [line_doc(ln) for ln in lines]})


@router.delete(
    "/encounters/{encounter_id}/fees/{sn}",
    tags=["fees"],
    responses=ERRORS,
    summary="2302 费用明细撤销: cancel one line (and its refunds)",
)
def cancel_fee(
    encounter_id: str,
    sn: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
) -> Response:
    return mut(
        None,
        200,
        lambda m: {
            "encounter_id": encounter_id,
            "cancelled": uc.cancel_fees(uow, ctx, caller, encounter_id, sn, msgid=m),
        },
    )


@router.delete(
    "/encounters/{encounter_id}/fees",
    tags=["fees"],
    responses=ERRORS,
    summary="2302 费用明细撤销 (0000): cancel every line",
)
def cancel_all_fees(encounter_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return mut(
        None,
        200,
        lambda m: {
            "encounter_id": encounter_id,
            "cancelled": uc.cancel_fees(uow, ctx, caller, encounter_id, None, msgid=m),
        },
    )


@router.post(
    "/encounters/{encounter_id}/discharge",
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="2402 出院办理",
)
def discharge(
    encounter_id: str,
    body: DischargeIn,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
) -> Response:
    diags = tuple(uc.Diagnosis(d.code, d.main) for d in body.diagnoses)
    return mut(
        body.model_dump(mode="json"),
        200,
        lambda m: encounter_doc(
            caller,
            uc.discharge(uow, ctx, caller, encounter_id, body.discharge_time, diags, msgid=m),
        ),
    )


@router.post(
    "/encounters/{encounter_id}/presettlement",
    response_model=SettlementOut,
    tags=["settlements"],
    responses=ERRORS,
    summary="2303 预结算: what the settlement would be; nothing is booked",
)
def presettle(encounter_id: str, body: SettleIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    r = uc.presettle(
        uow,
        ctx,
        caller,
        encounter_id,
        discharge_date=body.discharge_date,
        medfee_sumamt=body.medfee_sumamt,
        acct_used=body.acct_used,
    )
    return send(200, settlement_doc(caller, r))


@router.post(
    "/encounters/{encounter_id}/settlement",
    status_code=201,
    response_model=SettlementOut,
    tags=["settlements"],
    responses=ERRORS,
    summary="2304 结算: settle, book the ledger, move accumulators and account",
    description="When the stay cannot settle yet (enrolment not imported, a transfer-in "
    "whose sending stay is unsettled, no fee lines) it is deferred instead: 202 with the "
    "deferral (先救治、后结算; docs/OFFLINE.md). Asked again, a deferred stay settles if "
    "it is ready by now.",
)
def settle(
    encounter_id: str,
    body: SettleIn,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
) -> Response:
    return mut(
        body.model_dump(mode="json"),
        201,
        lambda m: _settled_or_deferred(
            caller,
            deferred.settle_or_defer(
                uow,
                ctx,
                caller,
                encounter_id,
                discharge_date=body.discharge_date,
                medfee_sumamt=body.medfee_sumamt,
                acct_used=body.acct_used,
                msgid=m,
            ),
        ),
    )


def _settled_or_deferred(caller: Principal, r: uc.Settled | deferred.Deferral) -> Any:
    if isinstance(r, deferred.Deferral):
        return Answer(202, deferral_doc(r))
    return settlement_doc(caller, r)


@router.get(
    "/settlements/{settlement_id}",
    response_model=SettlementOut,
    tags=["settlements"],
    responses=ERRORS,
    summary="A stored settlement or reversal, with its trace",
)
def get_settlement(settlement_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, settlement_doc(caller, uc.settlement(uow, caller, settlement_id)))


@router.post(
    "/settlements/{settlement_id}/reversal",
    status_code=201,
    response_model=SettlementOut,
    tags=["settlements"],
    responses=ERRORS,
    summary="2305 结算撤销: the exact negation; the stay can be settled again",
)
def reverse(
    settlement_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
    body: ReversalIn | None = None,
) -> Response:
    enc_id = body.encounter_id if body else None
    return mut(
        enc_id,
        201,
        lambda m: settlement_doc(
            caller, uc.reverse(uow, ctx, caller, settlement_id, encounter_id=enc_id, msgid=m)
        ),
    )


# -- compensation, statements, audit, ledger --------------------------------------------------


@router.post(
    "/compensations",
    tags=["compensations"],
    responses=ERRORS,
    summary="2601 冲正: undo what a request id (msgid / Idempotency-Key) did",
)
def create_compensation(
    body: CompensationIn, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut
) -> Response:
    def run(m: str | None) -> dict[str, Any]:
        c = compensate(uow, ctx, caller, body.msgid, body.infno, by_msgid=m)
        return {"msgid": c.msgid, "infno": c.infno, "undone": c.undone, "repeated": c.repeated}

    return mut(body.model_dump(mode="json"), 200, run)
