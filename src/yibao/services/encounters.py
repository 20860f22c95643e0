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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import update

from yibao.core import engine, ledger
from yibao.core.engine.lines import settle_lines
from yibao.core.engine.model import Accumulators, Line, LineResult, Settlement
from yibao.core.engine.overlay import covid_applies
from yibao.core.errors import (
    Conflict,
    Forbidden,
    InsureeNotImported,
    InvalidRequest,
    NotFound,
    NotInCatalog,
    Problem,
)
from yibao.core.money import line_amount
from yibao.core.policy.model import OverlayVersion, Policy
from yibao.core.privacy import mask_psn_no
from yibao.services import catalog
from yibao.services.access import Principal, audit, audit_op, own, require
from yibao.services.context import CST, Context, new_id
from yibao.services.records import settlement_from_record, settlement_record
from yibao.store.hospital import Encounter, FeeLineRow, JournalPosting
from yibao.store.hospital_repo import Op, Ops, insert_rows, tx_rows
from yibao.store.uow import UnitOfWork

__all__ = [
    "INPATIENT_CLR_TYPE",
    "Admit",
    "Diagnosis",
    "EncounterState",
    "FeeIn",
    "NotYet",
    "Settled",
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
    "transfer_blocker",
    "undo_discharge",
    "upload_fees",
]

INPATIENT_CLR_TYPE = "21"
"""清算类别 of inpatient settlements (2301–2305 are the 住院 transactions; "21" is the
national code seen for 住院: docs/NHSA.md)."""

_OPEN = ("admitted", "discharged")


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
    """One fee line to upload (2301). ``qty_milli`` < 0 with ``reverses_sn`` is a refund."""

    sn: str
    code: str  # national or hospital code (对码)
    price_fen: int
    qty_milli: int
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
                   _aware(r.admit_time), r.admit_date, _aware_or_none(r.discharge_time),
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
    price_fen: int
    qty_milli: int
    amount_fen: int
    price_cap_fen: int | None
    in_protocol: bool
    temp_code: bool
    catalog_region: str
    protocol_edition: int | None
    service_date: dt.date
    cancelled: bool

    @classmethod
    def of(cls, r: Any) -> StoredLine:
        return cls(r.sn, r.reverses_sn, r.code, r.hospital_code, r.category, r.item_class,
                   r.selfpay_bp, r.price_fen, r.qty_milli, r.amount_fen, r.price_cap_fen,
                   r.in_protocol, r.temp_code, r.catalog_region, r.protocol_edition,
                   r.service_date, r.cancelled_at is not None)  # fmt: skip

    def engine_line(self, qty_milli: int | None = None) -> Line:
        return Line(self.sn, self.code, self.category, self.item_class, self.selfpay_bp,  # type: ignore[arg-type]
                    self.price_fen, self.qty_milli if qty_milli is None else qty_milli,
                    self.price_cap_fen, self.in_protocol, self.temp_code)  # fmt: skip


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


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def _utc(t: dt.datetime) -> dt.datetime:
    """Stored times are UTC (SQLite keeps no zone: it would lose any other offset)."""
    return t.astimezone(dt.UTC)


