"""The deferred queue in one batch pass (DECISIONS 0082): many ready stays cleared and
settled together — read in bulk, settled by the batch engine with the store's
accumulators and accounts carried (re-entry's ``settle_stays``: each record read from
the batch's columns, DECISIONS 0092), then written in
transactions of whole insurees: each stay ``deferred`` -> ``discharged`` (event
``deferral_cleared``), booked (``booking.book``: the settlement, its ledger
transaction, ``settled``), its advance cleared and its deferral row closed.

Only insuree-years without a transfer-in go this way (``deferred`` keeps those for the
scalar path). Readiness is ``deferred.blocker``'s: enrolled on the discharge date, fee
lines uploaded; per insuree-year the ready prefix in (discharge_date, encounter_id)
order, stopping at the first blocked stay.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators
from yibao.core.errors import Conflict, YibaoError
from yibao.core.ledger import Transaction
from yibao.core.ledger.advance import clearing_of
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.state import change_into
from yibao.services.registry import catalog
from yibao.services.stays import booking
from yibao.services.stays.settle import Stay, settle_stays
from yibao.store.uow import UnitOfWork
from yibao.store.writes import Writes

if TYPE_CHECKING:
    from yibao.services.stays.deferred.model import Deferral, QueueRun

__all__ = ["clearing_into", "for_hospital", "settle_bulk"]

_ZERO = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))

_LINE = ("sn", "code", "category", "item_class", "selfpay_bp", "price_e6", "qty_e4",
         "price_cap_e6", "in_protocol", "temp_code")  # fmt: skip
_SCHEMA = {"encounter_id": pl.Int64, "sn": pl.String, "code": pl.String, "category": pl.String,
           "item_class": pl.String, "selfpay_bp": pl.Int64, "price_e6": pl.Int64,
           "qty_e4": pl.Int64, "price_cap_e6": pl.Int64, "in_protocol": pl.Boolean,
           "temp_code": pl.Boolean}  # fmt: skip


class _Read:
    """What the pass reads once: encounters (with 本年第n次), lines, enrolments,
    accumulators, account movements, advances."""

    def __init__(self, uow: UnitOfWork, rows: Sequence[Deferral]) -> None:
        hosp = uow.hospital
        ids = [d.encounter_id for d in rows]
        psns = sorted({d.insuree_id for d in rows})
        self.enc = _with_seq(hosp.encounters_of(psns), set(ids))
        self.lines = hosp.active_lines_of(ids)
        self.versions: dict[str, list[Any]] = defaultdict(list)
        for start in range(0, len(psns), 5000):
            for v in uow.insurees.where(psn_no=psns[start : start + 5000]):
                self.versions[v.psn_no].append(v)
        self.acc = hosp.accumulators_of(sorted({(d.insuree_id, d.year) for d in rows}))
        self.moved = uow.hospital.accounts_moved(psns)
        adv = [d.advance_tx_id for d in rows]
        self.advances = {t.id: t for s in range(0, len(adv), 5000)
                         for t in hosp.transactions(adv[s : s + 5000])}  # fmt: skip

    def version(self, psn: str, day: dt.date) -> Any:
        return next((v for v in self.versions.get(psn, ()) if v.valid_from <= day
                     and (v.valid_to is None or day <= v.valid_to)), None)  # fmt: skip


def _with_seq(rows: Sequence[Any],
              wanted: set[str]) -> dict[str, tuple[uc.EncounterState, int]]:  # fmt: skip
    """Each wanted stay with its 本年第n次住院 as ``encounters.settle`` counts it: 1 + the
    insuree's stays, not cancelled, admitted earlier in its admission's calendar year
    (ties by id)."""
    by: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for r in rows:
        if r.status != "cancelled" or r.id in wanted:
            by[(r.psn_no, r.admit_date.year)].append(r)
    out: dict[str, tuple[uc.EncounterState, int]] = {}
    for group in by.values():
        group.sort(key=lambda r: (uc.aware(r.admit_time), r.id))
        for n, r in enumerate(group, start=1):
            if r.id in wanted:
                out[r.id] = (uc.EncounterState.of(r), n)
    return out


def _stay(uow: UnitOfWork, ctx: Context, got: _Read, d: Deferral, idx: int) -> Stay | None:
    """The batch's stay, or None when it is not ready (``blocker``'s rules)."""
    enc, seq = got.enc[d.encounter_id]
    ver = got.version(d.insuree_id, d.discharge_date)
    if ver is None or not got.lines.get(d.encounter_id):
        return None
    ins = catalog.insuree_of(ver, d.discharge_date)
    if not ins.enrolled:
        return None
    day = d.discharge_date
    if not any(p.covers(ins.insured_region, day) for p in ctx.packs):
        return None  # no pack for the insured region yet: waits (no_pack, issue 18)
    v = ctx.packs.select(ins.insured_region, day).overlay_on(day)
    e = uc.engine_encounter(enc, day, seq, v)
    shares = {s: v.central_share_for(s) for s in ("confirmed", "suspected")} if v else {}
    balance = ins.account_opening_fen + got.moved.get(d.insuree_id, 0)
    prov = ctx.provider(uow, enc.provider_code, day)
    if not prov.designated:
        raise Conflict(f"provider {prov.code} is not a designated provider on {day}")
    start = got.acc.get((d.insuree_id, d.year), _ZERO)
    return Stay(
        idx,
        d.encounter_id,
        ins.engine(balance),
        ins.account_opening_fen,
        prov.engine(),
        e,
        start,
        shares,
        None,  # type: ignore[arg-type]
    )


def _prepare(uow: UnitOfWork, ctx: Context, got: _Read, groups: Sequence[Sequence[Deferral]],
             run: QueueRun) -> tuple[list[Stay], pl.DataFrame]:  # fmt: skip
    """The ready prefix of every insuree-year as stays, and their lines."""
    stays: list[Stay] = []
    frames: list[tuple[Any, ...]] = []
    for group in groups:
        mine: list[Stay] = []
        for n, d in enumerate(group):
            try:
                s = _stay(uow, ctx, got, d, len(stays) + len(mine))
            except YibaoError as exc:
                run.failed.append((d.encounter_id, f"{type(exc).__name__}: {exc}"))
                s = None
            if s is None:
                for rest in group[n:]:
                    run.waiting[rest.reason] = run.waiting.get(rest.reason, 0) + 1
                break
            mine.append(s)
        for s in mine:
            for ln in uc.engine_lines(got.lines[s.encounter_id]):
                frames.append((s.idx, *(getattr(ln, k) for k in _LINE)))
        stays += mine
    frame = pl.DataFrame(frames, schema=_SCHEMA, orient="row")
    return stays, frame.sort("encounter_id", maintain_order=True)


def _chunks(entries: Sequence[booking.Entry], size: int) -> list[list[booking.Entry]]:
    out: list[list[booking.Entry]] = [[]]
    for psn, part in _by_insuree(entries):
        if out[-1] and len(out[-1]) + len(part) > size:
            out.append([])
        out[-1] += part
        del psn
    return [c for c in out if c]


def _by_insuree(entries: Sequence[booking.Entry]) -> list[tuple[str, list[booking.Entry]]]:
    by: dict[str, list[booking.Entry]] = defaultdict(list)
    for e in entries:
        by[e.insuree_id].append(e)
    return list(by.items())


def for_hospital(caller: Principal, provider_code: str) -> Principal:
    """The queue settles a stay on behalf of the hospital that submitted it; the events
    and the audit log record the caller who ran the queue."""
    return Principal(caller.key_id, "hospital", provider_code)


def clearing_into(w: Writes, caller: Principal, d: Deferral, enc: uc.EncounterState,
                  advance: Transaction) -> Transaction:  # fmt: skip
    """Add to ``w`` the clearing of deferral ``d`` (``enc``: its encounter as read under
    its lock, ``advance``: its advance transaction): the encounter ``deferred`` ->
    ``discharged`` with its ``deferral_cleared`` event and audit entry (on behalf of the
    hospital), and the transaction clearing the advance (returned). The one builder of
    a clearing: one stay (``queue``) or many (``settle_bulk``)."""
    who = for_hospital(caller, d.provider_code)
    tx = clearing_of(advance, tx_id=new_id("W", w.at), booked_on=uc.business_day(w.at))
    change_into(w, who, enc, "deferral_cleared", "discharged", d.msgid,
                {"deferral_id": d.id, "clearing_tx_id": tx.id})  # fmt: skip
    w.transaction(tx)
    return tx


def _write(uow: UnitOfWork, ctx: Context, caller: Principal, got: _Read,
           chunk: Sequence[booking.Entry],
           of: dict[str, Deferral]) -> list[tuple[str, str]]:  # fmt: skip
    """One transaction: clear, book and close the deferrals of ``chunk``, each write
    through the store's writer (COPY on PostgreSQL when large)."""
    at = ctx.now()
    with uow(write=True):
        hosp = uow.hospital
        ids = [e.encounter_id for e in chunk]
        locked = {r.id: r for r in hosp.lock_encounters(ids)}
        w, clearings = hosp.writes(at), {}
        for eid in ids:
            d, (enc, _) = of[eid], got.enc[eid]
            row = locked.get(eid)
            if row is None or (row.status, row.version) != ("deferred", enc.version):
                raise Conflict(f"encounter {eid} changed while the queue ran: run it again")
            clearings[eid] = clearing_into(w, caller, d, enc, got.advances[d.advance_tx_id])
        hosp.write_booking(w)
        booked = booking.book(uow, caller, chunk, at=at)
        done = hosp.writes(at)
        for eid, tx in clearings.items():
            done.clear_deferral(of[eid].id, settlement_id=booked.settlement_ids[eid],
                                clearing_tx_id=tx.id)  # fmt: skip
        hosp.write_booking(done)
        uow.commit()
    return [(eid, booked.settlement_ids[eid]) for eid in ids]


