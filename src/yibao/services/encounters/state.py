"""What the encounter use cases share: their records (``EncounterState``, ``StoredLine``,
``Settled`` …), ``NotYet``, and the helpers that load an encounter under its lock and
record a change of it (an ``encounter_events`` row and an audit entry). The use cases
are in encounters.py (admission, discharge, reads), fees.py (2301/2302) and
settlement.py (2303/2304/2305)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import update

from yibao.core import engine
from yibao.core.engine.model import Accumulators, Line, LineResult, Settlement
from yibao.core.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from yibao.core.policy.model import OverlayVersion
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, audit_op, own
from yibao.services.encounters.context import CST, Context
from yibao.services.encounters.validation import LENGTH, code_problem
from yibao.services.registry import catalog
from yibao.store.encounter_repo import Op, Ops
from yibao.store.service_tables import Encounter
from yibao.store.uow import UnitOfWork
from yibao.store.writes import Writes

INPATIENT_CLR_TYPE = "21"
"""清算类别 of inpatient settlements (2301–2305 are the 住院 transactions; "21" is the
national code seen for 住院: docs/NHSA.md)."""

OPEN = ("admitted", "discharged")


# -- records -----------------------------------------------------------------------------


class NotYet(Conflict):
    """A stay that cannot settle *yet* (先救治、后结算): ``reason`` is the deferred
    queue's (``awaiting_transfer``, ``not_enrolled``, ``offline``), or ``deferred`` for a
    stay already queued. Raised before the settlement writes anything (locking a
    not-enrolled insuree's accumulator and account rows may create them at zero, as any
    settlement of theirs would), so ``deferred.settle_or_defer`` tries the settlement
    first and looks for the blocker only when this is raised."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str  # insurance disease code (医保病种编码), e.g. B99.900
    main: bool  # 主诊断


@dataclass(frozen=True, slots=True)
class Admit:
    """2401 入院办理, in our words."""

    insuree_id: str
    med_type: str
    admit_time: dt.datetime  # aware
    diagnoses: tuple[Diagnosis, ...]
    covid_status: str | None = None  # None: from the diagnoses at settlement
    filing: str = "not_needed"  # 异地就医备案
    transfer_from: str | None = None
    scheme_code: str | None = None  # insutype as the hospital sent it
    insured_region: str | None = None  # 参保地 (insuplc_admdvs): used when no enrolment
    # is imported yet (参保信息尚未导入: admit, treat, settle later — docs/OFFLINE.md)


@dataclass(frozen=True, slots=True)
class FeeIn:
    """One fee line to upload (2301): the wire's ``pric`` × 10^6 and ``cnt`` × 10^4.
    ``qty_e4`` < 0 with ``reverses_sn`` is a refund."""

    sn: str
    code: str  # national or hospital code (对码)
    price_e6: int  # 单价 pric × 10^6
    qty_e4: int  # 数量 cnt × 10^4, negative on a refund
    amount_fen: int | None = None  # None: price × qty rounded half up
    reverses_sn: str | None = None
    hospital_code: str | None = None
    service_time: dt.datetime | None = None
    dept: str | None = None
    doctor: str | None = None
    order_no: str | None = None


