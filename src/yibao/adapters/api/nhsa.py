"""``POST /nhsa``: the national platform's envelope (定点医药机构接口), one endpoint for
every implemented ``infno``: decode (``yibao.adapters.nhsa``) → ONE service call →
encode, written with ``nhsa.dumps`` so amounts are exact yuan numbers.

The hospital authenticates with its API key, or with the national gateway's signed
headers (``x-tif-paasid``, ``x-tif-timestamp``, ``x-tif-nonce``, ``x-tif-signature``:
``access.gateway``); ``fixmedins_code`` must be the caller's. A ``sign_no`` (9001) given
must be an open sign-in of the hospital. The ``msgid`` is unique per hospital: a repeat
with the same ``infno`` and ``input`` gets the first answer as stored; with another,
infcode -1. Business errors answer HTTP 200 with ``infcode: -1`` and ``err_msg`` (the
platform's way), and so does a refused gateway signature; only a missing or bad API key
(no gateway headers) is an HTTP 401 (problem+json). A stay put off (先救治、后结算) is
never a success: infcode -1 naming the deferral (docs/NHSA.md, "Deferral").
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from yibao.adapters import nhsa
from yibao.adapters.api.deps import Ctx, Uow, get_caller
from yibao.adapters.api.nhsa_exchange import EXCHANGE_HANDLERS
from yibao.adapters.api.nhsa_stay import STAY_HANDLERS, person_fields
from yibao.adapters.api.schemas import ERRORS
from yibao.adapters.nhsa import codes
from yibao.adapters.nhsa import records as rec
from yibao.adapters.nhsa.fields import CST
from yibao.core.errors import Forbidden, InvalidRequest, YibaoError
from yibao.core.privacy import mask_psn_no
from yibao.services.access import gateway
from yibao.services.access.rights import (
    Principal,
    audit_read,
    audit_refusal,
    digest,
    show_psn_no,
)
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import transfers
from yibao.services.encounters.context import Context
from yibao.services.encounters.requests import Reply, compensate, replay_or_run
from yibao.services.reports import reads as reports
from yibao.services.stays.deferred import queue as deferred
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
    person = person_fields(who, s.psn_no, s.name, s.scheme, on)
    base = {"psn_no": show_psn_no(who, s.psn_no),
            **{k: person[k] for k in ("psn_cert_type", "certno", "psn_name", "gend", "naty",
                                      "brdy", "age")}}  # fmt: skip
    insu = (
        [
            {
                "insutype": codes.INSUTYPE[s.scheme],
                "balc": nhsa.yuan(v.account_balance_fen),
                "psn_type": person["psn_type"],
                "psn_insu_stas": codes.INSU_STAS["enrolled" if s.enrolled else "paused"],
                "psn_insu_date": s.valid_from.isoformat(),
                "paus_insu_date": None,
                "cvlserv_flag": codes.CVLSERV_NO,
                "insuplc_admdvs": s.insured_region,
                "emp_name": None,
            }
        ]
        if s.scheme in codes.INSUTYPE
        else []
    )  # fmt: skip  (未参保: no insuinfo row)
    idet = [{
        "psn_idet_type": codes.IDET_TYPE.get(s.assistance_category, s.assistance_category),
        "psn_type_lv": None,
        "memo": None,
        "begntime": None,
        "endtime": None,
    }] if s.assistance_category != "none" else []  # fmt: skip
    return {"baseinfo": base, "insuinfo": insu, "idetinfo": idet}


def _2401(
    uow: UnitOfWork, ctx: Context, who: Principal, a: rec.Admission, env: nhsa.RequestEnvelope
) -> Any:
    cmd = uc.Admit(
        a.insuree_id,
        a.med_type,
        a.admit_time,
        _diagnoses(a.diagnoses),
        scheme_code=a.scheme_code,
        insured_region=a.insured_region or env.insuplc_admdvs,
    )
    e = uc.admit(uow, ctx, who, cmd, msgid=env.msgid, platform=True)
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
    uow: UnitOfWork,
    ctx: Context,
    who: Principal,
    rows: tuple[rec.FeeCancel, ...],
    env: nhsa.RequestEnvelope,
) -> Any:
    for c in rows:  # one transaction: the replay wrapper's unit of work
        uc.cancel_fees(uow, ctx, who, c.encounter_id, c.sn, msgid=env.msgid)
    return None


def _settled(
    r: uc.Settled,
    who: Principal,
    env: nhsa.RequestEnvelope,
    enc: uc.EncounterState,
    cert_type: str | None,
    **kw: Any,
) -> Any:
    person = person_fields(who, r.insuree_id, r.insuree_name, r.settlement.facts.scheme,
                     r.discharge_date, cert_type)  # fmt: skip
    pre = r.settlement_id is None  # 2303: nothing is settled, so no time and no clearing
    return nhsa.settlement_output(
        r.settlement,
        setl_id=r.settlement_id,
        msgid=env.msgid,
        setl_time=None if pre else r.settled_at,
        med_type=r.med_type,
        clr_type=r.clr_type,
        clr_way=None if pre else codes.CLR_WAY_BY_ITEM,
        clr_optins=None if pre else enc.insured_region,
        person=person,
        balc_fen=r.balance_after_fen,
        **kw,
    )


@dataclass(frozen=True, slots=True)
class NotSettled:
    """A handler's answer that is not a success: infcode -1 with ``message`` and an
    ``output`` all the same (a deferral's id and reason), stored like a success so that
    a repeat of the msgid gets it byte for byte."""

    message: str
    output: dict[str, Any]


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
    if isinstance(r, deferred.Deferral):  # 先救治、后结算: not settled, and said so
        return NotSettled(_deferral_message(r), {"setlinfo": None, "setldetail": [],
                                                 "deferral": _deferral(r)})  # fmt: skip
    return _settled(r, who, env, enc, q.cert_type)


DEFERRAL_REASONS = {
    "not_enrolled": "参保信息尚未导入 (enrolment not imported yet)",
    "offline": "离线登记, 待补录 (captured offline)",
    "awaiting_transfer": "转出医院尚未结算 (the sending hospital has not settled)",
}
"""Why a stay was put off, in the clerk's words (``deferrals.reason``)."""


def _deferral_message(d: deferred.Deferral) -> str:
    why = DEFERRAL_REASONS.get(d.reason, d.reason)
    return (
        f"未结算: 先救治、后结算, 暂缓结算 {d.id}: {why}; 医院垫付 "
        f"{nhsa.yuan(d.advance_fen)} 元 (not settled: deferral {d.id}, {d.reason})"
    )


def _deferral(d: deferred.Deferral) -> dict[str, Any]:
    return {
        "deferral_id": d.id,
        "mdtrt_id": d.encounter_id,
        "reason": d.reason,
        "reason_dscr": DEFERRAL_REASONS.get(d.reason, d.reason),
        "medfee_sumamt": nhsa.yuan(d.medfee_sumamt),
        "advance_amt": nhsa.yuan(d.advance_fen),
        "dscg_date": d.discharge_date.isoformat(),
    }


def _2305(
    uow: UnitOfWork, ctx: Context, who: Principal, q: rec.ReversalRequest, env: nhsa.RequestEnvelope
) -> Any:
    r = uc.reverse(uow, ctx, who, q.settlement_id, encounter_id=q.encounter_id, msgid=env.msgid)
    enc = uc.encounter(uow, who, q.encounter_id)
    return _settled(r, who, env, enc, None, reversal=True)


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
    compensate(uow, ctx, who, c.original_msgid, c.original_infno, by_msgid=env.msgid,
               seen_only=True)  # fmt: skip
    return None


def _9001(
    uow: UnitOfWork, ctx: Context, who: Principal, q: rec.SignInRequest, _env: nhsa.RequestEnvelope
) -> Any:
    done = gateway.open_sign_in(uow, who, opter_no=q.operator, mac=q.mac, ip=q.ip,
                                now=ctx.now())  # fmt: skip
    return {"signinoutb": {"sign_time": f"{done.at.astimezone(CST):%Y-%m-%d %H:%M:%S}",
                           "sign_no": done.sign_no}}  # fmt: skip


def _9002(
    uow: UnitOfWork, ctx: Context, who: Principal, q: rec.SignOutRequest, _env: nhsa.RequestEnvelope
) -> Any:
    at = gateway.close_sign_in(uow, who, sign_no=q.sign_no, opter_no=q.operator, now=ctx.now())
    return {"signoutoutb": {"sign_time": f"{at.astimezone(CST):%Y-%m-%d %H:%M:%S}"}}


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
    "2601": ("input.data", {"insuree_id": "psn_no", "omsgid": "omsgid"}),
    "9001": ("input.signIn", {"opter_no": "opter_no", "mac": "mac", "ip": "ip"}),
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
    """A service's problem path in the platform's form: ``input.feedetail[3].pric``,
    ``input.diseinfo[0].diag_code`` (list indexes in brackets)."""
    where, names = _NATIONAL.get(infno, ("input", {}))
    parts = path.split(".")
    if parts[0] == "diagnoses" and len(parts) == 3 and parts[1].isdigit():  # diseinfo rows
        tail = {"code": "diag_code", "main": "maindiag_flag"}
        return f"input.diseinfo[{parts[1]}].{tail.get(parts[2], parts[2])}"
    if parts[0] == "diagnoses":
        return "input.diseinfo"
    if parts[0] == "lines" and len(parts) == 3:  # 2301: lines.N.field
        return f"{where}[{parts[1]}].{names.get(parts[2], parts[2])}"
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
    "9001": _9001,
    "9002": _9002,
    **EXCHANGE_HANDLERS,
    **STAY_HANDLERS,
}
"""infno -> the one service call it makes."""


