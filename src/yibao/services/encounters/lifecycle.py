"""The encounter lifecycle: one function per use case, each one transaction (STYLE §5).

::

    admit (2401) ──> admitted ──discharge (2402)──> discharged
                       │  ▲                            │  ▲
      cancel (2404) ◄──┘  └─ undo discharge (2601)     │  │ reverse (2305)
          │                                 settle (2304, discharges too)
          ▼                                            ▼  │
      cancelled                                       settled

Fee lines (2301/2302) are uploaded and cancelled while the encounter is ``admitted`` or
``discharged``; a settled encounter's lines are frozen until its settlement is reversed.
A settlement of an encounter still ``admitted`` discharges it on the date given
(出院结算). Every change appends an ``encounter_events`` row (status from/to, who, when,
msgid) and an audit entry; the ``encounters`` row holds the current state. Issue 7 adds
``deferred`` (treat first, settle later) between ``discharged`` and ``settled``.

Settlement locks, in this order, the encounter row, the insuree-year accumulator row and
the insuree's account row (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction
begins IMMEDIATE), so two settlements of one insuree, from any hospitals, serialise and
never pay past a yearly cap, and one encounter is settled once.

This module holds admission, discharge and the reads; fee lines are in fees.py, the
settlement in settlement.py, what they share in encounter_state.py — all reached here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from yibao.core.errors import (
    Conflict,
    InsureeNotImported,
    InvalidRequest,
)
from yibao.core.privacy import mask_psn_no
from yibao.core.registry.regions import is_region
from yibao.services.access.rights import Principal, audit_op, require
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.fees import cancel_fees, upload_fees
from yibao.services.encounters.fees import cancel_lines as cancel_lines
from yibao.services.encounters.filing_check import decide_filing, inbound_region_problem
from yibao.services.encounters.settlement import engine_lines as engine_lines
from yibao.services.encounters.settlement import (
    presettle,
    reverse,
    reverse_standing,
    settle,
    settlement,
    stored_settled,
    transfer_blocker,
)
from yibao.services.encounters.state import (
    INPATIENT_CLR_TYPE,
    Admit,
    Diagnosis,
    EncounterState,
    FeeIn,
    NotYet,
    Settled,
    StoredLine,
    Uploaded,
    covid_status_of,
)

# Re-exported: the records, and the helpers other use cases call as ``uc._…``.
from yibao.services.encounters.state import OPEN as OPEN
from yibao.services.encounters.state import as_utc as as_utc
from yibao.services.encounters.state import aware as aware
from yibao.services.encounters.state import aware_or_none as aware_or_none
from yibao.services.encounters.state import business_day as business_day
from yibao.services.encounters.state import designated as designated
from yibao.services.encounters.state import engine_encounter as engine_encounter
from yibao.services.encounters.state import load_encounter as load_encounter
from yibao.services.encounters.state import record_change as record_change
from yibao.services.encounters.state import require_open as require_open
from yibao.services.encounters.validation import (
    LENGTH,
    MAX_I64,
    Checks,
    insutype_problem,
    med_type_problem,
    unknown_diseases,
)
from yibao.services.registry import catalog
from yibao.store.encounter_repo import Ops
from yibao.store.service_tables import STATUSES
from yibao.store.uow import UnitOfWork

__all__ = [
    "INPATIENT_CLR_TYPE",
    "Admit",
    "Diagnosis",
    "EncounterState",
    "FeeIn",
    "NotYet",
    "Settled",
    "StoredLine",
    "Uploaded",
    "admit",
    "cancel_admission",
    "cancel_fees",
    "covid_status_of",
    "discharge",
    "encounter",
    "encounter_lines",
    "encounters",
    "presettle",
    "reverse",
    "reverse_standing",
    "settle",
    "settlement",
    "stored_settled",
    "transfer_blocker",
    "undo_discharge",
    "upload_fees",
]

# -- admission -------------------------------------------------------------------------------


def admit(uow: UnitOfWork, ctx: Context, caller: Principal, cmd: Admit, *,
          msgid: str | None, platform: bool = False) -> EncounterState:  # fmt: skip
    """2401 入院办理: a new encounter at the caller's hospital. ``platform``: the
    national platform's refusals too (the envelope): an insuree already admitted (在院)
    anywhere, and an ``insutype`` (310/390) that contradicts the enrolment."""
    require(caller, "encounter.write")
    _admission_checks(ctx, cmd).done()
    assert caller.provider_code is not None  # a hospital key always has one
    at, day = ctx.now(), business_day(cmd.admit_time)
    with uow(write=True):
        prov = designated(ctx, uow, caller.provider_code, day)
        _known_diagnoses(uow, ctx, cmd.diagnoses, day)
        region = _insured_region(uow, ctx, cmd, day)
        on_file = decide_filing(uow, ctx, psn_no=cmd.insuree_id, insured_region=region,
                                provider=prov, claimed=cmd.filing, day=day)  # fmt: skip
        cmd = replace(cmd, filing=on_file.filing)
        version = 2 if on_file.corrected else 1  # the correction is the stay's 2nd event
        if cmd.transfer_from is None:  # a filed transfer (2501) to this hospital links it
            filed = uow.deferrals.transfer_source(cmd.insuree_id, caller.provider_code, day)
            linked = filed and uow.hospital.encounter(filed)
            if linked and linked.status != "cancelled":  # a cancelled stay sends no one
                cmd = replace(cmd, transfer_from=filed)
        elif (src := uow.hospital.encounter(cmd.transfer_from)) is None or (
                src.psn_no != cmd.insuree_id):  # fmt: skip
            raise InvalidRequest.of([("transfer_from", f"no encounter {cmd.transfer_from} "
                                      "of this insuree")])  # fmt: skip
        elif src.status == "cancelled":
            raise InvalidRequest.of([("transfer_from", f"encounter {cmd.transfer_from} is "
                                      "cancelled: a cancelled stay transfers no one")])  # fmt: skip
        if platform:
            _platform_admission(uow, cmd, day)
        enc_id = new_id("M", at)
        diags = [{"code": d.code, "main": d.main} for d in cmd.diagnoses]
        row = {
            "id": enc_id, "provider_code": caller.provider_code, "psn_no": cmd.insuree_id,
            "insured_region": region, "scheme_code": cmd.scheme_code,
            "med_type": cmd.med_type, "admit_time": as_utc(cmd.admit_time), "admit_date": day,
            "discharge_time": None, "discharge_date": None, "diagnoses": diags,
            "covid_status": cmd.covid_status, "filing": cmd.filing,
            "transfer_from": cmd.transfer_from, "status": "admitted", "settlement_id": None,
            "admit_msgid": msgid, "version": version, "created_at": at, "updated_at": at,
            "source_key": None,
        }  # fmt: skip
        state = EncounterState(enc_id, caller.provider_code, cmd.insuree_id, region,
                               cmd.scheme_code, cmd.med_type, as_utc(cmd.admit_time), day, None,
                               None, cmd.diagnoses, cmd.covid_status, cmd.filing,
                               cmd.transfer_from, "admitted", None, version)  # fmt: skip
        flagged: list[tuple[Any, Any]] = [] if not on_file.corrected else [
            # the hospital's claim kept in the stay's history, the difference flagged
            (Ops.insert_event, {"encounter_id": enc_id, "seq": 2, "kind": "filing_corrected",
                                "status_from": "admitted", "status_to": "admitted", "at": at,
                                "actor": caller.actor, "msgid": msgid, "detail": on_file.detail()}),
            audit_op(caller, "encounter.filing_corrected", "encounter", enc_id, before=None,
                     after=None, at=at, msgid=msgid, detail=on_file.detail()),
        ]  # fmt: skip
        uow.hospital.batch([
            (Ops.insert_encounter, row),
            (Ops.insert_event, {"encounter_id": enc_id, "seq": 1, "kind": "admitted",
                                "status_from": None, "status_to": "admitted", "at": at,
                                "actor": caller.actor, "msgid": msgid, "detail": {}}),
            audit_op(caller, "encounter.admitted", "encounter", enc_id, before=None,
                     after=state.audit_view(), at=at, msgid=msgid),
            *flagged,
        ])  # fmt: skip
        uow.commit()
    return state


def _admission_checks(ctx: Context, cmd: Admit) -> Checks:
    """What 2401 must satisfy before anything is looked up (services.validation)."""
    c = Checks(ctx.now())
    c.psn_no("insuree_id", cmd.insuree_id)
    c.add("med_type", med_type_problem(cmd.med_type))
    if cmd.scheme_code is not None:
        c.add("insutype", insutype_problem(cmd.scheme_code))
    c.time("admit_time", cmd.admit_time)
    if cmd.covid_status not in (None, "confirmed", "suspected", "none"):
        c.add("covid_status", f"{cmd.covid_status!r} is not confirmed|suspected|none")
    if cmd.filing not in ("registered", "unregistered", "not_needed"):
        c.add("filing", f"{cmd.filing!r} is not registered|unregistered|not_needed")
    c.code("transfer_from", cmd.transfer_from, LENGTH["transfer_from"])
    if cmd.insured_region is not None and not c.code("insured_region", cmd.insured_region,
                                                     LENGTH["insured_region"]):  # fmt: skip
        c.add("insured_region", None if is_region(cmd.insured_region) else
              "is not a 6-digit administrative region code (行政区划代码)")  # fmt: skip
    _diagnosis_checks(c, cmd.diagnoses)
    return c


def _diagnosis_checks(c: Checks, diagnoses: Sequence[Diagnosis]) -> None:
    if len(diagnoses) > _MAX_DIAGNOSES:
        c.add("diagnoses", f"more than {_MAX_DIAGNOSES} diagnoses")
    for i, d in enumerate(diagnoses):
        c.code(f"diagnoses.{i}.code", d.code, LENGTH["diagnosis"])
        c.flag(f"diagnoses.{i}.main", d.main)
    if len({d.code for d in diagnoses}) != len(diagnoses):
        c.add("diagnoses", "a diagnosis code is listed twice")


_MAX_DIAGNOSES = 50
_MAX_PAGE = 1000


def _known_diagnoses(uow: UnitOfWork, ctx: Context, diagnoses: Sequence[Diagnosis],
                     day: dt.date) -> None:  # fmt: skip
    """Every diagnosis code is in the disease registry (医保病种编码) from ``day`` on."""
    pairs = [(f"diagnoses.{i}.code", d.code) for i, d in enumerate(diagnoses)]
    if problems := unknown_diseases(uow, pairs, day, ctx.now()):
        raise InvalidRequest.of(problems)


_INSUTYPE = {"employee": "310", "resident": "390"}


def _platform_admission(uow: UnitOfWork, cmd: Admit, day: dt.date) -> None:
    """What the national platform refuses on 2401 beyond the service's own checks. The
    stay a filed transfer (2501) sends the patient from may still be open (转院)."""
    open_stays = uow.hospital.encounters(provider_code=None, psn_no=cmd.insuree_id,
                                         status="admitted", limit=2, offset=0)  # fmt: skip
    if [e for e in open_stays if e.id != cmd.transfer_from]:
        raise InvalidRequest.of([("insuree_id", "is already admitted (在院): discharge (2402) "
                                  "or cancel (2404) that stay first")])  # fmt: skip
    if cmd.scheme_code not in _INSUTYPE.values():
        return  # a local insutype (39999) is the region's to check
    try:
        scheme = catalog.insuree_snapshot(uow, cmd.insuree_id, day).scheme
    except InsureeNotImported:
        return  # admitted on insured_region, settled when the enrolment is imported
    if _INSUTYPE.get(scheme) != cmd.scheme_code:
        raise InvalidRequest.of(
            [
                (
                    "insutype",
                    f"{cmd.scheme_code} contradicts the enrolment "
                    f"({_INSUTYPE.get(scheme) or '未参保 none'}) on {day}",
                )
            ]
        )


def _insured_region(uow: UnitOfWork, ctx: Context, cmd: Admit, day: dt.date) -> str:
    """The insured place: the enrolment's; with none imported yet, the hospital's
    ``insured_region`` (the stay is admitted and settles later, 先救治、后结算)."""
    try:
        return catalog.insuree_snapshot(uow, cmd.insuree_id, day).insured_region
    except InsureeNotImported:
        if cmd.insured_region is None:
            raise InsureeNotImported(
                f"insuree {mask_psn_no(cmd.insuree_id)}: no enrolment imported for {day} "
                "(参保信息尚未导入): give insured_region (insuplc_admdvs) to admit now "
                "and settle once it is imported") from None  # fmt: skip
        diags = tuple(d.code for d in cmd.diagnoses)
        if (why := inbound_region_problem(uow, ctx, cmd.insured_region, cmd.covid_status,
                                          diags)) is not None:  # fmt: skip
            raise InvalidRequest.of([("insured_region", why)]) from None
        return cmd.insured_region


def cancel_admission(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
                     msgid: str | None) -> EncounterState:  # fmt: skip
    """2404 入院办理撤销: only an encounter with no standing fee lines or settlement."""
    require(caller, "encounter.write")
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        state = cancel_admission_in(uow, ctx, caller, enc, msgid)
        uow.commit()
    return state


def cancel_admission_in(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                      msgid: str | None) -> EncounterState:  # fmt: skip
    if enc.status == "cancelled":
        return enc
    require_open(enc, "cancel the admission")
    if uow.hospital.active_lines(enc.id):
        raise Conflict(f"encounter {enc.id} has fee lines: cancel them first (2302)")
    return record_change(uow, caller, enc, "admission_cancelled", "cancelled", ctx.now(), msgid)


# -- discharge ------------------------------------------------------------------------------


def discharge(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
              discharge_time: dt.datetime, diagnoses: Sequence[Diagnosis] = (), *,
              msgid: str | None) -> EncounterState:  # fmt: skip
    """2402 出院办理: ``admitted`` -> ``discharged``, with the discharge diagnoses when
    given. A settled encounter discharged on the same date is a repeat; another date is
    a conflict (reverse the settlement first)."""
    require(caller, "encounter.write")
    c = Checks(ctx.now())
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    c.time("discharge_time", discharge_time)
    _diagnosis_checks(c, diagnoses)
    c.done()
    at, day = ctx.now(), business_day(discharge_time)
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        if enc.status in ("settled", "discharged") and enc.discharge_date == day:
            return enc
        if enc.status != "admitted":
            raise Conflict(f"encounter {enc.id} is {enc.status}"
                           + (f", discharged on {enc.discharge_date}" if enc.discharge_date else "")
                           + f": cannot discharge it on {day}")  # fmt: skip
        if day < enc.admit_date:
            raise InvalidRequest.of([("discharge_time", f"{day} is before admission on "
                                      f"{enc.admit_date}")])  # fmt: skip
        _known_diagnoses(uow, ctx, diagnoses, day)
        values: dict[str, Any] = {"discharge_time": as_utc(discharge_time), "discharge_date": day}
        if diagnoses:
            values["diagnoses"] = [{"code": d.code, "main": d.main} for d in diagnoses]
        state = record_change(uow, caller, enc, "discharged", "discharged", at, msgid,
                        {"discharge_date": day.isoformat()}, **values)  # fmt: skip
        uow.commit()
    return state


def undo_discharge(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                   msgid: str | None) -> EncounterState:  # fmt: skip
    """Back to ``admitted`` (冲正 of a 2402): inside the caller's transaction."""
    if enc.status != "discharged":
        raise Conflict(f"encounter {enc.id} is {enc.status}: cannot undo its discharge")
    return record_change(uow, caller, enc, "discharge_undone", "admitted", ctx.now(), msgid,
                   discharge_time=None, discharge_date=None)  # fmt: skip


