"""``POST /nhsa``: the national platform's envelope (定点医药机构接口), one endpoint for
every implemented ``infno``: decode (``yibao.adapters.nhsa``) → ONE service call →
encode, written with ``nhsa.dumps`` so amounts are exact yuan numbers.

The hospital authenticates with its API key; ``fixmedins_code`` must be the key's. The
``msgid`` is unique per hospital: a repeat with the same ``infno`` and ``input`` gets
the first answer as stored; with another, infcode -1. Business errors answer HTTP 200
with ``infcode: -1`` and ``err_msg`` (the platform's way); only a missing or bad key is
an HTTP 401 (problem+json).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from yibao.adapters import nhsa
from yibao.adapters.api.deps import Caller, Ctx, Uow
from yibao.adapters.api.nhsa_exchange import EXCHANGE_HANDLERS
from yibao.adapters.api.schemas import ERRORS
from yibao.adapters.nhsa import records as rec
from yibao.adapters.nhsa.fields import CST
from yibao.core.errors import Forbidden, InvalidRequest, YibaoError
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import (
    Principal,
    audit_read,
    audit_refusal,
    digest,
    show_name,
    show_psn_no,
)
from yibao.services.deferred import queue as deferred
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import transfers
from yibao.services.encounters.context import Context
from yibao.services.encounters.requests import Reply, compensate, replay_or_run
from yibao.services.reports import reads as reports
from yibao.store.uow import UnitOfWork

router = APIRouter()
log = logging.getLogger("yibao.nhsa")
JSON = "application/json"
_REGION = re.compile(r"^\d{6}$")

Handler = Callable[[UnitOfWork, Context, Principal, Any, nhsa.RequestEnvelope], Any]


async def _raw(request: Request) -> bytes:
    return await request.body()


def _diagnoses(ds: tuple[rec.Diagnosis, ...]) -> tuple[uc.Diagnosis, ...]:
    return tuple(uc.Diagnosis(d.code, d.main) for d in ds)


def _1101(
    uow: UnitOfWork, ctx: Context, who: Principal, q: rec.PersonQuery, _env: nhsa.RequestEnvelope
) -> Any:
    psn = q.insuree_id or q.id_no or q.cert_no
    on = (q.at or ctx.now()).astimezone(CST).date()
    v = reports.insuree(uow, who, psn, on)
    s = v.snapshot
    base = {
        "psn_no": show_psn_no(who, s.psn_no),
        "psn_cert_type": "01",
        "certno": show_psn_no(who, s.psn_no),
        "psn_name": show_name(who, s.name),
    }
    insu = {
        "insutype": nhsa.codes.INSUTYPE.get(s.scheme),
        "balc": nhsa.yuan(v.account_balance_fen),
        "insuplc_admdvs": s.insured_region,
        "psn_insu_stas": "1" if s.enrolled else "0",
        "psn_insu_date": s.valid_from.isoformat(),
        "paus_insu_date": None,
    }
    return {"baseinfo": base, "insuinfo": [insu], "idetinfo": []}


def _2401(
    uow: UnitOfWork, ctx: Context, who: Principal, a: rec.Admission, env: nhsa.RequestEnvelope
) -> Any:
    cmd = uc.Admit(
        a.insuree_id,
        a.med_type,
        a.admit_time,
        _diagnoses(a.diagnoses),
        scheme_code=a.scheme_code,
        insured_region=a.insured_region,
    )
    e = uc.admit(uow, ctx, who, cmd, msgid=env.msgid)
    return {"result": {"mdtrt_id": e.id, "psn_no": a.insuree_id, "ipt_otp_no": a.inpatient_no}}


def _2404(
    uow: UnitOfWork, ctx: Context, who: Principal, c: rec.AdmissionCancel, env: nhsa.RequestEnvelope
) -> Any:
    uc.cancel_admission(uow, ctx, who, c.encounter_id, msgid=env.msgid)
    return None


def _2301(
    uow: UnitOfWork,
    ctx: Context,
    who: Principal,
    lines: tuple[rec.FeeLine, ...],
    env: nhsa.RequestEnvelope,
) -> Any:
    ids = {f.encounter_id for f in lines}
    if len(ids) != 1:
        raise InvalidRequest.of([("input.feedetail", "every line must name one mdtrt_id")])
    fees = [
        uc.FeeIn(
            sn=f.sn,
            code=f.code,
            price_e6=f.price_e6,
            qty_e4=f.qty_e4,
            amount_fen=f.amount_fen,
            reverses_sn=f.reverses_sn,
            hospital_code=f.hospital_code,
            service_time=f.service_time,
            dept=f.dept,
            doctor=f.doctor,
            order_no=f.order_no,
        )
        for f in lines
    ]
    up = uc.upload_fees(uow, ctx, who, ids.pop(), fees, msgid=env.msgid)
    engine_lines = [ln.engine_line() for ln in up.lines]
    return nhsa.fee_results(engine_lines, up.results)


def _2302(
    uow: UnitOfWork, ctx: Context, who: Principal, c: rec.FeeCancel, env: nhsa.RequestEnvelope
) -> Any:
    uc.cancel_fees(uow, ctx, who, c.encounter_id, c.sn, msgid=env.msgid)
    return None


def _settled(r: uc.Settled, who: Principal, env: nhsa.RequestEnvelope, **kw: Any) -> Any:
    person = {
        "psn_name": show_name(who, r.insuree_name) if r.insuree_name else None,
        "psn_cert_type": "01",
        "certno": show_psn_no(who, r.insuree_id),
    }
    return nhsa.settlement_output(
        r.settlement,
        setl_id=r.settlement_id,
        msgid=env.msgid,
        setl_time=r.settled_at,
        med_type=r.med_type,
        clr_type=r.clr_type,
        person=person,
        balc_fen=r.balance_after_fen,
        **kw,
    )


def _settle(
    uow: UnitOfWork,
    ctx: Context,
    who: Principal,
    q: rec.SettlementRequest,
    env: nhsa.RequestEnvelope,
) -> Any:
    day = env.inf_time.astimezone(CST).date() if env.inf_time else None
    enc = uc.encounter(uow, who, q.encounter_id)
    if enc.insuree_id != q.insuree_id:
        raise InvalidRequest.of([("input.data.psn_no", f"is not the insuree of {q.encounter_id}")])
    when = day if enc.discharge_date is None else None  # 出院结算: the transaction's day
    fn = uc.presettle if q.pre else deferred.settle_or_defer
    r = fn(
        uow,
        ctx,
        who,
        q.encounter_id,
        discharge_date=when,
        medfee_sumamt=q.medfee_sumamt,
        acct_used=q.acct_used,
        msgid=env.msgid,
    )
    if isinstance(r, deferred.Deferral):  # 先救治、后结算: infcode 0, no setlinfo yet
        return {"setlinfo": None, "setldetail": [], "deferral": _deferral(r)}
    return _settled(r, who, env)


def _deferral(d: deferred.Deferral) -> dict[str, Any]:
    return {
        "deferral_id": d.id,
        "mdtrt_id": d.encounter_id,
        "reason": d.reason,
        "medfee_sumamt": nhsa.yuan(d.medfee_sumamt),
        "advance_amt": nhsa.yuan(d.advance_fen),
        "dscg_date": d.discharge_date.isoformat(),
    }


def _2305(
    uow: UnitOfWork, ctx: Context, who: Principal, q: rec.ReversalRequest, env: nhsa.RequestEnvelope
) -> Any:
    r = uc.reverse(uow, ctx, who, q.settlement_id, encounter_id=q.encounter_id, msgid=env.msgid)
    return _settled(r, who, env, reversal=True)


def _2402(
    uow: UnitOfWork, ctx: Context, who: Principal, d: rec.Discharge, env: nhsa.RequestEnvelope
) -> Any:
    uc.discharge(
        uow, ctx, who, d.encounter_id, d.discharge_time, _diagnoses(d.diagnoses), msgid=env.msgid
    )
    return None


def _2501(
    uow: UnitOfWork, ctx: Context, who: Principal, t: rec.TransferFiling, env: nhsa.RequestEnvelope
) -> Any:
    f = transfers.file_transfer(
        uow,
        ctx,
        who,
        insuree_id=t.insuree_id,
        to_provider=t.to_provider_code,
        transfer_date=t.transfer_date,
        valid_from=t.valid_from,
        valid_to=t.valid_to,
        reason=t.reason,
        msgid=env.msgid,
    )
    return {"result": {"trt_dcla_detl_sn": f.id, "mdtrt_id": f.from_encounter_id}}


def _2502(
    uow: UnitOfWork, ctx: Context, who: Principal, t: rec.TransferCancel, env: nhsa.RequestEnvelope
) -> Any:
    transfers.cancel_transfer(uow, ctx, who, t.filing_id, insuree_id=t.insuree_id,
                              msgid=env.msgid)  # fmt: skip
    return None


def _2601(
    uow: UnitOfWork, ctx: Context, who: Principal, c: rec.Compensate, env: nhsa.RequestEnvelope
) -> Any:
    compensate(uow, ctx, who, c.original_msgid, c.original_infno, by_msgid=env.msgid)
    return None


def _5206(
    uow: UnitOfWork,
    _ctx: Context,
    who: Principal,
    q: rec.CumulativeQuery,
    _env: nhsa.RequestEnvelope,
) -> Any:
    c = reports.cumulative(uow, who, q.insuree_id, q.year)
    return nhsa.cumulative_output(
        scheme=c.scheme,
        year=q.year,
        month=q.month,
        accumulators=c.accumulators,
        paid_by_fund=c.paid_by_fund,
    )


def _statement(detail: bool) -> Handler:
    def handle(
        uow: UnitOfWork,
        _ctx: Context,
        who: Principal,
        q: rec.StatementRequest,
        env: nhsa.RequestEnvelope,
    ) -> Any:
        st = reports.reconcile(
            uow,
            who,
            provider_code=env.fixmedins_code,
            begin=q.begin,
            end=q.end,
            declared=q.declared,
            scheme=q.scheme,
            clr_type=q.clr_type,
            detail=detail,
        )
        return nhsa.statement_output(st.result, clearing_agency=q.clearing_agency)

    return handle


_DATA = {"encounter_id": "mdtrt_id", "insuree_id": "psn_no"}
_NATIONAL: dict[str, tuple[str, dict[str, str]]] = {
    "2401": ("input.mdtrtinfo", {"insuree_id": "psn_no", "med_type": "med_type",
                                 "insutype": "insutype", "admit_time": "begntime",
                                 "insured_region": "insuplc_admdvs"}),
    "2402": ("input.dscginfo", {"encounter_id": "mdtrt_id", "discharge_time": "endtime"}),
    "2404": ("input.data", _DATA),
    "2301": ("input.feedetail", {"sn": "feedetl_sn", "code": "med_list_codg",
                                 "hospital_code": "medins_list_codg", "price_e6": "pric",
                                 "qty_e4": "cnt", "amount_fen": "det_item_fee_sumamt",
                                 "reverses_sn": "init_feedetl_sn",
                                 "service_time": "fee_ocur_time", "dept": "bilg_dept_codg",
                                 "doctor": "bilg_dr_codg", "order_no": "drord_no",
                                 "encounter_id": "mdtrt_id"}),
    "2302": ("input.data", {**_DATA, "sn": "feedetl_sn"}),
    "2303": ("input.data", {**_DATA, "medfee_sumamt": "medfee_sumamt"}),
    "2304": ("input.data", {**_DATA, "medfee_sumamt": "medfee_sumamt"}),
    "2305": ("input.data", {**_DATA, "settlement_id": "setl_id"}),
    "2501": ("input.refmedin", {"insuree_id": "psn_no", "to_provider": "reflin_medins_no",
                                "transfer_date": "refl_date", "valid_from": "begndate",
                                "valid_to": "enddate", "reason": "refl_rea"}),
    "2502": ("input.data", {"insuree_id": "psn_no", "filing_id": "trt_dcla_detl_sn"}),
}  # fmt: skip
"""infno -> where its input's fields sit and our field name -> the national one: a
service's problem is answered under the national key path (docs/NHSA.md, "Validation")."""