def settle_bulk(uow: UnitOfWork, ctx: Context, caller: Principal,
                groups: Sequence[Sequence[Deferral]], run: QueueRun, *,
                per_transaction: int = 5000,
                progress: Callable[[int, int], None] | None = None) -> None:  # fmt: skip
    """Settle the ready prefix of each insuree-year of ``groups`` (none with a
    transfer-in) in one batch pass; record what was settled, waits and failed in
    ``run``. A transaction that fails (the store moved) is rolled back and reported."""
    rows = [d for g in groups for d in g]
    if not rows:
        return
    with uow:
        got = _Read(uow, rows)
        stays, lines = _prepare(uow, ctx, got, groups, run)
    if not stays:
        return
    entries = settle_stays(stays, lines, ctx.packs)
    of = {d.encounter_id: d for d in rows}
    chunks = _chunks(entries, per_transaction)
    for n, chunk in enumerate(chunks, start=1):
        try:
            run.settled += _write(uow, ctx, caller, got, chunk, of)
        except YibaoError as exc:
            for e in chunk:
                run.failed.append((e.encounter_id, f"{type(exc).__name__}: {exc}"))
                r = of[e.encounter_id].reason
                run.waiting[r] = run.waiting.get(r, 0) + 1
        if progress is not None:
            progress(n, len(chunks))
