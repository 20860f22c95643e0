"""The REST resources under ``/v1``: thin adapters over ``yibao.services`` (docs/API.md).

Every route parses its body with a Pydantic model, calls ONE service function and
renders the answer. A mutating route honours ``Idempotency-Key``: the first answer is
stored with the change, in its transaction; the same key and body get it back byte for
byte (header ``Idempotent-Replayed: true``), the same key with another body is 409.
ID numbers and names are masked unless the caller's role may see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Header, Query, Request, Response

from yibao.adapters.api.app import Caller, Ctx, Uow, dumps
from yibao.adapters.api.schemas import (
    AdmissionIn,
    CompensationIn,
    DischargeIn,
    EncounterOut,
    FeesIn,
    FeesOut,
    Problem,
    ReconciliationIn,
    ReversalIn,
    SettleIn,
    SettlementOut,
)
from yibao.core.engine.model import Accumulators
from yibao.core.engine.serialize import settlement_to_dict
from yibao.core.ledger.reconcile import DetailRow, Totals
from yibao.services import deferred, reports
from yibao.services import encounters as uc
from yibao.services.access import Principal, digest, require, show_name, show_psn_no
from yibao.services.context import CST
from yibao.services.requests import Reply, compensate, replay_or_run

router = APIRouter(prefix="/v1")
JSON = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 422)
}
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="Repeat-safe request id: same key + same body = the same answer",
    ),
]


def _send(status: int, doc: Any) -> Response:
    return Response(dumps(doc), status, media_type=JSON)


class Answer(NamedTuple):
    """A ``run`` result whose status is not the route's usual one (202 for a deferral)."""

    status: int
    doc: Any


def _status_doc(status: int, out: Any) -> tuple[int, Any]:
    return (out.status, out.doc) if isinstance(out, Answer) else (status, out)


