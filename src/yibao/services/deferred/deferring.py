"""Many stays deferred at once (re-entry of an offline file whose insurees are not
enrolled yet): the same rows as ``deferred.record_deferral`` writes one by one — the
encounter to ``deferred`` with its event and audit entry, the ``deferrals`` row, the
``advance`` transaction — written in bulk (COPY on PostgreSQL) inside the caller's
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from yibao.core.errors import Conflict, InvalidRequest
from yibao.core.ledger.advance import advance_for
from yibao.services.access.rights import Principal, audit_op
from yibao.services.deferred.clearing import _put, _t
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context, new_id
from yibao.services.stays.rows import Rows
from yibao.store import bulk
from yibao.store.encounter_repo import tx_rows
from yibao.store.service_tables import (
    DEFERRAL_REASONS,
    AuditEntry,
    Deferral,
    EncounterEvent,
    FeeLineRow,
    JournalPosting,
    JournalTransaction,
)
from yibao.store.uow import UnitOfWork

__all__ = ["record_deferrals"]


def _totals(uow: UnitOfWork, ids: Sequence[str]) -> dict[str, int]:
    L = _t(FeeLineRow)
    out: dict[str, int] = {}
    for start in range(0, len(ids), 5000):
        q = (select(L.c.encounter_id, func.sum(L.c.amount_fen))
             .where(L.c.encounter_id.in_(list(ids[start : start + 5000])),
                    L.c.cancelled_at.is_(None))
             .group_by(L.c.encounter_id))  # fmt: skip
        out.update({e: int(t) for e, t in uow.session.execute(q)})
    return out


def record_deferrals(uow: UnitOfWork, ctx: Context, caller: Principal,
                     encs: Sequence[uc.EncounterState], *, reason: str,
                     msgid: str | None = None) -> list[str]:  # fmt: skip
    """Defer every stay of ``encs`` (each ``discharged`` as given — the rows are locked
    and checked —, its lines stored) for ``reason``, the advance being each stay's lines' total;
    inside the caller's transaction. Returns the deferral ids, in order."""
    if reason not in DEFERRAL_REASONS:
        raise InvalidRequest.of([("reason", f"{reason!r} is not one of "
                                  f"{', '.join(DEFERRAL_REASONS)}")])  # fmt: skip
    locked = {r.id: r for r in bulk.lock_encounters(uow.session, [e.id for e in encs])}
    for e in encs:
        r = locked.get(e.id)
        if r is None or (r.status, r.version) != ("discharged", e.version) or not e.discharge_date:
            raise Conflict(f"encounter {e.id} is not discharged as given: cannot defer it")
    at, pg = ctx.now(), uow.hospital.pg
    booked_on = uc._day(at)
    totals = _totals(uow, [e.id for e in encs])
    rows, moves, deferrals, heads, postings, ids = Rows(pg), [], [], [], [], []
    for e in encs:
        total = totals.get(e.id, 0)
        if total <= 0 and reason != "awaiting_transfer":
            raise InvalidRequest.of([("advance_fen", f"encounter {e.id} has no fee lines")])
        day: dt.date = e.discharge_date  # type: ignore[assignment]
        did, tx_id = new_id("D", at), new_id("V", at)
        ids.append(did)
        tx = advance_for(tx_id=tx_id, provider_code=e.provider_code, encounter_id=e.id,
                         advance_fen=total, booked_on=booked_on)  # fmt: skip
        head, lines = tx_rows(tx, at)
        heads.append(head)
        postings += lines
        deferrals.append({
            "id": did, "encounter_id": e.id, "provider_code": e.provider_code,
            "psn_no": e.insuree_id, "year": day.year, "discharge_date": day, "reason": reason,
            "medfee_sumamt": total, "advance_fen": total, "provisional": False,
            "deferred_at": at, "actor": caller.actor, "msgid": msgid, "advance_tx_id": tx_id,
            "cleared_at": None, "settlement_id": None, "clearing_tx_id": None})  # fmt: skip
        after = replace(e, status="deferred", version=e.version + 1)
        detail: dict[str, Any] = {"deferral_id": did, "reason": reason, "advance_fen": total}
        moves.append({"id": e.id, "status": "deferred", "version": after.version,
                      "settlement_id": None, "discharge_date": day})  # fmt: skip
        rows.event(e.id, after.version, "deferred", e.status, "deferred", at, caller.actor,
                   msgid, detail)  # fmt: skip
        rows.audit_entry(audit_op(caller, "encounter.deferred", "encounter", e.id,
                                  before=e.audit_view(), after=after.audit_view(), at=at,
                                  msgid=msgid, detail=detail))  # fmt: skip
    bulk.move_encounters(uow.session, moves, at)
    _put(uow, pg, _t(EncounterEvent), rows.events)
    _put(uow, pg, _t(AuditEntry), rows.audit)
    _put(uow, pg, _t(Deferral), deferrals)
    _put(uow, pg, _t(JournalTransaction), heads)
    _put(uow, pg, _t(JournalPosting), postings)
    return ids
