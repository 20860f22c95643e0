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
    settlement_row,
)
from yibao.services.encounters.state import (
    INPATIENT_CLR_TYPE,
    EncounterState,
    NotYet,
    Settled,
    _aware,
    _change,
    _change_ops,
    _day,
    _designated,
    _engine_encounter,
    _load,
    _require_open,
)
from yibao.services.encounters.validation import LENGTH, Checks
from yibao.services.registry import catalog
from yibao.store.encounter_repo import Op, Ops, insert_rows, tx_rows
from yibao.store.service_tables import JournalPosting
from yibao.store.statements import acc_row
from yibao.store.uow import UnitOfWork

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
    lines = _engine_lines(rows)
    total = sum(line_amount(ln.price_e6, ln.qty_e4) for ln in lines)  # = the medfee settled
    if medfee_sumamt is not None and medfee_sumamt != total:
        raise InvalidRequest.of([("medfee_sumamt", f"the hospital's total {medfee_sumamt} fen "
                                  f"is not the settlement's {total} fen (each line priced once "
                                  "on its quantity net of refunds, half up)")])  # fmt: skip
    prov = _designated(ctx, uow, enc.provider_code, day)
    year, psn, now = day.year, enc.insuree_id, ctx.now()
    if lock:
        found_ins, acc_rows, acct_row = hosp.batch([
            (Ops.insuree_on, {"psn": psn, "on": day}),
            (Ops.lock_accumulators(hosp.pg), {"psn": psn, "year": year, "at": now}),
            (Ops.lock_account(hosp.pg), {"psn": psn, "at": now})])  # fmt: skip
        acc, moved = acc_row(acc_rows[0]), int(acct_row[0][0])
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
                               _engine_encounter(enc, day, seq, v), lines,
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
        after_balance = c.balance_fen - s.setlinfo.acct_pay
        i = s.setlinfo
        head, postings = tx_rows(tx, at)
        row = settlement_row(s, setl_id=setl_id, encounter_id=enc.id,
                             provider_code=enc.provider_code, psn_no=enc.insuree_id,
                             year=c.year, booked_on=booked, settled_at=at,
                             discharge_date=c.discharge, msgid=msgid, actor=caller.actor,
                             med_type=enc.med_type, clr_type=INPATIENT_CLR_TYPE,
                             central_share_bp=c.central_share_bp,
                             balance_before_fen=c.balance_fen,
                             balance_after_fen=after_balance)  # fmt: skip
        trace = row["trace"]
        todo: list[Op] = [(Ops.insert_settlement, row), (Ops.insert_tx, head)]
        todo += insert_rows(JournalPosting.__table__, postings)  # type: ignore[arg-type]
        a = s.accumulators_after
        todo.append((Ops.set_accumulators, {"k_psn": enc.insuree_id, "k_year": c.year,
                                            "at": at, **a.as_dict()}))  # fmt: skip
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
    back = given_back(acc, s.accumulators_before, s.accumulators_after)
    rev_id, booked = new_id("R", at), _day(at)
    original = hosp.transactions([row.id])
    if len(original) != 1:
        raise Conflict(f"settlement {row.id} has no booked transaction")
    tx = ledger.reversal_of(original[0], booked_on=booked, tx_id=rev_id)
    i = s.setlinfo
    current = _current_balance(uow, row.psn_no, row.discharge_date, moved)
    hosp.insert_settlement(reversal_row(row, s, rev_id=rev_id, encounter_id=enc.id,
                                        booked_on=booked, settled_at=at, msgid=msgid,
                                        actor=caller.actor, accumulators_before=acc,
                                        accumulators_after=back,
                                        balance_before_fen=current))  # fmt: skip
    hosp.insert_transaction(tx, at)
    hosp.set_accumulators(row.psn_no, row.year, back, at)
    hosp.move_account(row.psn_no, i.acct_pay, at)
    _change(uow, caller, enc, "settlement_reversed", "discharged", at, msgid,
            {"settlement_id": row.id, "reversal_id": rev_id}, settlement_id=None)  # fmt: skip
    return Settled("reversal", rev_id, row.id, s, row.trace, enc.id, row.provider_code,
                   row.psn_no, None, row.med_type, row.clr_type, row.discharge_date, at, booked,
                   current, current + i.acct_pay, acc, back, row.central_share_bp, msgid,
                   caller.actor)  # fmt: skip


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
                   row.discharge_date, _aware(row.settled_at), row.booked_on,
                   row.balance_before_fen, row.balance_after_fen,
                   acc_of(row.accumulators_before), acc_of(row.accumulators_after),
                   row.central_share_bp, row.msgid, row.actor)  # fmt: skip