def _mutate(
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Principal,
    key: str | None,
    asked: Any,
    status: int,
    run: Any,
) -> Response:
    """Run ``run(msgid)`` once per (caller, Idempotency-Key) and answer."""
    if key is None:
        return _send(*_status_doc(status, run(None)))
    op = f"{request.method} {request.url.path}"
    fingerprint = digest([op, asked])
    reply = replay_or_run(
        uow,
        caller,
        key=key,
        channel="rest",
        operation=op,
        fingerprint=fingerprint,
        now=ctx.now(),
        run=lambda: _reply(*_status_doc(status, run(key))),
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return Response(reply.body, reply.status, media_type=reply.content_type, headers=headers)


def _reply(status: int, doc: Any) -> Reply:
    return Reply(status, JSON, dumps(doc))


# -- renderers -----------------------------------------------------------------------------


def _acc(a: Accumulators) -> dict[str, int]:
    return {
        "basic_entitled_fen": a.basic_entitled_fen,
        "serious_base_fen": a.serious_base_fen,
        "assistance_entitled_fen": a.assistance_entitled_fen,
    }


def encounter_doc(caller: Principal, e: uc.EncounterState) -> dict[str, Any]:
    return {
        "id": e.id,
        "provider_code": e.provider_code,
        "insuree_id": show_psn_no(caller, e.insuree_id),
        "insured_region": e.insured_region,
        "insutype": e.scheme_code,
        "med_type": e.med_type,
        "admit_time": e.admit_time,
        "discharge_time": e.discharge_time,
        "discharge_date": e.discharge_date,
        "diagnoses": [{"code": d.code, "main": d.main} for d in e.diagnoses],
        "covid_status": e.covid_status,
        "filing": e.filing,
        "transfer_from": e.transfer_from,
        "status": e.status,
        "settlement_id": e.settlement_id,
        "version": e.version,
    }


def settlement_doc(caller: Principal, r: uc.Settled) -> dict[str, Any]:
    """``settlement_to_dict`` plus ids (a reversal: its negated amounts, no lines)."""
    head: dict[str, Any] = {
        "settlement_id": r.settlement_id,
        "kind": r.kind,
        "reverses": r.reverses,
        "insuree_id": show_psn_no(caller, r.insuree_id),
        "provider_code": r.provider_code,
        "med_type": r.med_type,
        "clr_type": r.clr_type,
        "discharge_date": r.discharge_date,
        "settled_at": r.settled_at,
        "booked_on": r.booked_on,
        "msgid": r.msgid,
        "central_share_bp": r.central_share_bp,
        "account_balance_before_fen": r.balance_before_fen,
        "accumulators_before": _acc(r.accumulators_before),
    }
    if r.kind == "reversal":
        head.update(
            {
                "encounter_id": r.encounter_id,
                "unit": "fen",
                "setlinfo": {k: -v for k, v in r.settlement.setlinfo._asdict().items()},
            }
        )
    else:
        head.update(settlement_to_dict(r.settlement, with_trace=False))
        head["trace"] = r.trace
    head["accumulators_after"] = _acc(r.accumulators_after)
    head["account_balance_after_fen"] = r.balance_after_fen
    return head


def _line_doc(ln: uc.StoredLine, split: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sn": ln.sn,
        "reverses_sn": ln.reverses_sn,
        "code": ln.code,
        "hospital_code": ln.hospital_code,
        "category": ln.category,
        "item_class": ln.item_class,
        "selfpay_bp": ln.selfpay_bp,
        "price_fen": ln.price_fen,
        "qty_milli": ln.qty_milli,
        "amount_fen": ln.amount_fen,
        "price_cap_fen": ln.price_cap_fen,
        "in_protocol": ln.in_protocol,
        "temp_code": ln.temp_code,
        "catalog_region": ln.catalog_region,
        "protocol_edition": ln.protocol_edition,
        "service_date": ln.service_date,
        "cancelled": ln.cancelled,
    }
    if split is not None:
        doc["split"] = {
            "fulamt_ownpay_amt": split.fulamt_ownpay_amt,
            "overlmt_amt": split.overlmt_amt,
            "preselfpay_amt": split.preselfpay_amt,
            "inscp_scp_amt": split.inscp_scp_amt,
            "rule": split.rule,
        }
    return doc


# -- insurees --------------------------------------------------------------------------------


@router.get(
    "/insurees/{psn_no}",
    tags=["insurees"],
    responses=ERRORS,
    summary="1101 人员信息获取: enrolment, account balance, this year's accumulators",
)
def get_insuree(
    psn_no: str, uow: Uow, caller: Caller, ctx: Ctx, on: dt.date | None = None
) -> Response:
    day = on or ctx.now().astimezone(CST).date()
    v = reports.insuree(uow, caller, psn_no, day)
    s = v.snapshot
    return _send(
        200,
        {
            "insuree_id": show_psn_no(caller, s.psn_no),
            "name": show_name(caller, s.name),
            "scheme": s.scheme,
            "resident_tier": s.resident_tier,
            "insured_region": s.insured_region,
            "assistance_category": s.assistance_category,
            "enrolled": s.enrolled,
            "valid_from": s.valid_from,
            "valid_to": s.valid_to,
            "account_balance_fen": v.account_balance_fen,
            "year": v.year,
            "accumulators": _acc(v.accumulators),
            "on": day,
        },
    )


@router.get(
    "/insurees/{psn_no}/cumulative",
    tags=["insurees"],
    responses=ERRORS,
    summary="5206 人员累计信息查询: accumulators and what each fund paid",
)
def get_cumulative(
    psn_no: str, uow: Uow, caller: Caller, year: Annotated[int, Query(ge=2000, le=2100)]
) -> Response:
    c = reports.cumulative(uow, caller, psn_no, year)
    return _send(
        200,
        {
            "insuree_id": show_psn_no(caller, c.insuree_id),
            "scheme": c.scheme,
            "year": c.year,
            "accumulators": _acc(c.accumulators),
            "paid_by_fund_fen": c.paid_by_fund,
        },
    )


# -- encounters ------------------------------------------------------------------------------


@router.post(
    "/encounters",
    status_code=201,
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="2401 入院办理: admit a patient at the caller's hospital",
)
def create_encounter(
    body: AdmissionIn, request: Request, uow: Uow, ctx: Ctx, caller: Caller, key: IdemKey = None
) -> Response:
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
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    found = uc.encounters(
        uow, caller, insuree_id=insuree_id, status=status, limit=limit, offset=offset
    )
    return _send(200, {"encounters": [encounter_doc(caller, e) for e in found]})


@router.get(
    "/encounters/{encounter_id}",
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="One encounter (its current state)",
)
def get_encounter(encounter_id: str, uow: Uow, caller: Caller) -> Response:
    return _send(200, encounter_doc(caller, uc.encounter(uow, caller, encounter_id)))


@router.post(
    "/encounters/{encounter_id}/cancellation",
    response_model=EncounterOut,
    tags=["encounters"],
    responses=ERRORS,
    summary="2404 入院办理撤销: cancel an admission without fee lines",
)
def cancel_encounter(
    encounter_id: str, request: Request, uow: Uow, ctx: Ctx, caller: Caller, key: IdemKey = None
) -> Response:
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    key: IdemKey = None,
) -> Response:
    fees = [
        uc.FeeIn(
            f.sn,
            f.code,
            f.price_fen,
            f.qty_milli,
            f.amount_fen,
            f.reverses_sn,
            None,
            f.service_time,
            f.dept,
            f.doctor,
            f.order_no,
        )
        for f in body.lines
    ]

    def run(m: str | None) -> dict[str, Any]:
        up = uc.upload_fees(uow, ctx, caller, encounter_id, fees, msgid=m)
        return {
            "encounter_id": encounter_id,
            "new": up.new,
            "lines": [_line_doc(ln, r) for ln, r in zip(up.lines, up.results, strict=True)],
        }

    return _mutate(request, uow, ctx, caller, key, body.model_dump(mode="json"), 200, run)


