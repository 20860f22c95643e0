"""Settlement of a stay (2303 预结算, 2304 结算, 2305 结算撤销): read what the engine needs
in two round trips under the locks (encounter, accumulators, account — in that order),
settle, and book one balanced ledger transaction with the accumulator and account
movements, in one database transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yibao.core import engine, ledger
from yibao.core.engine.model import Accumulators, Line, Settlement
from yibao.core.errors import (
    Conflict,
    InsureeNotImported,
    InvalidRequest,
    NotFound,
)
from yibao.core.ledger import Transaction
from yibao.core.money import line_amount
from yibao.core.policy.model import Policy
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, audit, own, require
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.records import (
    acc_of,
    given_back,
    reversal_row,
    settlement_from_record,
    trace_rows,
)
from yibao.services.encounters.rows import Entry, make_plan
from yibao.services.encounters.state import (
    INPATIENT_CLR_TYPE,
    EncounterState,
    NotYet,
    Settled,
    aware,
    business_day,
    change_into,
    designated,
    engine_encounter,
    load_encounter,
    require_open,
)
from yibao.services.encounters.validation import LENGTH, Checks
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork
from yibao.store.writes import Writes

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


def engine_lines(rows: Sequence[Any]) -> tuple[Line, ...]:
    """Active lines with refunds netted into the lines they reverse."""
    refunded: dict[str, int] = {}
    for r in rows:
        if r.qty_e4 < 0 and r.reverses_sn is not None:
            refunded[r.reverses_sn] = refunded.get(r.reverses_sn, 0) - r.qty_e4
    return tuple(Line(sn=r.sn, code=r.code, category=r.category, item_class=r.item_class,
                      selfpay_bp=r.selfpay_bp, price_e6=r.price_e6,
                      qty_e4=r.qty_e4 - refunded.get(r.sn, 0), price_cap_e6=r.price_cap_e6,
                      in_protocol=r.in_protocol, temp_code=r.temp_code)
                 for r in rows if r.qty_e4 >= 0)  # fmt: skip


def _compute(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
             discharge_date: dt.date | None, medfee_sumamt: int | None, acct_used: bool, *,
             lock: bool) -> tuple[EncounterState, _Computed]:  # fmt: skip
    """Read what a settlement needs in two round trips (encounter — locked — with its
    lines; then the insuree's enrolment with the accumulator and account rows, locked),
    and settle. Lock order: encounter, accumulators, account."""
    hosp = uow.hospital
    found, rows = hosp.encounter_with_lines(encounter_id, lock=lock)
    if found is None:
        raise NotFound(f"encounter {encounter_id} not found")
    own(caller, found.provider_code, f"encounter {encounter_id}")
    enc, seq = EncounterState.of(found), int(found.earlier) + 1
    if enc.status == "settled":
        raise Conflict(f"encounter {enc.id} is already settled ({enc.settlement_id})")
    if enc.status == "deferred":
        raise NotYet(f"encounter {enc.id} is deferred: the deferred queue settles it "
                     "(docs/OFFLINE.md)", "deferred")  # fmt: skip
    require_open(enc, "settle")
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
    lines = engine_lines(rows)
    total = sum(line_amount(ln.price_e6, ln.qty_e4) for ln in lines)  # = the medfee settled
    if medfee_sumamt is not None and medfee_sumamt != total:
        raise InvalidRequest.of([("medfee_sumamt", f"the hospital's total {medfee_sumamt} fen "
                                  f"is not the settlement's {total} fen (each line priced once "
                                  "on its quantity net of refunds, half up)")])  # fmt: skip
    prov = designated(ctx, uow, enc.provider_code, day)
    year, psn, now = day.year, enc.insuree_id, ctx.now()
    found_ins, acc, moved = hosp.insuree_and_locks(psn, day, year, now, lock=lock)
    if found_ins is None:
        raise InsureeNotImported(f"insuree {mask_psn_no(psn)}: no enrolment imported for "
                                 f"{day} (参保信息尚未导入)")  # fmt: skip
    ins = catalog.insuree_of(found_ins, day)
    if not ins.enrolled:
        raise NotYet(f"insuree {mask_psn_no(psn)} is not enrolled on {day} "
                     "(参保手续尚未办结): treat first, settle once enrolled",
                     "not_enrolled")  # fmt: skip
    policy = ctx.packs.select(ins.insured_region, day)
    balance = ins.account_opening_fen + moved
    v = policy.overlay_on(day)
    req = engine.SettleRequest(ins.engine(balance if acct_used else 0), prov.engine(),
                               engine_encounter(enc, day, seq, v), lines,
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
        s, i = c.s, c.s.setlinfo
        entry = Entry(s, enc.provider_code, enc.med_type, c.discharge, c.central_share_bp, 0,
                      msgid=msgid, balance_before_fen=c.balance_fen)  # fmt: skip
        plan = make_plan(caller, [entry], at, uow.hospital.pg, {enc.id: enc})
        uow.hospital.write_booking(plan.writes())
        uow.commit()
    setl_id, booked, after_balance = plan.ids[enc.id], business_day(at), c.balance_fen - i.acct_pay
    trace = trace_rows(s)
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
    checks = Checks()
    checks.code("settlement_id", settlement_id, LENGTH["settlement_id"])
    checks.done()
    with uow(write=True):
        row = uow.hospital.settlement(settlement_id)
        if row is None or row.kind != "settlement":
            raise NotFound(f"settlement {settlement_id} not found")
        own(caller, row.provider_code, f"settlement {settlement_id}")
        if encounter_id is not None and row.encounter_id != encounter_id:
            raise NotFound(f"settlement {settlement_id} of encounter {encounter_id} not found")
        enc = load_encounter(uow, caller, row.encounter_id, lock=True)
        done = reverse_standing(uow, ctx, caller, enc, row, msgid)
        uow.commit()
    return done


def reverse_standing(uow: UnitOfWork, ctx: Context, caller: Principal, enc: EncounterState,
                     row: Any, msgid: str | None) -> Settled:  # fmt: skip
    """The reversal itself, inside the caller's transaction (also 冲正 of a 2304): a
    batch of one through the store's writer (``reversal_into``)."""
    if enc.settlement_id != row.id:
        raise Conflict(f"settlement {row.id} is already reversed")
    at, hosp = ctx.now(), uow.hospital
    s = settlement_from_record(row.record)
    acc = hosp.lock_accumulators(row.psn_no, row.year, at)
    moved = hosp.lock_account(row.psn_no, at)
    rev_id = new_id("R", at)
    original = hosp.transactions([row.id])
    if len(original) != 1:
        raise Conflict(f"settlement {row.id} has no booked transaction")
    current = _current_balance(uow, row.psn_no, row.discharge_date, moved)
    w = hosp.writes(at)
    back = reversal_into(w, caller, enc, row, s, original[0], rev_id=rev_id, msgid=msgid,
                         acc_now=acc, balance_before_fen=current)  # fmt: skip
    hosp.write_booking(w)
    return Settled("reversal", rev_id, row.id, s, row.trace, enc.id, row.provider_code,
                   row.psn_no, None, row.med_type, row.clr_type, row.discharge_date, at,
                   business_day(at), current, current + s.setlinfo.acct_pay, acc, back,
                   row.central_share_bp, msgid, caller.actor)  # fmt: skip


def reversal_into(w: Writes, caller: Principal, enc: EncounterState, row: Any, s: Settlement,
                  original: Transaction, *, rev_id: str, msgid: str | None,
                  acc_now: Accumulators, balance_before_fen: int) -> Accumulators:  # fmt: skip
    """Add to ``w`` the reversal of the standing settlement ``row`` (``s``: its engine
    form, ``original``: its transaction) of the encounter ``enc`` as read under its
    lock: the reversal row (amounts negated), the exact negation of the transaction, the
    accumulators given back from ``acc_now`` (returned), the account payment given back,
    the encounter back to ``discharged`` with its event and audit entry. The one builder
    of a reversal: one (``reverse_standing``) or many (re-settlement)."""
    booked = business_day(w.at)
    back = given_back(acc_now, s.accumulators_before, s.accumulators_after)
    w.append("settlements", reversal_row(row, s, rev_id=rev_id, encounter_id=enc.id,
                                         booked_on=booked, settled_at=w.at, msgid=msgid,
                                         actor=caller.actor, accumulators_before=acc_now,
                                         accumulators_after=back,
                                         balance_before_fen=balance_before_fen))  # fmt: skip
    w.transaction(ledger.reversal_of(original, booked_on=booked, tx_id=rev_id))
    w.set_accumulators(row.psn_no, row.year, back)
    w.move_account(row.psn_no, s.setlinfo.acct_pay)
    change_into(w, caller, enc, "settlement_reversed", "discharged", msgid,
                {"settlement_id": row.id, "reversal_id": rev_id}, settlement_id=None)  # fmt: skip
    return back


def _current_balance(uow: UnitOfWork, psn_no: str, on: dt.date, moved: int) -> int:
    try:
        opening = catalog.insuree_snapshot(uow, psn_no, on).account_opening_fen
    except NotFound:
        opening = 0
    return opening + moved


def settlement(uow: UnitOfWork, caller: Principal, settlement_id: str) -> Settled:
    """A stored settlement or reversal, as it was computed."""
    require(caller, "encounter.read")
    checks = Checks()
    checks.code("settlement_id", settlement_id, LENGTH["settlement_id"])
    checks.done()
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
                   row.discharge_date, aware(row.settled_at), row.booked_on,
                   row.balance_before_fen, row.balance_after_fen,
                   acc_of(row.accumulators_before), acc_of(row.accumulators_after),
                   row.central_share_bp, row.msgid, row.actor)  # fmt: skip