def _national_path(infno: str, path: str) -> str:
    where, names = _NATIONAL.get(infno, ("input", {}))
    parts = path.split(".")
    if parts[0] == "diagnoses":  # 2401/2402: diseinfo rows
        tail = {"code": "diag_code", "main": "maindiag_flag"}
        return ".".join(["input.diseinfo", *(tail.get(p, p) for p in parts[1:])])
    if parts[0] == "lines" and len(parts) == 3:  # 2301: lines.N.field
        return f"{where}.{parts[1]}.{names.get(parts[2], parts[2])}"
    if parts[0] == "lines":
        return where
    return f"{where}.{names[path]}" if path in names else path


def _in_national_terms(infno: str, exc: InvalidRequest) -> InvalidRequest:
    """A service's ``InvalidRequest`` naming the national key paths of ``infno``."""
    if not exc.problems:
        return exc
    return InvalidRequest.of([(_national_path(infno, p), m) for p, m in exc.problems])


HANDLERS: dict[str, Handler] = {
    "1101": _1101,
    "2301": _2301,
    "2302": _2302,
    "2303": _settle,
    "2304": _settle,
    "2305": _2305,
    "2401": _2401,
    "2402": _2402,
    "2404": _2404,
    "2501": _2501,
    "2502": _2502,
    "2601": _2601,
    "3201": _statement(False),
    "3202": _statement(True),
    "5206": _5206,
    **EXCHANGE_HANDLERS,
}
"""infno -> the one service call it makes."""