@router.get(
    "/encounters/{encounter_id}/fees",
    tags=["fees"],
    responses=ERRORS,
    summary="Every fee line of an encounter, cancelled ones too",
)
def list_fees(encounter_id: str, uow: Uow, caller: Caller) -> Response:
    lines = uc.encounter_lines(uow, caller, encounter_id)
    return _send(200, {"encounter_id": encounter_id, "lines": [_line_doc(ln) for ln in lines]})


@router.delete(
    "/encounters/{encounter_id}/fees/{sn}",
    tags=["fees"],
    responses=ERRORS,
    summary="2302 费用明细撤销: cancel one line (and its refunds)",
)
def cancel_fee(
    encounter_id: str,
    sn: str,
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    key: IdemKey = None,
) -> Response:
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
def cancel_all_fees(
    encounter_id: str, request: Request, uow: Uow, ctx: Ctx, caller: Caller, key: IdemKey = None
) -> Response:
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    key: IdemKey = None,
) -> Response:
    diags = tuple(uc.Diagnosis(d.code, d.main) for d in body.diagnoses)
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
    return _send(200, settlement_doc(caller, r))


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
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    key: IdemKey = None,
) -> Response:
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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


def deferral_doc(d: deferred.Deferral) -> dict[str, Any]:
    """A deferral as the API shows it (no personal data beyond the stay's id)."""
    return {
        "deferral_id": d.id,
        "encounter_id": d.encounter_id,
        "status": "deferred" if d.open else "settled",
        "reason": d.reason,
        "provider_code": d.provider_code,
        "discharge_date": d.discharge_date,
        "medfee_sumamt": d.medfee_sumamt,
        "advance_fen": d.advance_fen,
        "provisional": d.provisional,
        "deferred_at": d.deferred_at,
        "cleared_at": d.cleared_at,
        "settlement_id": d.settlement_id,
    }


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
    return _send(200, settlement_doc(caller, uc.settlement(uow, caller, settlement_id)))


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
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    key: IdemKey = None,
    body: ReversalIn | None = None,
) -> Response:
    enc_id = body.encounter_id if body else None
    return _mutate(
        request,
        uow,
        ctx,
        caller,
        key,
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
    body: CompensationIn, request: Request, uow: Uow, ctx: Ctx, caller: Caller, key: IdemKey = None
) -> Response:
    def run(m: str | None) -> dict[str, Any]:
        c = compensate(uow, ctx, caller, body.msgid, body.infno, by_msgid=m)
        return {"msgid": c.msgid, "infno": c.infno, "undone": c.undone, "repeated": c.repeated}

    return _mutate(request, uow, ctx, caller, key, body.model_dump(mode="json"), 200, run)


