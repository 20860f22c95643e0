"""``POST /nhsa`` handlers of the stay-change and stay-query transactions (2403, 2405,
5203, 5303, 5304), merged into ``nhsa.HANDLERS``; an entry here replaces the one there
for the same infno.

Each makes one service call (``encounters.changes``, ``reports.stay_queries``); a
service's problem is answered under the national key path (``input.adminfo.mdtrt_id``,
``input.diseinfo[0].diag_code``, ``input.data.setl_id``). 5203 and 5303 show an
insuree's data: each answer is audited as a personal read (``personal.read``, as 1101).
docs/NHSA.md, "Stay changes and queries".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from yibao.adapters import nhsa
from yibao.adapters.nhsa import codes
from yibao.adapters.nhsa.exchange import wire_time
from yibao.adapters.nhsa.numbers import JsonNumber
from yibao.adapters.nhsa.stay import (
    AdmissionChangeRequest,
    DischargeCancel,
    SettlementQuery,
    StayQuery,
    TransferQuery,
)
from yibao.core.errors import InvalidRequest
from yibao.core.registry.identity import age_on, birth_date, sex_code
from yibao.services.access.rights import Principal, show_name, show_psn_no
from yibao.services.encounters import changes
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import stay_queries
from yibao.store.uow import UnitOfWork

Handler = Callable[[UnitOfWork, Context, Principal, Any, nhsa.RequestEnvelope], Any]


def _renamed(exc: InvalidRequest, names: Mapping[str, str]) -> InvalidRequest:
    """A service's problems under the national key paths (diagnoses: ``diseinfo[i]``)."""
    out = []
    for path, msg in exc.problems:
        parts = path.split(".")
        if parts[0] == "diagnoses" and len(parts) == 3:
            tail = {"code": "diag_code", "main": "maindiag_flag"}.get(parts[2], parts[2])
            path = f"input.diseinfo[{parts[1]}].{tail}"
        elif parts[0] == "diagnoses":
            path = "input.diseinfo"
        out.append((names.get(path, path), msg))
    return InvalidRequest.of(out)


def _own_insuree(enc: uc.EncounterState, psn_no: str, where: str) -> None:
    if enc.insuree_id != psn_no:
        raise InvalidRequest.of([(where, f"is not the insuree of {enc.id}")])


def person_fields(who: Principal, psn_no: str, name: str | None, scheme: str, on: dt.date,
                  cert_type: str | None = None) -> dict[str, object]:  # fmt: skip
    """The person fields of an answer as 1101 and 2304 write them (docs/NHSA.md, "Person
    fields"): sex, birth date and age from the ID number, the birth date and age only
    where the caller is shown the number unmasked."""
    shown = who.sees_personal
    born, age = birth_date(psn_no), age_on(psn_no, on)
    return {
        "psn_name": show_name(who, name) if name else None,
        "psn_cert_type": "01",
        "certno": show_psn_no(who, psn_no),
        "gend": sex_code(psn_no) or codes.GEND_UNKNOWN,
        "naty": None,
        "brdy": born.isoformat() if shown and born else None,
        "age": JsonNumber(str(age)) if shown and age is not None else None,
        "psn_type": codes.psn_type_of(scheme, age),
        "cvlserv_flag": codes.CVLSERV_NO,
        "mdtrt_cert_type": cert_type,
    }


_2403_NAMES = {"encounter_id": "input.adminfo.mdtrt_id", "med_type": "input.adminfo.med_type",
               "admit_time": "input.adminfo.begntime"}  # fmt: skip


def _2403(
    uow: UnitOfWork,
    ctx: Context,
    who: Principal,
    q: AdmissionChangeRequest,
    env: nhsa.RequestEnvelope,
) -> Any:
    try:
        enc = uc.encounter(uow, who, q.encounter_id)
        _own_insuree(enc, q.insuree_id, "input.adminfo.psn_no")
        diags = tuple(uc.Diagnosis(d.code, d.main) for d in q.diagnoses) or None
        change = changes.AdmissionChange(diags, q.med_type, q.admit_time)
        changes.change_admission(uow, ctx, who, q.encounter_id, change, msgid=env.msgid)
    except InvalidRequest as exc:
        raise _renamed(exc, _2403_NAMES) from None
    return None


def _2405(
    uow: UnitOfWork, ctx: Context, who: Principal, q: DischargeCancel, env: nhsa.RequestEnvelope
) -> Any:
    try:
        enc = uc.encounter(uow, who, q.encounter_id)
        _own_insuree(enc, q.insuree_id, "input.data.psn_no")
        changes.cancel_discharge(uow, ctx, who, q.encounter_id, msgid=env.msgid)
    except InvalidRequest as exc:
        raise _renamed(exc, {"encounter_id": "input.data.mdtrt_id"}) from None
    return None