@dataclass(frozen=True, slots=True)
class EncounterState:
    """An encounter as it stands."""

    id: str
    provider_code: str
    insuree_id: str
    insured_region: str
    scheme_code: str | None
    med_type: str
    admit_time: dt.datetime
    admit_date: dt.date
    discharge_time: dt.datetime | None
    discharge_date: dt.date | None
    diagnoses: tuple[Diagnosis, ...]
    covid_status: str | None
    filing: str
    transfer_from: str | None
    status: str
    settlement_id: str | None
    version: int

    @classmethod
    def of(cls, r: Any) -> EncounterState:
        diags = tuple(Diagnosis(d["code"], bool(d["main"])) for d in r.diagnoses)
        return cls(r.id, r.provider_code, r.psn_no, r.insured_region, r.scheme_code, r.med_type,
                   aware(r.admit_time), r.admit_date, aware_or_none(r.discharge_time),
                   r.discharge_date, diags, r.covid_status, r.filing, r.transfer_from, r.status,
                   r.settlement_id, r.version)  # fmt: skip

    def audit_view(self) -> dict[str, Any]:
        """What the audit log hashes (the insuree masked: hashes of the same state agree)."""
        return {"id": self.id, "status": self.status, "version": self.version,
                "settlement_id": self.settlement_id, "discharge_date": self.discharge_date,
                "insuree": mask_psn_no(self.insuree_id),
                "provider": self.provider_code}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoredLine:
    sn: str
    reverses_sn: str | None
    code: str
    hospital_code: str | None
    category: str
    item_class: str
    selfpay_bp: int
    price_e6: int
    qty_e4: int
    amount_fen: int
    price_cap_e6: int | None
    in_protocol: bool
    temp_code: bool
    catalog_region: str
    protocol_edition: int | None
    service_date: dt.date
    cancelled: bool

    @classmethod
    def of(cls, r: Any) -> StoredLine:
        return cls(r.sn, r.reverses_sn, r.code, r.hospital_code, r.category, r.item_class,
                   r.selfpay_bp, r.price_e6, r.qty_e4, r.amount_fen, r.price_cap_e6,
                   r.in_protocol, r.temp_code, r.catalog_region, r.protocol_edition,
                   r.service_date, r.cancelled_at is not None)  # fmt: skip

    def engine_line(self, qty_e4: int | None = None) -> Line:
        return Line(sn=self.sn, code=self.code, category=self.category,  # type: ignore[arg-type]
                    item_class=self.item_class, selfpay_bp=self.selfpay_bp,  # type: ignore[arg-type]
                    price_e6=self.price_e6, qty_e4=self.qty_e4 if qty_e4 is None else qty_e4,
                    price_cap_e6=self.price_cap_e6, in_protocol=self.in_protocol,
                    temp_code=self.temp_code)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Uploaded:
    """2301's answer: every line of the upload (new or repeated) with its split."""

    encounter: EncounterState
    lines: tuple[StoredLine, ...]
    results: tuple[LineResult, ...]  # the split of each line (refunds negative)
    new: int  # lines written by this call (0 for a repeat)


@dataclass(frozen=True, slots=True)
class Settled:
    """A settlement, reversal or pre-settlement, with what the answer needs."""

    kind: str  # settlement | reversal | presettlement
    settlement_id: str | None  # None for a pre-settlement
    reverses: str | None
    settlement: Settlement  # the engine's result (for a reversal: the reversed one)
    trace: list[dict[str, Any]]
    encounter_id: str
    provider_code: str
    insuree_id: str
    insuree_name: str | None
    med_type: str
    clr_type: str
    discharge_date: dt.date
    settled_at: dt.datetime
    booked_on: dt.date | None
    balance_before_fen: int
    balance_after_fen: int
    accumulators_before: Accumulators
    accumulators_after: Accumulators
    central_share_bp: int
    msgid: str | None
    actor: str


# -- helpers -------------------------------------------------------------------------------


def aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def as_utc(t: dt.datetime) -> dt.datetime:
    """Stored times are UTC (SQLite keeps no zone: it would lose any other offset)."""
    return t.astimezone(dt.UTC)


