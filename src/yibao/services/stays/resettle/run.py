"""Bulk re-settlement under a corrected pack (``yibao resettle``; issue 7 item 4).

A pack correction — a second overlay version covering suspected patients from a date,
say — changes what stays already settled should have been paid. ``resettle``:

1. takes the standing settlements (not reversed) of the stays discharged in
   ``[begin, end]`` whose insured place is in the new pack's pooling area, and, for each
   of their insurees, every later standing settlement too (yearly caps carry: a change
   moves the accumulators of every stay after it);
2. recomputes them all in one batch-engine pass under the new pack set (the new pack
   in place of the packs it overlaps), starting from the store's accumulators and
   account with those settlements taken out, each stay's record read from the batch's
   columns (``reentry_settle``, DECISIONS 0092);
3. compares with what is stored: per insuree, from the first stay whose amounts or
   accumulators differ, that stay and every later one are *changed*;
4. without ``dry_run``: per group of whole insurees (``per_transaction`` stays), one
   transaction reverses the changed settlements (``resettle_reverse``: the rows
   ``encounters.reverse_standing`` writes, in bulk — the exact negation, accumulators
   and account given back) and books the new ones (``booking.book``: the same rows and postings as a
   settlement through the API). Run again, nothing differs, nothing is done: idempotent;
   a crash leaves whole insurees re-settled and the rest untouched.

Stays settled without the personal account (``acct_used_flag`` 0), or whose insuree has
no enrolment on the discharge date any more, are skipped and reported.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators, SetlInfo, Settlement
from yibao.core.policy import PackSet
from yibao.core.policy.model import Policy
from yibao.services.access.rights import Principal, require
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context
from yibao.services.encounters.records import settlement_from_record
from yibao.services.registry import catalog
from yibao.services.stays import booking
from yibao.services.stays.resettle.reversals import Reversal, reverse_many
from yibao.services.stays.settle import Stay, settle_stays
from yibao.store.uow import UnitOfWork

__all__ = ["Change", "Resettled", "pack_set_with", "resettle"]


@dataclass(frozen=True, slots=True)
class Change:
    """One stay whose settlement differs under the new pack."""

    encounter_id: str
    old_settlement_id: str
    insuree_id: str
    provider_code: str
    discharge_date: dt.date
    old: SetlInfo
    new: Settlement
    entry: booking.Entry


@dataclass(slots=True)
class Resettled:
    """What a run found (and, without ``dry_run``, did)."""

    pack_id: str
    pack_sha256: str
    begin: dt.date
    end: dt.date
    dry_run: bool
    considered: int = 0  # standing settlements recomputed
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (encounter, why)
    booked: dict[str, str] = field(default_factory=dict)  # encounter -> new settlement
    reversed: dict[str, str] = field(default_factory=dict)  # old settlement -> reversal


def pack_set_with(packs: PackSet, pack: Policy) -> PackSet:
    """``packs`` with ``pack`` in place of every pack of the same id or overlapping it
    (a shared pooling-area prefix and overlapping validity)."""

    def overlaps(p: Policy) -> bool:
        area = any(a.startswith(b) or b.startswith(a)
                   for a in p.pooling_area for b in pack.pooling_area)  # fmt: skip
        return p.id == pack.id or (area and p.valid_from <= pack.valid_to
                                   and pack.valid_from <= p.valid_to)  # fmt: skip

    return PackSet([p for p in packs if not overlaps(p)] + [pack])


def _in_area(region: str, pack: Policy) -> bool:
    return any(region.startswith(a) for a in pack.pooling_area)


_ZERO = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))


def _plus(a: Accumulators, b: Accumulators) -> Accumulators:
    return a.minus(_ZERO.minus(b))


@dataclass(frozen=True, slots=True)
class _Candidate:
    enc: uc.EncounterState
    row: Any  # the settlements row
    record: Settlement


def _candidates(uow: UnitOfWork, pack: Policy, begin: dt.date,
                end: dt.date) -> list[_Candidate]:  # fmt: skip
    """Standing settlements in range (insured in the pack's area), and every later
    standing settlement of the same insurees, in (insuree, discharge, encounter) order."""
    in_range = [r for r in uow.hospital.standing_settlements(begin=begin, end=end)
                if _in_area(r.insured_region, pack)]  # fmt: skip
    first: dict[str, dt.date] = {}
    for r in in_range:
        first[r.psn_no] = min(first.get(r.psn_no, r.discharge_date), r.discharge_date)
    rows = uow.hospital.standing_settlements(psn_nos=sorted(first), begin=min(first.values(),
                                default=begin))  # fmt: skip
    encs = {e.id: e for e in uow.hospital.encounters_of(sorted(first))}
    out = []
    for r in rows:
        if r.discharge_date >= first[r.psn_no]:
            enc = encs[r.encounter_id]
            out.append(_Candidate(uc.EncounterState.of(enc), r, settlement_from_record(r.record)))
    return sorted(out, key=lambda c: (c.enc.insuree_id, c.row.discharge_date, c.enc.id))


def _stays(uow: UnitOfWork, ctx: Context, packs: PackSet, cands: Sequence[_Candidate],
           skipped: list[tuple[str, str]]) -> tuple[list[Stay], pl.DataFrame]:  # fmt: skip
    """The batch's stays and lines, starting from the store with the candidates out."""
    given_back: dict[str, int] = defaultdict(int)  # account payments of the candidates
    taken: dict[tuple[str, int], Accumulators] = defaultdict(lambda: _ZERO)
    bad: set[str] = set()
    for c in cands:
        i = c.record.setlinfo
        given_back[c.enc.insuree_id] += i.acct_pay
        key = (c.enc.insuree_id, c.row.year)  # what the candidates moved, paid included
        taken[key] = _plus(taken[key], c.record.accumulators_after.minus(
            c.record.accumulators_before))  # fmt: skip
        if c.row.balance_before_fen != c.record.account_balance_before_fen:
            bad.add(c.enc.insuree_id)  # settled with acct_used_flag 0: the engine saw 0
    stays: list[Stay] = []
    frames: list[dict[str, Any]] = []
    lines = uow.hospital.active_lines_of([c.enc.id for c in cands])
    psns = sorted({c.enc.insuree_id for c in cands})
    versions: dict[str, list[Any]] = defaultdict(list)
    for k in range(0, len(psns), 5000):
        for ver in uow.insurees.where(psn_no=psns[k : k + 5000]):
            versions[ver.psn_no].append(ver)
    stored_acc = uow.hospital.accumulators_of(sorted(taken))
    moved = uow.hospital.accounts_moved(psns)
    for idx, c in enumerate(cands):
        psn, day = c.enc.insuree_id, c.row.discharge_date
        if psn in bad:
            skipped.append((c.enc.id, "settled without the personal account (acct_used_flag "
                            "0): re-settle it by hand"))  # fmt: skip
            continue
        found = next((x for x in versions.get(psn, ()) if x.valid_from <= day
                      and (x.valid_to is None or day <= x.valid_to)), None)  # fmt: skip
        if found is None:
            skipped.append((c.enc.id, f"no enrolment of the insuree on {day}"))
            bad.add(psn)
            continue
        ins = catalog.insuree_of(found, day)
        policy = packs.select(ins.insured_region, day)
        v = policy.overlay_on(day)
        start = stored_acc.get((psn, c.row.year), _ZERO).minus(taken[(psn, c.row.year)])
        balance = ins.account_opening_fen + moved.get(psn, 0) + given_back[psn]
        e = uc.engine_encounter(c.enc, day, c.record.facts.admission_seq, v)
        shares = {s: v.central_share_for(s) for s in ("confirmed", "suspected")} if v else {}
        prov = ctx.provider(uow, c.enc.provider_code, day).engine()
        stays.append(
            Stay(
                idx,
                c.enc.id,
                ins.engine(balance),
                ins.account_opening_fen,
                prov,
                e,
                start,
                shares,
                None,  # type: ignore[arg-type]
            )
        )
        for ln in uc.engine_lines(lines.get(c.enc.id, [])):
            frames.append({"encounter_id": idx, **{k: getattr(ln, k) for k in _LINE}})
    stays = [s for s in stays if s.insuree.id not in bad]
    schema = {"encounter_id": pl.Int64, "sn": pl.String, "code": pl.String,
              "category": pl.String, "item_class": pl.String, "selfpay_bp": pl.Int64,
              "price_e6": pl.Int64, "qty_e4": pl.Int64, "price_cap_e6": pl.Int64,
              "in_protocol": pl.Boolean, "temp_code": pl.Boolean}  # fmt: skip
    keep = {s.idx for s in stays}
    frame = pl.DataFrame([f for f in frames if f["encounter_id"] in keep], schema=schema,
                         orient="row")  # fmt: skip
    return stays, frame.sort("encounter_id", maintain_order=True)


_LINE = (
    "sn",
    "code",
    "category",
    "item_class",
    "selfpay_bp",
    "price_e6",
    "qty_e4",
    "price_cap_e6",
    "in_protocol",
    "temp_code",
)


def _same(old: Settlement, new: Settlement) -> bool:
    return (old.setlinfo == new.setlinfo and old.accumulators_after == new.accumulators_after
            and old.accumulators_before == new.accumulators_before)  # fmt: skip


def _changes(cands: Sequence[_Candidate], entries: Sequence[booking.Entry]) -> list[Change]:
    """Per insuree, the first differing stay and every later one."""
    by_id = {c.enc.id: c for c in cands}
    out: list[Change] = []
    moving: set[str] = set()
    for e in entries:  # settlement order per insuree
        c = by_id[e.encounter_id]
        if e.insuree_id not in moving and _same(c.record, e.settlement):
            continue
        moving.add(e.insuree_id)
        out.append(Change(c.enc.id, c.row.id, c.enc.insuree_id, c.enc.provider_code,
                          c.row.discharge_date, c.record.setlinfo, e.settlement, e))  # fmt: skip
    return out


Progress = Callable[[int, int | None], None]


def resettle(uow: UnitOfWork, ctx: Context, caller: Principal, *, pack: Policy,
             begin: dt.date, end: dt.date, dry_run: bool = False,
             progress: Progress | None = None,
             per_transaction: int = 2000) -> Resettled:  # fmt: skip
    """Recompute the standing settlements of ``[begin, end]`` under ``pack`` and, unless
    ``dry_run``, reverse and re-settle those that differ (module docstring)."""
    require(caller, "resettle")
    if end < begin:
        from yibao.core.errors import InvalidRequest

        raise InvalidRequest.of([("to", f"{end} is before {begin}")])
    packs = pack_set_with(ctx.packs, pack)
    out = Resettled(pack.id, pack.sha256, begin, end, dry_run)
    with uow:
        cands = _candidates(uow, pack, begin, end)
        stays, lines = _stays(uow, ctx, packs, cands, out.skipped)
    out.considered = len(stays)
    if not stays:
        return out
    entries = settle_stays(stays, lines, packs)
    out.changes = _changes(cands, entries)
    if dry_run or not out.changes:
        return out
    by_id = {c.enc.id: c for c in cands}
    chunks = _chunks(out.changes, per_transaction)
    for n, chunk in enumerate(chunks, start=1):
        todo = [Reversal(by_id[ch.encounter_id].row, by_id[ch.encounter_id].enc,
                         ch.entry.account_opening_fen) for ch in reversed(chunk)]  # fmt: skip
        with uow(write=True):
            reversed_ids = reverse_many(uow, caller, todo, ctx.now())
            got = booking.book(uow, caller, [ch.entry for ch in chunk], at=ctx.now())
            uow.commit()
        out.reversed.update(reversed_ids)
        out.booked.update(got.settlement_ids)
        if progress is not None:
            progress(n, len(chunks))
    return out


def _chunks(changes: Sequence[Change], size: int) -> list[list[Change]]:
    """Changes in groups of about ``size``, never splitting an insuree."""
    by_psn: dict[str, list[Change]] = defaultdict(list)
    for ch in changes:
        by_psn[ch.insuree_id].append(ch)
    out: list[list[Change]] = [[]]
    for _, mine in sorted(by_psn.items()):
        if out[-1] and len(out[-1]) + len(mine) > size:
            out.append([])
        out[-1] += mine
    return [c for c in out if c]