_PERSONAL = frozenset({"1101", "5206", "5203", "5303", "5304"})
"""Transactions whose answer shows an insuree's data: each answer is audited (personal.read)."""

_NO_SIGN_NO = frozenset({"9001"})
"""Transactions that never need a ``sign_no`` (9001 issues it)."""


@dataclass(frozen=True, slots=True)
class NhsaConfig:
    """The deployment's choices for POST /nhsa (``YIBAO_GATEWAY_WINDOW_S``,
    ``YIBAO_NHSA_REQUIRE_SIGN_NO``); read once per app, replaceable on ``app.state``."""

    window_s: int = gateway.DEFAULT_WINDOW_S
    require_sign_no: bool = False


def _config(request: Request) -> NhsaConfig:
    state = request.app.state
    cfg = getattr(state, "nhsa", None)
    if not isinstance(cfg, NhsaConfig):
        from yibao import bootstrap

        s = bootstrap.settings()
        cfg = state.nhsa = NhsaConfig(s.gateway_window_s, s.nhsa_require_sign_no)
    return cfg


@dataclass(frozen=True, slots=True)
class GatewayHeaders:
    """The national gateway's headers, verified inside the envelope's answer."""

    paasid: str | None
    timestamp: str | None
    nonce: str | None
    signature: str | None


