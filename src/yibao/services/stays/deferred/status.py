"""The deferred queue seen from outside: its status per hospital and reason, and what
`yibao ledger check` proves about it against the books (DECISIONS 0061)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.core.ledger.advance import advanced_by_provider, clearing_problems
from yibao.services.access.rights import Principal, require
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context
from yibao.services.stays.deferred.model import Deferral
from yibao.store.uow import UnitOfWork

__all__ = ["QueueStatus", "StatusRow", "deferral_problems", "queue_status"]


@dataclass(frozen=True, slots=True)
class StatusRow:
    """Open deferrals of one hospital for one reason."""

    provider_code: str
    reason: str
    count: int
    oldest_deferred_at: dt.datetime
    oldest_discharge_date: dt.date
    oldest_age_days: int  # days since the oldest deferral, on ``as_of``
    advance_fen: int  # amounts advanced (医院垫付)
    medfee_sumamt: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    as_of: dt.datetime
    rows: tuple[StatusRow, ...]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def advance_fen(self) -> int:
        return sum(r.advance_fen for r in self.rows)


def queue_status(uow: UnitOfWork, ctx: Context, caller: Principal, *,
                 provider_code: str | None = None) -> QueueStatus:  # fmt: skip
    """Open deferrals per hospital and reason: count, oldest (and its age in days),
    amounts advanced. A hospital sees its own only."""
    require(caller, "deferred.read")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    now = ctx.now()
    with uow:
        rows = uow.deferrals.summary(provider_code)
    out = []
    for r in rows:
        oldest = uc.aware(r.oldest_at)
        days = (uc.business_day(now) - uc.business_day(oldest)).days
        out.append(StatusRow(r.provider_code, r.reason, int(r.n), oldest, r.oldest_discharge,
                             days, int(r.advance_fen), int(r.medfee_sumamt)))  # fmt: skip
    return QueueStatus(now, tuple(out))


def deferral_problems(uow: UnitOfWork) -> list[str]:
    """The queue against the books: each deferral's advance is booked with its amount,
    each clearing negates its advance, a deferred encounter has one open deferral, and
    the open advance per hospital equals its open deferrals' total."""
    with uow:
        rows = [Deferral.of(r) for r in uow.deferrals.all()]
        ids = [d.advance_tx_id for d in rows] + [d.clearing_tx_id for d in rows
                                                 if d.clearing_tx_id]  # fmt: skip
        txs = {t.id: t for t in uow.hospital.transactions(ids)} if ids else {}
        deferred = {r.id for r in uow.hospital.encounters(provider_code=None, psn_no=None,
                                                          status="deferred", limit=10**9,
                                                          offset=0)}  # fmt: skip
    out: list[str] = []
    open_by: dict[str, int] = {}
    for d in rows:
        adv = txs.get(d.advance_tx_id)
        if adv is None or adv.kind != "advance" or adv.postings[0].amount_fen != d.advance_fen:
            out.append(f"deferral {d.id}: advance {d.advance_tx_id} does not book "
                       f"{d.advance_fen} fen")  # fmt: skip
            continue
        if d.open:
            open_by[d.provider_code] = open_by.get(d.provider_code, 0) + d.advance_fen
            if d.encounter_id not in deferred:
                out.append(f"deferral {d.id}: open, but encounter {d.encounter_id} is not deferred")
            deferred.discard(d.encounter_id)
        else:
            clearing = txs.get(d.clearing_tx_id or "")
            if clearing is None:
                out.append(f"deferral {d.id}: cleared without a booked clearing")
            out += clearing_problems(adv, clearing)
    out += [f"encounter {e}: deferred without an open deferral" for e in sorted(deferred)]
    booked = advanced_by_provider(list(txs.values()))
    for p in sorted(set(booked) | set(open_by)):
        if booked.get(p, 0) != open_by.get(p, 0):
            out.append(f"hospital {p}: the books hold {booked.get(p, 0)} fen advanced on open "
                       f"deferrals, the queue {open_by.get(p, 0)}")  # fmt: skip
    return out