_PERSONAL = frozenset({"1101", "5206"})
"""Transactions whose answer shows an insuree's data: each answer is audited (personal.read)."""


def _answer(doc: dict[str, object]) -> Response:
    return Response(nhsa.dumps(doc), 200, media_type=JSON)


@router.post(
    "/nhsa",
    tags=["national envelope"],
    summary="The national envelope: infno 1101 2301-2305 2401 2402 2404 2501 2502 2601 3201 3202 "
    "5206",
    description="Request: the national envelope (infno, msgid, fixmedins_code, input …). "
    "Answer: the response envelope (infcode 0 / -1, inf_refmsgid, output, err_msg). "
    "Amounts in yuan with two decimals, exact. docs/NHSA.md and docs/API.md.",
    response_description="The national response envelope",
    responses={c: ERRORS[c] for c in (400, 401, 403, 422)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["infno", "msgid", "fixmedins_code", "input"],
                        "properties": {
                            "infno": {"type": "string", "example": "2304"},
                            "msgid": {"type": "string", "maxLength": 30},
                            "fixmedins_code": {"type": "string"},
                            "mdtrtarea_admvs": {"type": "string"},
                            "inf_time": {"type": "string", "example": "2020-02-12 10:00:00"},
                            "input": {"type": "object"},
                        },
                    }
                }
            },
        }
    },
)
def national(
    request: Request,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    body: Annotated[bytes, Depends(_raw)],
) -> Response:
    received = ctx.now()
    region, serial = "000000", secrets.randbelow(10**10)
    try:
        env = nhsa.parse_request(body)
        if _REGION.match(env.mdtrtarea_admvs or ""):
            region = env.mdtrtarea_admvs or region
        if caller.role != "hospital" or caller.provider_code != env.fixmedins_code:
            raise Forbidden(f"fixmedins_code {env.fixmedins_code} is not this key's hospital")
        decoded = nhsa.decode(env)
        unknown = env.unknown + decoded.unknown
        if unknown:
            log.info("msgid %s infno %s: unknown fields %s", env.msgid, env.infno, unknown)
        handler = HANDLERS.get(env.infno)
        if handler is None:
            raise InvalidRequest.of([("infno", f"transaction {env.infno} is not supported")])

        def run() -> Reply:
            try:
                out = handler(uow, ctx, caller, decoded.record, env)
            except InvalidRequest as exc:
                raise _in_national_terms(env.infno, exc) from None
            doc = nhsa.success_response(
                out, region=region, serial=serial, received_at=received, responded_at=ctx.now()
            )
            return Reply(200, JSON, nhsa.dumps(doc))

        fingerprint = digest([env.infno, env.input])
        reply = replay_or_run(
            uow,
            caller,
            key=env.msgid,
            channel="nhsa",
            operation=env.infno,
            fingerprint=fingerprint,
            now=received,
            run=run,
        )
        if env.infno in _PERSONAL and reply.status == 200:  # an insuree's data was shown
            who = getattr(decoded.record, "insuree_id", None) or getattr(
                decoded.record, "id_no", ""
            )
            audit_read(uow, caller, method="POST", route=f"/nhsa {env.infno}", entity="insuree",
                       entity_id=mask_psn_no(who or ""), at=ctx.now())  # fmt: skip
        return Response(reply.body, reply.status, media_type=reply.content_type)
    except YibaoError as exc:
        log.info("msgid answered infcode -1: %s", exc.code)
        if exc.status in (403, 404):  # refused inside the envelope: audited like REST's
            audit_refusal(uow, caller, status=exc.status, reason=exc.one_line(), method="POST",
                          route="/nhsa", entity="nhsa", entity_id="", at=ctx.now(),
                          budget=request.app.state.refusals)  # fmt: skip
        return _answer(
            nhsa.error_response(
                exc, region=region, serial=serial, received_at=received, responded_at=ctx.now()
            )
        )