async def _caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
    x_api_key: Annotated[str | None, Header(description="or the key alone")] = None,
    x_tif_paasid: Annotated[str | None, Header(description="the gateway's client id")] = None,
    x_tif_timestamp: Annotated[str | None, Header(description="Unix seconds")] = None,
    x_tif_nonce: Annotated[str | None, Header(description="used once")] = None,
    x_tif_signature: Annotated[
        str | None, Header(description="sha256_hex(timestamp + token + nonce + timestamp)")
    ] = None,
) -> Principal | GatewayHeaders:
    """An API key's principal (a bad key: 401 problem+json), or, when any ``x-tif-*``
    header is present, the gateway's headers to verify (a refusal is answered in the
    envelope)."""
    tif = (x_tif_paasid, x_tif_timestamp, x_tif_nonce, x_tif_signature)
    if any(v is not None for v in tif):
        return GatewayHeaders(*tif)
    return await get_caller(request, authorization, x_api_key)


def _answer(doc: dict[str, object]) -> Response:
    return Response(nhsa.dumps(doc), 200, media_type=JSON)


@router.post(
    "/nhsa",
    tags=["national envelope"],
    summary="The national envelope: infno 1101 2301-2305 2401 2402 2404 2501 2502 2601 3201 3202 "
    "5206 9001 9002",
    description="Request: the national envelope (infno, msgid, fixmedins_code, input …). "
    "Answer: the response envelope (infcode 0 / -1, inf_refmsgid, output, err_msg). "
    "Amounts in yuan with two decimals, exact. Authenticate with an API key or the "
    "national gateway's x-tif-* headers. docs/NHSA.md and docs/API.md.",
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
                            "insuplc_admdvs": {"type": "string"},
                            "sign_no": {"type": "string", "maxLength": 30},
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
    who: Annotated[Principal | GatewayHeaders, Depends(_caller)],
    body: Annotated[bytes, Depends(_raw)],
) -> Response:
    received = ctx.now()
    region, serial = "000000", secrets.randbelow(10**10)
    cfg = _config(request)
    caller = who if isinstance(who, Principal) else None
    try:
        if isinstance(who, GatewayHeaders):
            caller = gateway.authenticate_gateway(
                uow, paasid=who.paasid, timestamp=who.timestamp, nonce=who.nonce,
                signature=who.signature, now=received, window_s=cfg.window_s)  # fmt: skip
        assert caller is not None
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
            raise InvalidRequest.of([("infno", f"交易 {env.infno} 不支持 (transaction "
                                      f"{env.infno} is not supported)")])  # fmt: skip
        principal = caller

        def run() -> Reply:
            if env.infno not in _NO_SIGN_NO:
                gateway.check_sign_no(uow, principal, env.sign_no,
                                      required=cfg.require_sign_no)  # fmt: skip
            try:
                out = handler(uow, ctx, principal, decoded.record, env)
            except InvalidRequest as exc:
                raise _in_national_terms(env.infno, exc) from None
            if isinstance(out, NotSettled):
                doc = nhsa.error_response(out.message, region=region, serial=serial,
                                          received_at=received, responded_at=ctx.now(),
                                          output=out.output)  # fmt: skip
            else:
                doc = nhsa.success_response(out, region=region, serial=serial,
                                            received_at=received,
                                            responded_at=ctx.now())  # fmt: skip
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
            shown = getattr(decoded.record, "insuree_id", None) or getattr(
                decoded.record, "id_no", ""
            )
            audit_read(uow, caller, method="POST", route=f"/nhsa {env.infno}", entity="insuree",
                       entity_id=mask_psn_no(shown or ""), at=ctx.now())  # fmt: skip
        return Response(reply.body, reply.status, media_type=reply.content_type)
    except YibaoError as exc:
        log.info("msgid answered infcode -1: %s", exc.code)
        if exc.status in (401, 403, 404):  # refused inside the envelope: audited like REST's
            refused = exc if isinstance(exc, gateway.GatewayRefused) else None
            audit_refusal(uow, caller, status=exc.status,
                          reason=refused.reason if refused else exc.one_line(), method="POST",
                          route="/nhsa", entity="nhsa", entity_id="", at=ctx.now(),
                          key_id=f"tif-{refused.paasid}" if refused and refused.paasid
                          else None, budget=request.app.state.refusals)  # fmt: skip
        return _answer(
            nhsa.error_response(
                exc, region=region, serial=serial, received_at=received, responded_at=ctx.now()
            )
        )
