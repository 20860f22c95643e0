"""Many settlements reversed at once (re-settlement, DECISIONS 0083): the same rows as
``encounters.reverse_standing`` writes one by one — the reversal settlement (amounts
negated, accumulators and balance before and after), the exact negation of the
settlement's ledger transaction, the accumulators and accounts given back, the
encounter back to ``discharged`` with its event and audit entry — built by the
same ``reversal_into`` and written at once by the store's writer (COPY on PostgreSQL
when large) inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from yibao.core.errors import Conflict
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import new_id
from yibao.services.encounters.records import settlement_from_record
from yibao.services.encounters.settlement import reversal_into
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
    returns reversal ids by settlement id. Inside the caller's transaction; each
    reversal built as ``reverse_standing`` builds one (``reversal_into``), all written
    at once by the store's writer."""
    hosp = uow.hospital
    locked = {r.id: r for r in hosp.lock_encounters([t.enc.id for t in todo])}
    for t in todo:
        r = locked.get(t.enc.id)
        if r is None or (r.status, r.settlement_id, r.version) != ("settled", t.row.id,
                                                                    t.enc.version):  # fmt: skip
            raise Conflict(f"encounter {t.enc.id} changed since it was read: run it again")
    acc = hosp.lock_accumulators_of([(t.row.psn_no, t.row.year) for t in todo], at)
    moved = hosp.lock_accounts([t.row.psn_no for t in todo], at)
    original = {x.id: x for x in hosp.transactions([t.row.id for t in todo])}
    w, out, deltas = hosp.writes(at), {}, dict[str, int]()
    for t in todo:
        row, psn, key = t.row, t.row.psn_no, (t.row.psn_no, t.row.year)
        rec, tx = settlement_from_record(row.record), original.get(row.id)
        if tx is None:
            raise Conflict(f"settlement {row.id} has no booked transaction")
        current = t.opening_fen + moved[psn] + deltas.get(psn, 0)
        deltas[psn] = deltas.get(psn, 0) + rec.setlinfo.acct_pay
        out[row.id] = rev_id = new_id("R", at)
        acc[key] = reversal_into(w, caller, t.enc, row, rec, tx, rev_id=rev_id, msgid=None,
                                 acc_now=acc[key], balance_before_fen=current)  # fmt: skip
    hosp.write_booking(w)
    return out