def _aware_or_none(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else _aware(t)


def _day(t: dt.datetime) -> dt.date:
    return t.astimezone(CST).date()


def _load(uow: UnitOfWork, caller: Principal, encounter_id: str, *, lock: bool) -> EncounterState:
    row = uow.hospital.encounter(encounter_id, lock=lock)
    if row is None:
        raise NotFound(f"encounter {encounter_id} not found")
    own(caller, row.provider_code, f"encounter {encounter_id}")
    return EncounterState.of(row)


def _change_ops(caller: Principal, enc: EncounterState, kind: str, status: str,
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
               "discharge_time": after.discharge_time and _utc(after.discharge_time)}  # fmt: skip
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


def _change(uow: UnitOfWork, caller: Principal, enc: EncounterState, kind: str, status: str,
            at: dt.datetime, msgid: str | None, detail: dict[str, Any] | None = None,
            **values: Any) -> EncounterState:  # fmt: skip
    """Move the encounter now: update its row, append the event and the audit entry."""
    todo, after = _change_ops(caller, enc, kind, status, at, msgid, detail, **values)
    uow.hospital.batch(todo)
    return after


_FIELDS = frozenset({"discharge_time", "discharge_date", "settlement_id"})


def _require_open(enc: EncounterState, what: str, also: tuple[str, ...] = ()) -> None:
    if enc.status not in _OPEN and enc.status not in also:
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


def _designated(ctx: Context, uow: UnitOfWork, code: str, on: dt.date) -> catalog.ProviderSnapshot:
    p = ctx.provider(uow, code, on)
    if not p.designated:
        raise Forbidden(f"provider {code} is not a designated provider (定点医疗机构) on {on}")
    return p


# -- admission -------------------------------------------------------------------------------


def admit(uow: UnitOfWork, ctx: Context, caller: Principal, cmd: Admit, *,
          msgid: str | None) -> EncounterState:  # fmt: skip
    """2401 入院办理: a new encounter at the caller's hospital."""
    require(caller, "encounter.write")
    problems: list[Problem] = []
    if cmd.admit_time.tzinfo is None:
        problems.append(("admit_time", "needs a time zone"))
    if cmd.covid_status not in (None, "confirmed", "suspected", "none"):
        problems.append(("covid_status", f"{cmd.covid_status!r} is not confirmed|suspected|none"))
    if cmd.filing not in ("registered", "unregistered", "not_needed"):
        problems.append(("filing", f"{cmd.filing!r} is not registered|unregistered|not_needed"))
    if len({d.code for d in cmd.diagnoses}) != len(cmd.diagnoses):
        problems.append(("diagnoses", "a diagnosis code is listed twice"))
    if problems:
        raise InvalidRequest.of(problems)
    assert caller.provider_code is not None  # a hospital key always has one
    at, day = ctx.now(), _day(cmd.admit_time)
    with uow(write=True):
        _designated(ctx, uow, caller.provider_code, day)
        region = _insured_region(uow, cmd, day)
        if cmd.transfer_from is None:  # a filed transfer (2501) to this hospital links it
            cmd = replace(cmd, transfer_from=uow.deferrals.transfer_source(
                cmd.insuree_id, caller.provider_code, day))  # fmt: skip
        if cmd.transfer_from is not None:
            src = uow.hospital.encounter(cmd.transfer_from)
            if src is None or src.psn_no != cmd.insuree_id:
                raise InvalidRequest.of([("transfer_from", f"no encounter {cmd.transfer_from} "
                                          "of this insuree")])  # fmt: skip
        enc_id = new_id("M", at)
        diags = [{"code": d.code, "main": d.main} for d in cmd.diagnoses]
        row = {
            "id": enc_id, "provider_code": caller.provider_code, "psn_no": cmd.insuree_id,
            "insured_region": region, "scheme_code": cmd.scheme_code,
            "med_type": cmd.med_type, "admit_time": _utc(cmd.admit_time), "admit_date": day,
            "discharge_time": None, "discharge_date": None, "diagnoses": diags,
            "covid_status": cmd.covid_status, "filing": cmd.filing,
            "transfer_from": cmd.transfer_from, "status": "admitted", "settlement_id": None,
            "admit_msgid": msgid, "version": 1, "created_at": at, "updated_at": at,
        }  # fmt: skip
        state = EncounterState(enc_id, caller.provider_code, cmd.insuree_id, region,
                               cmd.scheme_code, cmd.med_type, _utc(cmd.admit_time), day, None,
                               None, cmd.diagnoses, cmd.covid_status, cmd.filing,
                               cmd.transfer_from, "admitted", None, 1)  # fmt: skip
        uow.hospital.batch([
            (Ops.insert_encounter, row),
            (Ops.insert_event, {"encounter_id": enc_id, "seq": 1, "kind": "admitted",
                                "status_from": None, "status_to": "admitted", "at": at,
                                "actor": caller.actor, "msgid": msgid, "detail": {}}),
            audit_op(caller, "encounter.admitted", "encounter", enc_id, before=None,
                     after=state.audit_view(), at=at, msgid=msgid),
        ])  # fmt: skip
        uow.commit()
    return state


def _insured_region(uow: UnitOfWork, cmd: Admit, day: dt.date) -> str:
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
        if len(cmd.insured_region) != 6 or not cmd.insured_region.isdigit():
            raise InvalidRequest.of([("insured_region", f"{cmd.insured_region!r} is not a "
                                      "6-digit admin code")]) from None  # fmt: skip
        return cmd.insured_region


def cancel_admission(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
                     msgid: str | None) -> EncounterState:  # fmt: skip
    """2404 入院办理撤销: only an encounter with no standing fee lines or settlement."""
    require(caller, "encounter.write")
    with uow(write=True):
        enc = _load(uow, caller, encounter_id, lock=True)
        state = _cancel_admission(uow, ctx, caller, enc, msgid)
        uow.commit()
    return state


def _cancel_admission(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                      msgid: str | None) -> EncounterState:  # fmt: skip
    if enc.status == "cancelled":
        return enc
    _require_open(enc, "cancel the admission")
    if uow.hospital.active_lines(enc.id):
        raise Conflict(f"encounter {enc.id} has fee lines: cancel them first (2302)")
    return _change(uow, caller, enc, "admission_cancelled", "cancelled", ctx.now(), msgid)


# -- fee lines ------------------------------------------------------------------------------


def _same(r: Any, f: FeeIn, amount: int) -> bool:
    return (r.code == f.code or r.hospital_code == f.code) and (r.price_fen, r.qty_milli,
            r.amount_fen, r.reverses_sn) == (f.price_fen, f.qty_milli, amount,
                                             f.reverses_sn)  # fmt: skip


def _amount(f: FeeIn) -> int:
    magnitude = line_amount(f.price_fen, abs(f.qty_milli))
    return -magnitude if f.qty_milli < 0 else magnitude


def _fee_problems(fees: Sequence[FeeIn], existing: dict[str, Any]) -> list[Problem]:
    """Amounts, serial numbers and refunds (a refund names an active line of the same
    code and price and returns no more than it has left)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    left = {sn: r.qty_milli for sn, r in existing.items() if r.qty_milli > 0}
    price = {sn: (r.code, r.price_fen) for sn, r in existing.items()}
    for r in existing.values():
        if r.qty_milli < 0 and r.reverses_sn in left:
            left[r.reverses_sn] += r.qty_milli
    for i, f in enumerate(fees):
        at, tag = f"lines.{i}", f"feedetl_sn {f.sn}"
        if f.sn in seen:
            problems.append((f"{at}.sn", f"{tag} appears twice in the upload"))
        seen.add(f.sn)
        if f.amount_fen is not None and f.amount_fen != _amount(f):
            problems.append((f"{at}.amount_fen", f"{tag}: amount {f.amount_fen} is not price × "
                             f"qty = {_amount(f)} (rounded half up)"))  # fmt: skip
        if f.qty_milli >= 0:
            if f.reverses_sn is not None:
                problems.append((f"{at}.reverses_sn", f"{tag}: only a refund (qty < 0) "
                                 "reverses a line"))  # fmt: skip
            if f.sn not in existing:
                left[f.sn], price[f.sn] = f.qty_milli, (f.code, f.price_fen)
            continue
        if f.sn in existing:
            continue
        target = f.reverses_sn
        if target is None or target not in left:
            problems.append((f"{at}.reverses_sn", f"{tag}: a refund (qty < 0) must name an "
                             "uploaded line it reverses"))  # fmt: skip
        elif price[target] != (f.code, f.price_fen):
            problems.append((f"{at}.reverses_sn", f"{tag}: refund of {target} with another "
                             "code or price"))  # fmt: skip
        elif -f.qty_milli > left[target]:
            problems.append((f"{at}.qty_milli", f"{tag}: refunds {-f.qty_milli} of {target}, "
                             f"which has {left[target]} left"))  # fmt: skip
        else:
            left[target] += f.qty_milli
    return problems


def _splits(lines: Sequence[StoredLine], covered: bool) -> tuple[LineResult, ...]:
    """Each line's split (§4); a refund line is its magnitude's split, negated."""
    out = []
    for ln in lines:
        r = settle_lines([ln.engine_line(abs(ln.qty_milli))], covered)[0][0]
        if ln.qty_milli < 0:
            r = r._replace(det_item_fee_sumamt=-r.det_item_fee_sumamt,
                           fulamt_ownpay_amt=-r.fulamt_ownpay_amt, overlmt_amt=-r.overlmt_amt,
                           preselfpay_amt=-r.preselfpay_amt,
                           inscp_scp_amt=-r.inscp_scp_amt)  # fmt: skip
        out.append(r)
    return tuple(out)


def _covered(ctx: Context, uow: UnitOfWork, enc: EncounterState, on: dt.date) -> bool:
    """Would the overlay in force on ``on`` cover this stay's protocol items? (The
    settlement decides on the discharge date; this is the upload's answer.)"""
    try:
        policy = ctx.packs.select(enc.insured_region, on)
    except Exception:  # no pack: the upload still answers, as the catalog has it
        return False
    v = policy.overlay_on(on)
    if v is None or not v.protocol_in_scope:
        return False
    prov = ctx.provider(uow, enc.provider_code, on).engine()
    return covid_applies(v, _engine_encounter(enc, on, 1, v), prov)


def _engine_encounter(enc: EncounterState, discharge: dt.date, seq: int,
                      v: OverlayVersion | None) -> engine.Encounter:  # fmt: skip
    status = enc.covid_status or covid_status_of(enc.diagnoses, v)
    codes = tuple(d.code for d in sorted(enc.diagnoses, key=lambda d: not d.main))
    return engine.Encounter(enc.id, enc.med_type, enc.admit_date, discharge, codes,
                            status, enc.filing, seq,  # type: ignore[arg-type]
                            enc.transfer_from)  # fmt: skip


def upload_fees(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
                fees: Sequence[FeeIn], *, msgid: str | None) -> Uploaded:  # fmt: skip
    """2301 费用明细上传: resolve each new line's catalog fields now (treatment place's
    catalog on the service date) and store them with it; a line already uploaded with
    the same content is a repeat (nothing written), with other content a conflict."""
    require(caller, "encounter.write")
    if not fees:
        raise InvalidRequest.of([("lines", "no fee lines")])
    at = ctx.now()
    with uow(write=True):
        enc = _load(uow, caller, encounter_id, lock=True)
        _require_open(enc, "upload fee lines", also=("deferred",))
        existing = {r.sn: r for r in uow.hospital.active_lines(enc.id)}
        conflicts = [(f"lines.{i}.sn", f"feedetl_sn {f.sn} was uploaded with other content")
                     for i, f in enumerate(fees)
                     if f.sn in existing and not _same(existing[f.sn], f, _amount(f))]  # fmt: skip
        problems = _fee_problems(fees, existing)
        if problems:
            raise InvalidRequest.of(problems)
        if conflicts:
            raise Conflict(f"{conflicts[0][1]}; cancel it first (2302)", conflicts)
        new = [(i, f) for i, f in enumerate(fees) if f.sn not in existing]
        dates = {f.sn: _day(f.service_time) if f.service_time else enc.admit_date for f in fees}
        items = _resolve(ctx, uow, enc.provider_code, new, dates)
        rows = [_line_row(enc.id, f, item, dates[f.sn], at, msgid) for (_, f), item in
                zip(new, items, strict=True)]  # fmt: skip
        stored = {r["sn"]: r for r in rows}
        lines = tuple(StoredLine.of(existing[f.sn]) if f.sn in existing else
                      _stored(stored[f.sn]) for f in fees)  # fmt: skip
        if new:  # the lines, the event and the audit entry: one round trip
            detail = {"sns": [f.sn for _, f in new][:200], "count": len(new)}
            moved, enc = _change_ops(caller, enc, "fees_uploaded", enc.status, at, msgid, detail)
            uow.hospital.batch([*insert_rows(FeeLineRow.__table__, rows), *moved])  # type: ignore[arg-type]
        covered = _covered(ctx, uow, enc, max(ln.service_date for ln in lines))
        uow.commit()
    return Uploaded(enc, lines, _splits(lines, covered), len(new))


def _resolve(ctx: Context, uow: UnitOfWork, provider: str, new: Sequence[tuple[int, FeeIn]],
             dates: dict[str, dt.date]) -> list[catalog.ResolvedItem]:  # fmt: skip
    try:
        return ctx.resolve(uow, provider, [(f.code, dates[f.sn]) for _, f in new])
    except NotInCatalog as exc:
        for i, f in new:  # name the first line whose code the error is about
            if f.code in str(exc):
                path = f"lines.{i}.code"
                raise type(exc)(f"{path}: feedetl_sn {f.sn}: {exc}", [(path, str(exc))]) from None
        raise


def _line_row(enc_id: str, f: FeeIn, item: catalog.ResolvedItem, day: dt.date, at: dt.datetime,
              msgid: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "encounter_id": enc_id, "sn": f.sn, "reverses_sn": f.reverses_sn, "code": item.code,
        "hospital_code": f.hospital_code or item.hospital_code, "category": item.category,
        "item_class": item.item_class, "selfpay_bp": item.selfpay_bp, "price_fen": f.price_fen,
        "qty_milli": f.qty_milli, "amount_fen": _amount(f), "price_cap_fen": item.price_cap_fen,
        "in_protocol": item.in_protocol, "temp_code": item.temp_code,
        "catalog_region": item.catalog_region, "protocol_edition": item.protocol_edition,
        "service_date": day, "service_time": f.service_time and _utc(f.service_time),
        "dept": f.dept,
        "doctor": f.doctor, "order_no": f.order_no, "uploaded_at": at, "upload_msgid": msgid,
        "cancelled_at": None, "cancel_msgid": None,
    }  # fmt: skip


def _stored(r: dict[str, Any]) -> StoredLine:
    return StoredLine(r["sn"], r["reverses_sn"], r["code"], r["hospital_code"], r["category"],
                      r["item_class"], r["selfpay_bp"], r["price_fen"], r["qty_milli"],
                      r["amount_fen"], r["price_cap_fen"], r["in_protocol"], r["temp_code"],
                      r["catalog_region"], r["protocol_edition"], r["service_date"],
                      False)  # fmt: skip


def cancel_fees(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
                sn: str | None, *, msgid: str | None) -> int:  # fmt: skip
    """2302 费用明细撤销: one line (and refunds of it), or every line (``sn`` None).
    Cancelling a line already cancelled is a repeat: nothing changes, 0 returned."""
    require(caller, "encounter.write")
    at = ctx.now()
    with uow(write=True):
        enc = _load(uow, caller, encounter_id, lock=True)
        _require_open(enc, "cancel fee lines", also=("deferred",))
        n = _cancel(uow, caller, enc, sn, at, msgid)
        uow.commit()
    return n


def _cancel(uow: UnitOfWork, caller: Principal, enc: EncounterState, sn: str | None,
            at: dt.datetime, msgid: str | None) -> int:  # fmt: skip
    active = uow.hospital.active_lines(enc.id)
    if sn is None:
        sns = [r.sn for r in active]
    else:
        sns = [r.sn for r in active if r.sn == sn or r.reverses_sn == sn]
        if not sns and not any(r.sn == sn for r in uow.hospital.lines(enc.id)):
            raise NotFound(f"feedetl_sn {sn} of encounter {enc.id} not found")
    if not sns:
        return 0
    n = uow.hospital.cancel_lines(enc.id, sns, at, msgid)
    _change(uow, caller, enc, "fees_cancelled", enc.status, at, msgid,
            {"sns": sns[:200], "count": n})  # fmt: skip
    return n


# -- discharge ------------------------------------------------------------------------------


def discharge(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
              discharge_time: dt.datetime, diagnoses: Sequence[Diagnosis] = (), *,
              msgid: str | None) -> EncounterState:  # fmt: skip
    """2402 出院办理: ``admitted`` -> ``discharged``, with the discharge diagnoses when
    given. A settled encounter discharged on the same date is a repeat; another date is
    a conflict (reverse the settlement first)."""
    require(caller, "encounter.write")
    if discharge_time.tzinfo is None:
        raise InvalidRequest.of([("discharge_time", "needs a time zone")])
    at, day = ctx.now(), _day(discharge_time)
    with uow(write=True):
        enc = _load(uow, caller, encounter_id, lock=True)
        if enc.status in ("settled", "discharged") and enc.discharge_date == day:
            return enc
        if enc.status != "admitted":
            raise Conflict(f"encounter {enc.id} is {enc.status}"
                           + (f", discharged on {enc.discharge_date}" if enc.discharge_date else "")
                           + f": cannot discharge it on {day}")  # fmt: skip
        if day < enc.admit_date:
            raise InvalidRequest.of([("discharge_time", f"{day} is before admission on "
                                      f"{enc.admit_date}")])  # fmt: skip
        values: dict[str, Any] = {"discharge_time": _utc(discharge_time), "discharge_date": day}
        if diagnoses:
            values["diagnoses"] = [{"code": d.code, "main": d.main} for d in diagnoses]
        state = _change(uow, caller, enc, "discharged", "discharged", at, msgid,
                        {"discharge_date": day.isoformat()}, **values)  # fmt: skip
        uow.commit()
    return state


def undo_discharge(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                   msgid: str | None) -> EncounterState:  # fmt: skip
    """Back to ``admitted`` (冲正 of a 2402): inside the caller's transaction."""
    if enc.status != "discharged":
        raise Conflict(f"encounter {enc.id} is {enc.status}: cannot undo its discharge")
    return _change(uow, caller, enc, "discharge_undone", "admitted", ctx.now(), msgid,
                   discharge_time=None, discharge_date=None)  # fmt: skip


# -- settlement -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Computed:
    s: Settlement
    policy: Policy
    insuree_name: str
    year: int
    discharge: dt.date
    balance_fen: int
    central_share_bp: int
    acc_before: Accumulators


def _engine_lines(rows: Sequence[Any]) -> tuple[Line, ...]:
    """Active lines with refunds netted into the lines they reverse."""
    refunded: dict[str, int] = {}
    for r in rows:
        if r.qty_milli < 0 and r.reverses_sn is not None:
            refunded[r.reverses_sn] = refunded.get(r.reverses_sn, 0) - r.qty_milli
    return tuple(Line(r.sn, r.code, r.category, r.item_class, r.selfpay_bp, r.price_fen,
                      r.qty_milli - refunded.get(r.sn, 0), r.price_cap_fen, r.in_protocol,
                      r.temp_code) for r in rows if r.qty_milli >= 0)  # fmt: skip


def _compute(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
             discharge_date: dt.date | None, medfee_sumamt: int | None, acct_used: bool, *,
             lock: bool) -> tuple[EncounterState, _Computed]:  # fmt: skip
    """Read what a settlement needs in two round trips (encounter — locked — with its
    lines; then the insuree's enrolment with the accumulator and account rows, locked),
    and settle. Lock order: encounter, accumulators, account."""
    hosp = uow.hospital
    first = Ops.encounter_to_settle_locked if lock else Ops.encounter_to_settle
    found, rows = hosp.batch([(first, {"eid": encounter_id}),
                              (Ops.active_lines, {"eid": encounter_id})])  # fmt: skip
    if not found:
        raise NotFound(f"encounter {encounter_id} not found")
    own(caller, found[0].provider_code, f"encounter {encounter_id}")
    enc, seq = EncounterState.of(found[0]), int(found[0].earlier) + 1
    if enc.status == "settled":
        raise Conflict(f"encounter {enc.id} is already settled ({enc.settlement_id})")
    if enc.status == "deferred":
        raise NotYet(f"encounter {enc.id} is deferred: the deferred queue settles it "
                     "(docs/OFFLINE.md)", "deferred")  # fmt: skip
    _require_open(enc, "settle")
    sender = transfer_blocker(uow, enc)
    if sender is not None:
        raise NotYet(f"encounter {enc.id} is a transfer-in: {sender} (转院: 转出医院先结算)",
                     "awaiting_transfer")  # fmt: skip
    day = enc.discharge_date or discharge_date
    if day is None:
        raise InvalidRequest.of([("discharge_date", f"encounter {enc.id} is not discharged: "
                                  "discharge it (2402) or give the discharge date")])  # fmt: skip
    if enc.discharge_date is not None and discharge_date not in (None, enc.discharge_date):
        raise Conflict(f"encounter {enc.id} was discharged on {enc.discharge_date}, "
                       f"not {discharge_date}")  # fmt: skip
    if not rows:
        raise NotYet(f"encounter {enc.id} has no fee lines to settle (2301 first)", "offline")
    total = sum(r.amount_fen for r in rows)
    if medfee_sumamt is not None and medfee_sumamt != total:
        raise InvalidRequest.of([("medfee_sumamt", f"the hospital's total {medfee_sumamt} fen "
                                  f"is not the uploaded lines' {total} fen")])  # fmt: skip
    prov = _designated(ctx, uow, enc.provider_code, day)
    year, psn, now = day.year, enc.insuree_id, ctx.now()
    if lock:
        found_ins, acc_row, acct_row = hosp.batch([
            (Ops.insuree_on, {"psn": psn, "on": day}),
            (Ops.lock_accumulators(hosp.pg), {"psn": psn, "year": year, "at": now}),
            (Ops.lock_account(hosp.pg), {"psn": psn, "at": now})])  # fmt: skip
        acc, moved = Accumulators(*acc_row[0]), int(acct_row[0][0])
    else:
        (found_ins,) = hosp.batch([(Ops.insuree_on, {"psn": psn, "on": day})])
        acc, moved = hosp.accumulators(psn, year), hosp.account_moved(psn)
    if not found_ins:
        raise InsureeNotImported(f"insuree {mask_psn_no(psn)}: no enrolment imported for "
                                 f"{day} (参保信息尚未导入)")  # fmt: skip
    ins = catalog.insuree_of(found_ins[0], day)
    if not ins.enrolled:
        raise NotYet(f"insuree {mask_psn_no(psn)} is not enrolled on {day} "
                     "(参保手续尚未办结): treat first, settle once enrolled",
                     "not_enrolled")  # fmt: skip
    policy = ctx.packs.select(ins.insured_region, day)
    balance = ins.account_opening_fen + moved
    v = policy.overlay_on(day)
    req = engine.SettleRequest(ins.engine(balance if acct_used else 0), prov.engine(),
                               _engine_encounter(enc, day, seq, v), _engine_lines(rows),
                               acc)  # fmt: skip
    s = engine.settle(req, policy)
    share = v.central_share_for(s.facts.covid_status) if s.covid and v is not None else 0
    return enc, _Computed(s, policy, ins.name, year, day, balance, share, acc)


def transfer_blocker(uow: UnitOfWork, enc: EncounterState) -> str | None:
    """Why a transfer-in cannot settle yet — the sending hospital's encounter is not
    settled (涪医保发〔2020〕6号 三: 转出医院先结算) — or None."""
    if enc.transfer_from is None:
        return None
    src = uow.hospital.encounter(enc.transfer_from)
    if src is None:
        return f"its sending encounter {enc.transfer_from} is not found"
    if src.status != "settled":
        return f"its sending encounter {enc.transfer_from} is {src.status}, not settled"
    return None


def presettle(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
              discharge_date: dt.date | None = None, medfee_sumamt: int | None = None,
              acct_used: bool = True, msgid: str | None = None) -> Settled:  # fmt: skip
    """2303 预结算: the settlement as it would be now; only the audit entry is written."""
    require(caller, "encounter.write")
    at = ctx.now()
    with uow(write=True):
        enc, c = _compute(uow, ctx, caller, encounter_id, discharge_date, medfee_sumamt,
                          acct_used, lock=False)  # fmt: skip
        audit(uow, caller, "encounter.presettled", "encounter", enc.id, before=enc.audit_view(),
              after=enc.audit_view(), at=at, msgid=msgid,
              detail={"medfee_sumamt": c.s.setlinfo.medfee_sumamt})  # fmt: skip
        uow.commit()
    s = c.s
    return Settled("presettlement", None, None, s, [t._asdict() for t in s.trace], enc.id,
                   enc.provider_code, enc.insuree_id, c.insuree_name, enc.med_type,
                   INPATIENT_CLR_TYPE, c.discharge, at, None, c.balance_fen,
                   c.balance_fen - s.setlinfo.acct_pay, s.accumulators_before,
                   s.accumulators_after, c.central_share_bp, msgid, caller.actor)  # fmt: skip


def settle(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
           discharge_date: dt.date | None = None, medfee_sumamt: int | None = None,
           acct_used: bool = True, msgid: str | None = None) -> Settled:  # fmt: skip
    """2304 结算: settle, book one balanced ledger transaction, move the accumulators and
    the account, all in one transaction; the encounter becomes ``settled``."""
    require(caller, "encounter.write")
    at = ctx.now()
    with uow(write=True):
        enc, c = _compute(uow, ctx, caller, encounter_id, discharge_date, medfee_sumamt,
                          acct_used, lock=True)  # fmt: skip
        s, hosp = c.s, uow.hospital
        setl_id, booked = new_id("S", at), _day(at)
        tx = ledger.postings_for(s, tx_id=setl_id, provider_code=enc.provider_code,
                                 booked_on=booked, accumulator_year=c.year,
                                 central_share_bp=c.central_share_bp, settlement_id=setl_id,
                                 clr_type=INPATIENT_CLR_TYPE)  # fmt: skip
        trace = [t._asdict() for t in s.trace]
        after_balance = c.balance_fen - s.setlinfo.acct_pay
        i = s.setlinfo
        head, postings = tx_rows(tx, at)
        todo: list[Op] = [(Ops.insert_settlement, {
            "id": setl_id, "kind": "settlement", "reverses": None, "encounter_id": enc.id,
            "provider_code": enc.provider_code, "psn_no": enc.insuree_id, "year": c.year,
            "booked_on": booked, "settled_at": at, "discharge_date": c.discharge,
            "msgid": msgid, "actor": caller.actor, "pack_id": s.pack_id,
            "pack_sha256": s.pack_sha256, "med_type": enc.med_type,
            "clr_type": INPATIENT_CLR_TYPE, "central_share_bp": c.central_share_bp,
            "medfee_sumamt": i.medfee_sumamt, "fund_pay_sumamt": i.fund_pay_sumamt,
            "fiscal_pay": i.fiscal_pay, "acct_pay": i.acct_pay, "psn_cash_pay": i.psn_cash_pay,
            "accumulators_before": _acc_list(c.acc_before), "accumulators_after":
            _acc_list(s.accumulators_after), "balance_before_fen": c.balance_fen,
            "balance_after_fen": after_balance, "record": settlement_record(s),
            "setldetail": [r._asdict() for r in s.setldetail], "trace": trace,
        }), (Ops.insert_tx, head)]  # fmt: skip
        todo += insert_rows(JournalPosting.__table__, postings)  # type: ignore[arg-type]
        a = s.accumulators_after
        todo.append((Ops.set_accumulators, {
            "k_psn": enc.insuree_id, "k_year": c.year, "basic": a.basic_entitled_fen,
            "serious": a.serious_base_fen, "assistance": a.assistance_entitled_fen,
            "at": at}))  # fmt: skip
        if i.acct_pay:
            todo.append((Ops.move_account, {"k_psn": enc.insuree_id, "delta": -i.acct_pay,
                                            "at": at}))  # fmt: skip
        values: dict[str, Any] = {"settlement_id": setl_id}
        if enc.discharge_date is None:
            values["discharge_date"] = c.discharge
        moved, _ = _change_ops(caller, enc, "settled", "settled", at, msgid,
                               {"settlement_id": setl_id, "medfee_sumamt": i.medfee_sumamt},
                               **values)  # fmt: skip
        hosp.batch(todo + moved)
        uow.commit()
    return Settled("settlement", setl_id, None, s, trace, enc.id, enc.provider_code,
                   enc.insuree_id, c.insuree_name, enc.med_type, INPATIENT_CLR_TYPE, c.discharge,
                   at, booked, c.balance_fen, after_balance, c.acc_before,
                   s.accumulators_after, c.central_share_bp, msgid, caller.actor)  # fmt: skip


def reverse(uow: UnitOfWork, ctx: Context, caller: Principal, settlement_id: str, *,
            encounter_id: str | None = None, msgid: str | None = None) -> Settled:  # fmt: skip
    """2305 结算撤销: book the exact negation, subtract the settlement's accumulator
    movements and give back its account payment; the encounter returns to ``discharged``
    and can be settled again (SETTLEMENT.md §8). Reversing a reversed settlement is a
    conflict."""
    require(caller, "settlement.reverse")
    with uow(write=True):
        row = uow.hospital.settlement(settlement_id)
        if row is None or row.kind != "settlement":
            raise NotFound(f"settlement {settlement_id} not found")
        own(caller, row.provider_code, f"settlement {settlement_id}")
        if encounter_id is not None and row.encounter_id != encounter_id:
            raise NotFound(f"settlement {settlement_id} of encounter {encounter_id} not found")
        enc = _load(uow, caller, row.encounter_id, lock=True)
        done = reverse_standing(uow, ctx, caller, enc, row, msgid)
        uow.commit()
    return done


def reverse_standing(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                     row: Any, msgid: str | None) -> Settled:  # fmt: skip
    """The reversal itself, inside the caller's transaction (also 冲正 of a 2304)."""
    if enc.settlement_id != row.id:
        raise Conflict(f"settlement {row.id} is already reversed")
    at, hosp = ctx.now(), uow.hospital
    s = settlement_from_record(row.record)
    acc = hosp.lock_accumulators(row.psn_no, row.year, at)
    moved = hosp.lock_account(row.psn_no, at)
    before, after = s.accumulators_before, s.accumulators_after
    back = Accumulators(
        *(
            now - (a - b)
            for now, a, b in zip(_acc_list(acc), _acc_list(after), _acc_list(before), strict=True)
        )
    )
    rev_id, booked = new_id("R", at), _day(at)
    original = hosp.transactions([row.id])
    if len(original) != 1:
        raise Conflict(f"settlement {row.id} has no booked transaction")
    tx = ledger.reversal_of(original[0], booked_on=booked, tx_id=rev_id)
    i = s.setlinfo
    current = _current_balance(uow, row.psn_no, row.discharge_date, moved)
    hosp.insert_settlement({
        "id": rev_id, "kind": "reversal", "reverses": row.id, "encounter_id": enc.id,
        "provider_code": row.provider_code, "psn_no": row.psn_no, "year": row.year,
        "booked_on": booked, "settled_at": at, "discharge_date": row.discharge_date,
        "msgid": msgid, "actor": caller.actor, "pack_id": row.pack_id,
        "pack_sha256": row.pack_sha256, "med_type": row.med_type, "clr_type": row.clr_type,
        "central_share_bp": row.central_share_bp, "medfee_sumamt": -i.medfee_sumamt,
        "fund_pay_sumamt": -i.fund_pay_sumamt, "fiscal_pay": -i.fiscal_pay,
        "acct_pay": -i.acct_pay, "psn_cash_pay": -i.psn_cash_pay,
        "accumulators_before": _acc_list(acc), "accumulators_after": _acc_list(back),
        "balance_before_fen": current, "balance_after_fen": current + i.acct_pay,
        "record": row.record, "setldetail": row.setldetail, "trace": row.trace,
    })  # fmt: skip
    hosp.insert_transaction(tx, at)
    hosp.set_accumulators(row.psn_no, row.year, back, at)
    hosp.move_account(row.psn_no, i.acct_pay, at)
    _change(uow, caller, enc, "settlement_reversed", "discharged", at, msgid,
            {"settlement_id": row.id, "reversal_id": rev_id}, settlement_id=None)  # fmt: skip
    return Settled("reversal", rev_id, row.id, s, row.trace, enc.id, row.provider_code,
                   row.psn_no, None, row.med_type, row.clr_type, row.discharge_date, at, booked,
                   current, current + i.acct_pay, acc, back, row.central_share_bp, msgid,
                   caller.actor)  # fmt: skip


def _acc_list(a: Accumulators) -> list[int]:
    return [a.basic_entitled_fen, a.serious_base_fen, a.assistance_entitled_fen]


def _current_balance(uow: UnitOfWork, psn_no: str, on: dt.date, moved: int) -> int:
    try:
        opening = catalog.insuree_snapshot(uow, psn_no, on).account_opening_fen
    except NotFound:
        opening = 0
    return opening + moved


# -- reads ---------------------------------------------------------------------------------


def encounter(uow: UnitOfWork, caller: Principal, encounter_id: str) -> EncounterState:
    """One encounter (a hospital: its own only)."""
    require(caller, "encounter.read")
    with uow:
        return _load(uow, caller, encounter_id, lock=False)


def encounter_lines(uow: UnitOfWork, caller: Principal, encounter_id: str) -> list[StoredLine]:
    """Every fee line of an encounter, cancelled ones too."""
    require(caller, "encounter.read")
    with uow:
        _load(uow, caller, encounter_id, lock=False)
        return [StoredLine.of(r) for r in uow.hospital.lines(encounter_id)]


def encounters(uow: UnitOfWork, caller: Principal, *, insuree_id: str | None = None,
               status: str | None = None, limit: int = 50,
               offset: int = 0) -> list[EncounterState]:  # fmt: skip
    """Encounters, newest first (a hospital: its own only)."""
    require(caller, "encounter.read")
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        rows = uow.hospital.encounters(provider_code=provider, psn_no=insuree_id, status=status,
                                       limit=limit, offset=offset)  # fmt: skip
    return [EncounterState.of(r) for r in rows]


def settlement(uow: UnitOfWork, caller: Principal, settlement_id: str) -> Settled:
    """A stored settlement or reversal, as it was computed."""
    require(caller, "encounter.read")
    with uow:
        row = uow.hospital.settlement(settlement_id)
        if row is None:
            raise NotFound(f"settlement {settlement_id} not found")
        own(caller, row.provider_code, f"settlement {settlement_id}")
    return stored_settled(row)


def stored_settled(row: Any) -> Settled:
    """A ``Settled`` from a stored settlements row."""
    s = settlement_from_record(row.record)
    return Settled(row.kind, row.id, row.reverses, s, row.trace, row.encounter_id,
                   row.provider_code, row.psn_no, None, row.med_type, row.clr_type,
                   row.discharge_date, _aware(row.settled_at), row.booked_on,
                   row.balance_before_fen, row.balance_after_fen,
                   Accumulators(*row.accumulators_before), Accumulators(*row.accumulators_after),
                   row.central_share_bp, row.msgid, row.actor)  # fmt: skip
