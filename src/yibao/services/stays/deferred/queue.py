"""Treat first, settle later (先救治、后结算): the deferred queue.

渝医保发〔2020〕3号 四（四） and 涪医保发〔2020〕6号 三: when the insuree's enrolment is not
imported yet, or the hospital's or the central system is down, the patient is treated
and discharged, the hospital advances the cost, and the stay is settled as soon as the
data or the network is back; a transfer-in is settled after the sending hospital's stay.

::

    discharged ──defer──> deferred ──(ready: queue run)──> discharged ──settle──> settled
                  │  advance posted        │ clearing posted          the usual 2304
                  └ deferrals row          └ deferrals row cleared (set once)

- ``record_deferral`` (inside the caller's transaction) / ``defer`` (a use case) move an
  encounter to ``deferred`` with a reason, write its ``deferrals`` row and book the
  hospital's advance (``core.ledger.advance``);
- ``settle_or_defer``: the hospital's settlement request (2304, POST …/settlement):
  settles when nothing blocks, else defers and answers the deferral (HTTP 202);
- ``settle_ready``: the queue run — per insuree-year, in (discharge_date, encounter_id)
  order, clear and settle each ready deferral and stop at the first still blocked, so
  the accumulators move in the same order as settling one by one; one transaction per
  insuree-year. Run after an insuree import, a hospital upload, or on demand
  (``yibao deferred settle``, POST /v1/deferred/settle);
- ``queue_status``: per hospital and reason: count, oldest, amounts advanced;
- ``deferral_problems``: what `yibao ledger check` adds for the queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from yibao.core.errors import (
    Conflict,
    InsureeNotImported,
    InvalidRequest,
    NoPackApplies,
    NotFound,
    YibaoError,
)
from yibao.core.policy.resolve import PackSet
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context
from yibao.services.encounters.validation import LENGTH, Checks
from yibao.services.registry import catalog
from yibao.services.stays.deferred.clearing import clearing_into, for_hospital, settle_bulk
from yibao.services.stays.deferred.deferring import deferral_into
from yibao.services.stays.deferred.model import Deferral, QueueRun
from yibao.services.stays.deferred.status import (
    QueueStatus,
    StatusRow,
    deferral_problems,
    queue_status,
)
from yibao.store.service_tables import DEFERRAL_REASONS
from yibao.store.uow import UnitOfWork

__all__ = [
    "DEFERRAL_REASONS",
    "Deferral",
    "QueueRun",
    "QueueStatus",
    "StatusRow",
    "blocker",
    "defer",
    "deferral",
    "deferral_problems",
    "queue_status",
    "record_deferral",
    "settle_or_defer",
    "settle_ready",
]


# -- blockers ------------------------------------------------------------------------------


def blocker(uow: UnitOfWork, enc: uc.EncounterState, day: dt.date,
            packs: PackSet | None = None) -> str | None:  # fmt: skip
    """What keeps a stay discharged on ``day`` from settling now — a reason of
    ``DEFERRAL_REASONS`` — or None: a transfer-in whose sending stay is not settled,
    no enrolment imported or not enrolled on ``day``, or no fee lines yet (offline)."""
    if uc.transfer_blocker(uow, enc) is not None:
        return "awaiting_transfer"
    if packs is not None and not any(p.covers(enc.insured_region, day) for p in packs):
        return "no_pack"  # insured where no loaded pack covers: settled once one is (issue 18)
    found = uow.hospital.insuree_on(enc.insuree_id, day)
    if found is None or not catalog.insuree_of(found, day).enrolled:
        return "not_enrolled"
    if not uow.hospital.active_lines(enc.id):
        return "offline"
    return None


# -- deferring -----------------------------------------------------------------------------


def record_deferral(uow: UnitOfWork, ctx: Context, caller: Principal, enc: uc.EncounterState,
                    *, reason: str, discharge_date: dt.date | None = None,
                    advance_fen: int | None = None,
                    msgid: str | None = None) -> Deferral:  # fmt: skip
    """Defer ``enc`` inside the caller's transaction (its row locked by the caller):
    the encounter becomes ``deferred`` (discharged on ``discharge_date`` if it was not),
    a ``deferrals`` row is written and the advance is booked — ``advance_fen`` when the
    hospital gives it (a provisional amount), else the active lines' total. An encounter
    already deferred returns its open deferral unchanged (a retry)."""
    if enc.status == "deferred":
        found = uow.deferrals.open_for(enc.id)
        if found is None:
            raise Conflict(f"encounter {enc.id} is deferred without an open deferral")
        return Deferral.of(found)
    problems = []
    if reason not in DEFERRAL_REASONS:
        problems.append(("reason", f"{reason!r} is not one of {', '.join(DEFERRAL_REASONS)}"))
    if advance_fen is not None and (type(advance_fen) is not int or advance_fen < 0):
        problems.append(("advance_fen", f"{advance_fen!r} is not a non-negative fen amount"))
    day = enc.discharge_date or discharge_date
    if day is None:
        problems.append(("discharge_date", f"encounter {enc.id} is not discharged: give the "
                         "discharge date"))  # fmt: skip
    elif enc.discharge_date is not None and discharge_date not in (None, enc.discharge_date):
        raise Conflict(f"encounter {enc.id} was discharged on {enc.discharge_date}, "
                       f"not {discharge_date}")  # fmt: skip
    elif day < enc.admit_date:
        problems.append(("discharge_date", f"{day} is before admission on {enc.admit_date}"))
    if problems:
        raise InvalidRequest.of(problems)
    assert day is not None
    if enc.status not in ("admitted", "discharged"):
        raise Conflict(f"encounter {enc.id} is {enc.status}: cannot defer it")
    total = sum(r.amount_fen for r in uow.hospital.active_lines(enc.id))
    advance = total if advance_fen is None else advance_fen
    if advance_fen is None and total == 0 and reason != "awaiting_transfer":
        raise InvalidRequest.of([("advance_fen", f"encounter {enc.id} has no fee lines: give "
                                  "the amount the hospital advanced")])  # fmt: skip
    w = uow.hospital.writes(ctx.now())
    row = deferral_into(w, caller, enc, reason=reason, day=day, total=total, advance=advance,
                        provisional=advance_fen is not None, msgid=msgid)  # fmt: skip
    uow.hospital.write_booking(w)
    return Deferral.of(_Row(row))


class _Row:
    """A dict read as a row (``Deferral.of`` of what was just written)."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def defer(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
          reason: str, discharge_date: dt.date | None = None, advance_fen: int | None = None,
          msgid: str | None = None) -> Deferral:  # fmt: skip
    """The hospital defers one of its stays (e.g. ``offline``: captured while its system
    was down, with the amount it advanced); a repeat returns the open deferral."""
    require(caller, "encounter.write")
    c = Checks(ctx.now())
    c.code("reason", reason, LENGTH["deferral_reason"])
    c.day("discharge_date", discharge_date)
    c.integer("advance_fen", advance_fen, 0)
    c.done()
    with uow(write=True):
        enc = uc.load_encounter(uow, caller, encounter_id, lock=True)
        done = record_deferral(uow, ctx, caller, enc, reason=reason,
                               discharge_date=discharge_date, advance_fen=advance_fen,
                               msgid=msgid)  # fmt: skip
        uow.commit()
    return done


