"""Many stays deferred at once (re-entry of an offline file whose insurees are not
enrolled yet): the same rows as ``deferred.record_deferral`` writes one by one — the
encounter to ``deferred`` with its event and audit entry, the ``deferrals`` row, the
``advance`` transaction — each built by ``deferral_into``, as ``record_deferral``
builds one, and written at once by the store's writer inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from yibao.core.errors import Conflict, InvalidRequest
from yibao.core.ledger.advance import advance_for
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.state import change_into
from yibao.store.service_tables import DEFERRAL_REASONS
from yibao.store.uow import UnitOfWork
from yibao.store.writes import Writes

__all__ = ["deferral_into", "record_deferrals"]


def deferral_into(w: Writes, caller: Principal, enc: uc.EncounterState, *, reason: str,
                  day: dt.date, total: int, advance: int, provisional: bool,
                  msgid: str | None) -> dict[str, Any]:  # fmt: skip
    """Add to ``w`` the deferral of ``enc`` (checked and locked by the caller): the
    encounter to ``deferred`` (discharged on ``day`` if it was not) with its event and
    audit entry, its ``deferrals`` row (returned) and the hospital's ``advance``
    transaction. The one builder of a deferral: one (``record_deferral``) or many."""
    at = w.at
    did, tx_id = new_id("D", at), new_id("V", at)
    row = {"id": did, "encounter_id": enc.id, "provider_code": enc.provider_code,
           "psn_no": enc.insuree_id, "year": day.year, "discharge_date": day, "reason": reason,
           "medfee_sumamt": total, "advance_fen": advance, "provisional": provisional,
           "deferred_at": at, "actor": caller.actor, "msgid": msgid, "advance_tx_id": tx_id,
           "cleared_at": None, "settlement_id": None, "clearing_tx_id": None}  # fmt: skip
    values = {"discharge_date": day} if enc.discharge_date is None else {}
    detail = {"deferral_id": did, "reason": reason, "advance_fen": advance}
    change_into(w, caller, enc, "deferred", "deferred", msgid, detail, **values)
    w.append("deferrals", row)
    w.transaction(advance_for(tx_id=tx_id, provider_code=enc.provider_code,
                              encounter_id=enc.id, advance_fen=advance,
                              booked_on=uc.business_day(at)))  # fmt: skip
    return row


def record_deferrals(uow: UnitOfWork, ctx: Context, caller: Principal,
                     encs: Sequence[uc.EncounterState], *, reason: str,
                     msgid: str | None = None) -> list[str]:  # fmt: skip
    """Defer every stay of ``encs`` (each ``discharged`` as given — the rows are locked
    and checked —, its lines stored) for ``reason``, the advance being each stay's lines'
    total; inside the caller's transaction. Returns the deferral ids, in order."""
    if reason not in DEFERRAL_REASONS:
        raise InvalidRequest.of([("reason", f"{reason!r} is not one of "
                                  f"{', '.join(DEFERRAL_REASONS)}")])  # fmt: skip
    hosp = uow.hospital
    locked = {r.id: r for r in hosp.lock_encounters([e.id for e in encs])}
    for e in encs:
        r = locked.get(e.id)
        if r is None or (r.status, r.version) != ("discharged", e.version) or not e.discharge_date:
            raise Conflict(f"encounter {e.id} is not discharged as given: cannot defer it")
    w = hosp.writes(ctx.now())
    totals = hosp.line_totals([e.id for e in encs])
    ids = []
    for e in encs:
        total = totals.get(e.id, 0)
        if total <= 0 and reason != "awaiting_transfer":
            raise InvalidRequest.of([("advance_fen", f"encounter {e.id} has no fee lines")])
        day: dt.date = e.discharge_date  # type: ignore[assignment]
        row = deferral_into(w, caller, e, reason=reason, day=day, total=total, advance=total,
                            provisional=False, msgid=msgid)  # fmt: skip
        ids.append(row["id"])
    hosp.write_booking(w)
    return ids
