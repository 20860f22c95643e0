"""Many settlements reversed at once (re-settlement, DECISIONS 0083): the same rows as
``encounters.reverse_standing`` writes one by one — the reversal settlement (amounts
negated, accumulators and balance before and after), the exact negation of the
settlement's ledger transaction, the accumulators and accounts given back, the
encounter back to ``discharged`` with its event and audit entry — written in bulk (COPY
on PostgreSQL) inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from yibao.core.errors import Conflict
from yibao.core.ledger import reversal_of
from yibao.services.access.rights import Principal, audit_op
from yibao.services.deferred.clearing import _put, _t
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import new_id
from yibao.services.encounters.records import given_back, reversal_row, settlement_from_record
from yibao.services.stays.rows import Rows
from yibao.store import bulk
from yibao.store.encounter_repo import tx_rows
from yibao.store.service_tables import (
    AuditEntry,
    EncounterEvent,
    JournalPosting,
    JournalTransaction,
    SettlementRow,
)
from yibao.store.uow import UnitOfWork

__all__ = ["Reversal", "reverse_many"]


class Reversal:
    """One settlement to reverse: its row, its encounter as read, the opening balance of
    the insuree's account on the discharge date."""

    __slots__ = ("enc", "opening_fen", "row")

    def __init__(self, row: Any, enc: uc.EncounterState, opening_fen: int) -> None:
        self.row, self.enc, self.opening_fen = row, enc, opening_fen


def reverse_many(uow: UnitOfWork, caller: Principal, todo: Sequence[Reversal],
                 at: dt.datetime) -> dict[str, str]:  # fmt: skip
    """Reverse every settlement of ``todo`` (each standing, its encounter as read);
    returns reversal ids by settlement id. Inside the caller's transaction."""
    s, pg = uow.session, uow.hospital.pg
    locked = {r.id: r for r in bulk.lock_encounters(s, [t.enc.id for t in todo])}
    for t in todo:
        r = locked.get(t.enc.id)
        if r is None or (r.status, r.settlement_id, r.version) != ("settled", t.row.id,
                                                                    t.enc.version):  # fmt: skip
            raise Conflict(f"encounter {t.enc.id} changed since it was read: run it again")
    acc = bulk.lock_accumulators(s, sorted({(t.row.psn_no, t.row.year) for t in todo}), at)
    moved = bulk.lock_accounts(s, sorted({t.row.psn_no for t in todo}), at)
    original = {x.id: x for x in uow.hospital.transactions([t.row.id for t in todo])}
    booked = uc._day(at)
    rows, settlements, heads, postings, moves, out = Rows(pg), [], [], [], [], {}
    deltas: dict[str, int] = {}
    for t in todo:
        row, psn, key = t.row, t.row.psn_no, (t.row.psn_no, t.row.year)
        rec, tx = settlement_from_record(row.record), original.get(row.id)
        if tx is None:
            raise Conflict(f"settlement {row.id} has no booked transaction")
        now = acc[key]
        back = acc[key] = given_back(now, rec.accumulators_before, rec.accumulators_after)
        i = rec.setlinfo
        current = t.opening_fen + moved[psn] + deltas.get(psn, 0)
        deltas[psn] = deltas.get(psn, 0) + i.acct_pay
        rev_id = new_id("R", at)
        out[row.id] = rev_id
        settlements.append(rows.json_columns(reversal_row(
            row, rec, rev_id=rev_id, encounter_id=t.enc.id, booked_on=booked, settled_at=at,
            msgid=None, actor=caller.actor, accumulators_before=now, accumulators_after=back,
            balance_before_fen=current)))  # fmt: skip
        head, lines = tx_rows(reversal_of(tx, booked_on=booked, tx_id=rev_id), at)
        heads.append(head)
        postings += lines
        after = replace(t.enc, status="discharged", version=t.enc.version + 1,
                        settlement_id=None)  # fmt: skip
        detail = {"settlement_id": row.id, "reversal_id": rev_id}
        moves.append({"id": t.enc.id, "status": "discharged", "version": after.version,
                      "settlement_id": None, "discharge_date": t.enc.discharge_date})  # fmt: skip
        rows.event(t.enc.id, after.version, "settlement_reversed", "settled", "discharged", at,
                   caller.actor, None, detail)  # fmt: skip
        rows.audit_entry(audit_op(caller, "encounter.settlement_reversed", "encounter",
                                  t.enc.id, before=t.enc.audit_view(),
                                  after=after.audit_view(), at=at, detail=detail))  # fmt: skip
    _put(uow, pg, _t(SettlementRow), settlements)
    _put(uow, pg, _t(JournalTransaction), heads)
    _put(uow, pg, _t(JournalPosting), postings)
    bulk.set_accumulators(s, acc, at)
    bulk.move_accounts(s, deltas, at)
    bulk.move_encounters(s, moves, at)
    _put(uow, pg, _t(EncounterEvent), rows.events)
    _put(uow, pg, _t(AuditEntry), rows.audit)
    return out