def _totals(t: Totals) -> dict[str, int]:
    return t._asdict()


@router.get(
    "/reconciliation",
    tags=["reconciliation"],
    responses=ERRORS,
    summary="Our daily totals per provider, fund type (scheme), clr_type and day",
)
def get_daily_totals(
    uow: Uow, caller: Caller, begin: dt.date, end: dt.date, provider_code: str | None = None
) -> Response:
    got = reports.daily_totals(uow, caller, provider_code=provider_code, begin=begin, end=end)
    rows = [
        {
            "provider_code": k.provider_code,
            "scheme": k.scheme,
            "clr_type": k.clr_type,
            "day": k.day,
            **_totals(t),
        }
        for k, t in sorted(got.items())
    ]
    return _send(200, {"begin": begin, "end": end, "totals": rows})


@router.post(
    "/reconciliation",
    tags=["reconciliation"],
    responses=ERRORS,
    summary="3201 对总账 / 3202 对明细账: compare the hospital's totals with ours",
)
def post_reconciliation(body: ReconciliationIn, uow: Uow, caller: Caller) -> Response:
    d = body.declared
    declared = Totals(
        d.medfee_sumamt, d.fund_pay_sumamt, d.acct_pay, d.psn_cash_pay, d.settlement_count
    )
    rows = [
        DetailRow(
            r.settlement_id,
            r.encounter_id,
            r.insuree_id,
            r.refund,
            r.medfee_sumamt,
            r.fund_pay_sumamt,
            r.acct_pay,
        )
        for r in body.detail or []
    ]
    st = reports.reconcile(
        uow,
        caller,
        provider_code=body.provider_code,
        begin=body.begin,
        end=body.end,
        declared=declared,
        scheme=body.scheme,
        clr_type=body.clr_type,
        detail=body.detail is not None,
        declared_rows=rows,
    )
    return _send(
        200,
        {
            "provider_code": st.provider_code,
            "begin": st.begin,
            "end": st.end,
            "balanced": st.result.balanced,
            "ours": _totals(st.ours),
            "declared": _totals(st.declared),
            "differences": [d._asdict() for d in st.result.differences],
            "detail": None
            if body.detail is None
            else [
                {
                    "settlement_id": x.settlement_id,
                    "refund": x.refund,
                    "status": x.status,
                    "differences": [d._asdict() for d in x.differences],
                }
                for x in st.detail_diffs
            ],
        },
    )


@router.get(
    "/audit",
    tags=["audit"],
    responses=ERRORS,
    summary="The audit log, newest first (auditors, admins)",
)
def get_audit(
    uow: Uow,
    caller: Caller,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    return _send(
        200,
        {
            "entries": reports.audit_entries(
                uow, caller, entity=entity, entity_id=entity_id, limit=limit
            )
        },
    )


@router.get(
    "/ledger/check",
    tags=["ledger"],
    responses=ERRORS,
    summary="What `yibao ledger check` proves: trial balance, settlements, accumulators",
)
def ledger_check(uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    require(caller, "ledger.read")
    problems = reports.ledger_problems(uow, ctx.packs)
    return _send(200, {"ok": not problems, "problems": problems})