def aware_or_none(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else aware(t)


def business_day(t: dt.datetime) -> dt.date:
    return t.astimezone(CST).date()


def load_encounter(
    uow: UnitOfWork, caller: Principal, encounter_id: str, *, lock: bool
) -> EncounterState:
    if (why := code_problem(encounter_id, LENGTH["encounter_id"])) is not None:
        raise InvalidRequest.of([("encounter_id", why)])
    row = uow.hospital.encounter(encounter_id, lock=lock)
    if row is None:
        raise NotFound(f"encounter {encounter_id} not found")
    own(caller, row.provider_code, f"encounter {encounter_id}")
    return EncounterState.of(row)


def change_ops(caller: Principal, enc: EncounterState, kind: str, status: str,
                at: dt.datetime, msgid: str | None, detail: dict[str, Any] | None = None,
                **values: Any) -> tuple[list[Op], EncounterState]:  # fmt: skip
    """The statements that move the encounter — its row, the event, the audit entry —
    and the state after them (run them with ``uow.hospital.batch``)."""
    version = enc.version + 1
    fields = {k: v for k, v in values.items() if k in _FIELDS}
    if "diagnoses" in values:
        fields["diagnoses"] = tuple(Diagnosis(d["code"], d["main"]) for d in values["diagnoses"])
    after = replace(enc, status=status, version=version, **fields)
    if set(values) <= _FIELDS:  # the prebuilt statement: every state column bound
        row = {"eid": enc.id, "status": status, "version": version, "at": at,
               "settlement_id": after.settlement_id, "discharge_date": after.discharge_date,
               "discharge_time": after.discharge_time and as_utc(after.discharge_time)}  # fmt: skip
        todo: list[Op] = [(Ops.move_encounter, row)]
    else:
        q = update(Encounter).where(Encounter.id == enc.id).values(
            status=status, version=version, updated_at=at, **values)  # fmt: skip
        todo = [(q, {})]
    todo.append((Ops.insert_event, {"encounter_id": enc.id, "seq": version, "kind": kind,
                                    "status_from": enc.status, "status_to": status, "at": at,
                                    "actor": caller.actor, "msgid": msgid,
                                    "detail": detail or {}}))  # fmt: skip
    todo.append(audit_op(caller, f"encounter.{kind}", "encounter", enc.id,
                         before=enc.audit_view(), after=after.audit_view(), at=at, msgid=msgid,
                         detail=detail))  # fmt: skip
    return todo, after


def record_change(uow: UnitOfWork, caller: Principal, enc: EncounterState, kind: str, status: str,
            at: dt.datetime, msgid: str | None, detail: dict[str, Any] | None = None,
            **values: Any) -> EncounterState:  # fmt: skip
    """Move the encounter now: update its row, append the event and the audit entry."""
    todo, after = change_ops(caller, enc, kind, status, at, msgid, detail, **values)
    uow.hospital.batch(todo)
    return after


_FIELDS = frozenset({"discharge_time", "discharge_date", "settlement_id"})


def change_into(w: Writes, caller: Principal, enc: EncounterState, kind: str, status: str,
                msgid: str | None, detail: dict[str, Any] | None = None,
                **values: Any) -> EncounterState:  # fmt: skip
    """Add the encounter's move to ``w`` — its row (``settlement_id`` and
    ``discharge_date`` in ``values``), the event, the audit entry — at ``w``'s time, and
    return the state after it (written by ``uow.hospital.write_booking``)."""
    if not set(values) <= {"settlement_id", "discharge_date"}:
        raise ValueError(f"an encounter move sets settlement_id and discharge_date, not {values}")
    at, version = w.at, enc.version + 1
    after = replace(enc, status=status, version=version, **values)
    w.move(enc.id, status=status, version=version, settlement_id=after.settlement_id,
           discharge_date=after.discharge_date)  # fmt: skip
    w.append("encounter_events", {"encounter_id": enc.id, "seq": version, "kind": kind,
                                  "status_from": enc.status, "status_to": status, "at": at,
                                  "actor": caller.actor, "msgid": msgid,
                                  "detail": detail or {}})  # fmt: skip
    w.append("audit_log", audit_op(caller, f"encounter.{kind}", "encounter", enc.id,
                                   before=enc.audit_view(), after=after.audit_view(), at=at,
                                   msgid=msgid, detail=detail)[1])  # fmt: skip
    return after


def require_open(enc: EncounterState, what: str, also: tuple[str, ...] = ()) -> None:
    if enc.status not in OPEN and enc.status not in also:
        hint = " (reverse its settlement first)" if enc.status == "settled" else ""
        raise Conflict(f"encounter {enc.id} is {enc.status}: cannot {what}{hint}")


def covid_status_of(diagnoses: Sequence[Diagnosis], overlay: OverlayVersion | None) -> str:
    """确诊 / 疑似 from the diagnoses when the hospital did not say: a main diagnosis
    among the overlay's disease codes is confirmed; one only among the secondary
    diagnoses (疑似 Z03.800x001 is never a main diagnosis) is suspected (DECISIONS 0043)."""
    if overlay is None:
        return "none"
    codes = overlay.disease_codes
    if any(d.main and d.code in codes for d in diagnoses):
        return "confirmed"
    return "suspected" if any(d.code in codes for d in diagnoses) else "none"


def designated(ctx: Context, uow: UnitOfWork, code: str, on: dt.date) -> catalog.ProviderSnapshot:
    p = ctx.provider(uow, code, on)
    if not p.designated:
        raise Forbidden(f"provider {code} is not a designated provider (定点医疗机构) on {on}")
    return p


def engine_encounter(enc: EncounterState, discharge: dt.date, seq: int,
                      v: OverlayVersion | None) -> engine.Encounter:  # fmt: skip
    status = enc.covid_status or covid_status_of(enc.diagnoses, v)
    codes = tuple(d.code for d in sorted(enc.diagnoses, key=lambda d: not d.main))
    return engine.Encounter(enc.id, enc.med_type, enc.admit_date, discharge, codes,
                            status, enc.filing, seq,  # type: ignore[arg-type]
                            enc.transfer_from)  # fmt: skip