_QUERY_NAMES = {"insuree_id": "input.data.psn_no", "settlement_id": "input.data.setl_id",
                "encounter_id": "input.data.mdtrt_id"}  # fmt: skip


def _5203(
    uow: UnitOfWork, _ctx: Context, who: Principal, q: SettlementQuery, env: nhsa.RequestEnvelope
) -> Any:
    try:
        a = stay_queries.settlement_answer(uow, who, insuree_id=q.insuree_id,
                                           settlement_id=q.settlement_id,
                                           encounter_id=q.encounter_id)  # fmt: skip
    except InvalidRequest as exc:
        raise _renamed(exc, _QUERY_NAMES) from None
    r = a.settled
    person = person_fields(who, r.insuree_id, a.insuree_name, a.scheme, r.discharge_date)
    out = nhsa.settlement_output(
        r.settlement,
        setl_id=r.settlement_id,
        msgid=r.msgid or env.msgid,  # medins_setl_id: the settling message's, as 2304 said
        setl_time=r.settled_at,
        med_type=r.med_type,
        clr_type=r.clr_type,
        clr_way=codes.CLR_WAY_BY_ITEM,
        clr_optins=a.encounter.insured_region,
        person=person,
        balc_fen=r.balance_after_fen,
        reversal=r.kind == "reversal",
    )
    return out


def _5303(
    uow: UnitOfWork, _ctx: Context, who: Principal, q: StayQuery, _env: nhsa.RequestEnvelope
) -> Any:
    try:
        stays = stay_queries.open_stays(uow, who, q.insuree_id)
    except InvalidRequest as exc:
        raise _renamed(exc, _QUERY_NAMES) from None
    rows = []
    for s in stays:
        e = s.encounter
        scheme = codes.scheme_of(e.scheme_code) if e.scheme_code else None
        person = person_fields(who, e.insuree_id, s.insuree_name, scheme or "none",
                               e.admit_date)  # fmt: skip
        main = [d.code for d in e.diagnoses if d.main]
        rows.append({
            "mdtrt_id": e.id, "psn_no": show_psn_no(who, e.insuree_id),
            **{k: person[k] for k in ("psn_cert_type", "certno", "psn_name", "gend", "brdy",
                                      "age")},
            "insutype": e.scheme_code, "begntime": wire_time(e.admit_time),
            "begndate": e.admit_date.isoformat(), "med_type": e.med_type, "ipt_otp_no": None,
            "insuplc_admdvs": e.insured_region,
            "fixmedins_code": e.provider_code, "fixmedins_name": s.provider_name,
            "dept_codg": None, "dept_name": None,
            "dise_codg": main[0] if main else None,
            "diseinfo": [{"diag_code": d.code, "maindiag_flag": "1" if d.main else "0"}
                         for d in e.diagnoses],
        })  # fmt: skip
    return {"data": rows}


def _5304(
    uow: UnitOfWork, _ctx: Context, who: Principal, q: TransferQuery, _env: nhsa.RequestEnvelope
) -> Any:
    begin = q.begin.astimezone(CST).date() if q.begin else None
    end = q.end.astimezone(CST).date() if q.end else None
    try:
        filings = stay_queries.transfer_filings(uow, who, q.insuree_id, begin=begin, end=end)
    except InvalidRequest as exc:
        raise _renamed(exc, {**_QUERY_NAMES, "end": "input.data.endtime"}) from None
    rows = []
    for f in filings:
        person = person_fields(who, f.insuree_id, f.insuree_name, f.scheme, f.transfer_date)
        rows.append({
            "trt_dcla_detl_sn": f.id, "mdtrt_id": f.from_encounter_id,
            "insutype": codes.INSUTYPE.get(f.scheme), "dcla_souc": None,
            "psn_no": show_psn_no(who, f.insuree_id),
            **{k: person[k] for k in ("psn_cert_type", "certno", "psn_name", "gend", "brdy")},
            "tel": None, "addr": None, "insu_optins": f.insured_region, "emp_name": None,
            "diag_code": f.diagnoses[0] if f.diagnoses else None, "diag_name": None,
            "dise_cond_dscr": None, "fixmedins_code": f.from_provider,
            "reflin_medins_no": f.to_provider, "reflin_medins_name": f.to_provider_name,
            "out_flag": None, "refl_date": f.transfer_date.isoformat(), "refl_rea": f.reason,
            "begndate": f.valid_from.isoformat(),
            "enddate": f.valid_to.isoformat() if f.valid_to else None,
            "hosp_agre_refl_flag": "1", "opter_id": None, "opter_name": None,
            "opt_time": wire_time(f.filed_at),
        })  # fmt: skip
    return {"refmedin": rows}


STAY_HANDLERS: dict[str, Handler] = {
    "2403": _2403,
    "2405": _2405,
    "5203": _5203,
    "5303": _5303,
    "5304": _5304,
}
"""infno -> handler (issue 16: stay changes and queries)."""