def settle_or_defer(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
                    discharge_date: dt.date | None = None, medfee_sumamt: int | None = None,
                    acct_used: bool = True,
                    msgid: str | None = None) -> uc.Settled | Deferral:  # fmt: skip
    """2304 结算 as the hospital asks it: settle when nothing blocks; otherwise defer the
    stay (reason from ``blocker``; the advance is the lines' total) and return the
    deferral. A deferred stay asked again runs its insuree-year's queue: settled if it
    is ready by now, else the same deferral comes back."""
    require(caller, "encounter.write")
    c = Checks(ctx.now())
    c.day("discharge_date", discharge_date)
    c.integer("medfee_sumamt", medfee_sumamt, 0)
    c.flag("acct_used", acct_used)
    c.done()
    try:  # the common case: nothing blocks; no query more than a plain settlement
        return uc.settle(uow, ctx, caller, encounter_id, discharge_date=discharge_date,
                         medfee_sumamt=medfee_sumamt, acct_used=acct_used, msgid=msgid)  # fmt: skip
    except (uc.NotYet, InsureeNotImported, NoPackApplies):
        pass  # decided again below under the encounter's lock: it may have changed since
    with uow(write=True):
        enc = uc.load_encounter(uow, caller, encounter_id, lock=True)
        if enc.status == "deferred":
            d = Deferral.of(uow.deferrals.open_for(enc.id))
            queue = [Deferral.of(r) for r in uow.deferrals.open(psn_nos=[d.insuree_id],
                                                                 year=d.year)]  # fmt: skip
            upto = [q for q in queue if (q.discharge_date, q.encounter_id)
                    <= (d.discharge_date, d.encounter_id)]  # fmt: skip
            run = _settle_group(uow, ctx, caller, upto)
            mine = dict(run.settled).get(d.encounter_id)
            uow.commit()
            return d if mine is None else uc.settlement(uow, caller, mine)
        day = enc.discharge_date or discharge_date
        why = (blocker(uow, enc, day, ctx.packs)
               if day is not None and enc.status in uc.OPEN else None)  # fmt: skip
        if why is None:  # settle raises what is wrong, as before
            done: uc.Settled | Deferral = uc.settle(
                uow,
                ctx,
                caller,
                encounter_id,
                discharge_date=discharge_date,
                medfee_sumamt=medfee_sumamt,
                acct_used=acct_used,
                msgid=msgid,
            )
        else:
            done = record_deferral(uow, ctx, caller, enc, reason=why,
                                   discharge_date=discharge_date, msgid=msgid)  # fmt: skip
        uow.commit()
    return done