# -- reads ---------------------------------------------------------------------------------


def encounter(uow: UnitOfWork, caller: Principal, encounter_id: str) -> EncounterState:
    """One encounter (a hospital: its own only)."""
    require(caller, "encounter.read")
    with uow:
        return load_encounter(uow, caller, encounter_id, lock=False)


def encounter_lines(uow: UnitOfWork, caller: Principal, encounter_id: str) -> list[StoredLine]:
    """Every fee line of an encounter, cancelled ones too."""
    require(caller, "encounter.read")
    with uow:
        load_encounter(uow, caller, encounter_id, lock=False)
        return [StoredLine.of(r) for r in uow.hospital.lines(encounter_id)]


def encounters(uow: UnitOfWork, caller: Principal, *, insuree_id: str | None = None,
               status: str | None = None, limit: int = 50,
               offset: int = 0) -> list[EncounterState]:  # fmt: skip
    """Encounters, newest first (a hospital: its own only)."""
    require(caller, "encounter.read")
    c = Checks()
    c.code("insuree_id", insuree_id, LENGTH["insuree_id"])
    if status is not None and status not in STATUSES:
        c.add("status", f"is not one of {', '.join(STATUSES)}")
    c.integer("limit", limit, 1, _MAX_PAGE)
    c.integer("offset", offset, 0, MAX_I64)
    c.done()
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        rows = uow.hospital.encounters(provider_code=provider, psn_no=insuree_id, status=status,
                                       limit=limit, offset=offset)  # fmt: skip
    return [EncounterState.of(r) for r in rows]