# -- the queue -----------------------------------------------------------------------------


def _settle_group(uow: UnitOfWork, ctx: Context, caller: Principal,
                  group: Sequence[Deferral]) -> QueueRun:  # fmt: skip
    """One insuree-year, inside the caller's transaction: in queue order, clear and
    settle each ready deferral; stop at the first one still blocked."""
    run = QueueRun()
    for n, d in enumerate(group):
        who = for_hospital(caller, d.provider_code)
        enc = uc.load_encounter(uow, who, d.encounter_id, lock=True)
        why = blocker(uow, enc, d.discharge_date, ctx.packs)
        if why is not None:
            for rest in group[n:]:
                run.waiting[rest.reason] = run.waiting.get(rest.reason, 0) + 1
            break
        advance = uow.hospital.transactions([d.advance_tx_id])
        if len(advance) != 1:
            raise Conflict(f"deferral {d.id}: advance {d.advance_tx_id} is not booked")
        w = uow.hospital.writes(ctx.now())
        clearing = clearing_into(w, caller, d, enc, advance[0])
        uow.hospital.write_booking(w)
        s = uc.settle(uow, ctx, who, enc.id, msgid=None)
        assert s.settlement_id is not None
        done = uow.hospital.writes(w.at)
        done.clear_deferral(d.id, settlement_id=s.settlement_id, clearing_tx_id=clearing.id)
        uow.hospital.write_booking(done)
        run.settled.append((enc.id, s.settlement_id))
    return run


Progress = Callable[[int, int], None]  # (insuree-years done, total)


def settle_ready(uow: UnitOfWork, ctx: Context, caller: Principal, *,
                 provider_code: str | None = None, insuree_ids: Sequence[str] | None = None,
                 progress: Progress | None = None, bulk: bool = True) -> QueueRun:  # fmt: skip
    """Settle what is ready in the queue (all of it, one hospital's, or some insurees'),
    per insuree-year in (discharge_date, encounter_id) order. With ``bulk`` (default)
    the insuree-years without a transfer-in go through one batch pass
    (``deferred_bulk``), written in transactions of whole insurees; the others (or all,
    without ``bulk``, or when the batch refuses a stay) one transaction per insuree-year
    through the scalar service. A transaction that fails is rolled back whole and
    reported; the others go on."""
    require(caller, "deferred.settle")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    with uow:
        found = uow.deferrals.open(provider_code=provider_code, psn_nos=insuree_ids)
    transfers = {r.encounter_id for r in found if r.transfer_from is not None}
    rows = [Deferral.of(r) for r in found]
    groups = [list(g) for _, g in groupby(rows, key=lambda d: (d.insuree_id, d.year))]
    out = QueueRun()
    if bulk:
        plain = [g for g in groups if not any(d.encounter_id in transfers for d in g)]
        try:
            settle_bulk(uow, ctx, caller, plain, out, progress=progress)
        except YibaoError as exc:  # the batch refused a stay: every group one by one
            out = QueueRun(fallback=f"{type(exc).__name__}: {exc}")
        else:
            out.batch = len(out.settled)
            groups = [g for g in groups if any(d.encounter_id in transfers for d in g)]
    for n, group in enumerate(groups, start=1):
        try:
            with uow(write=True):
                done = _settle_group(uow, ctx, caller, group)
                uow.commit()
        except YibaoError as exc:
            out.failed.append((group[0].encounter_id, f"{type(exc).__name__}: {exc}"))
            for d in group:
                out.waiting[d.reason] = out.waiting.get(d.reason, 0) + 1
        else:
            out.settled += done.settled
            for k, v in done.waiting.items():
                out.waiting[k] = out.waiting.get(k, 0) + v
        if progress is not None:
            progress(n, len(groups))
    return out


# -- reads ---------------------------------------------------------------------------------


def deferral(uow: UnitOfWork, caller: Principal, encounter_id: str) -> Deferral:
    """The newest deferral of an encounter (a hospital: its own only)."""
    require(caller, "encounter.read")
    c = Checks()
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    c.done()
    with uow:
        rows = uow.deferrals.of_encounter(encounter_id)
        if not rows:
            raise NotFound(f"no deferral of encounter {encounter_id}")
        own(caller, rows[-1].provider_code, f"encounter {encounter_id}")
    return Deferral.of(rows[-1])
