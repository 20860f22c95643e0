"""Reads for bulk re-settlement: standing settlements and the active lines of stays."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, select, tuple_
from sqlalchemy.orm import Session

from yibao.core.engine.model import Accumulators
from yibao.store.service_tables import Accumulator, Encounter, FeeLineRow, SettlementRow
from yibao.store.statements import ACC_COLUMNS, acc_row

__all__ = ["accumulators_of", "active_lines_of", "encounters_of", "standing_settlements"]

S = cast(Table, SettlementRow.__table__)
E = cast(Table, Encounter.__table__)
L = cast(Table, FeeLineRow.__table__)
A = cast(Table, Accumulator.__table__)


def standing_settlements(s: Session, *, begin: dt.date | None = None, end: dt.date | None = None,
                         psn_nos: Sequence[str] | None = None) -> list[Row[Any]]:  # fmt: skip
    """Settlements that stand (their encounter is settled by them, not reversed), with
    the encounter's ``insured_region``; discharged in ``[begin, end]``, of ``psn_nos``."""
    q = (select(S, E.c.insured_region).join(E, E.c.settlement_id == S.c.id)
         .where(S.c.kind == "settlement", E.c.status == "settled"))  # fmt: skip
    if begin is not None:
        q = q.where(S.c.discharge_date >= begin)
    if end is not None:
        q = q.where(S.c.discharge_date <= end)
    out: list[Row[Any]] = []
    if psn_nos is None:
        return list(s.execute(q.order_by(S.c.psn_no, S.c.discharge_date, S.c.encounter_id)))
    for start in range(0, len(psn_nos), 5000):
        part = q.where(S.c.psn_no.in_(list(psn_nos[start : start + 5000])))
        out += list(s.execute(part.order_by(S.c.psn_no, S.c.discharge_date, S.c.encounter_id)))
    return out


def active_lines_of(s: Session, encounter_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """The active fee lines of each stay, in upload order."""
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for start in range(0, len(encounter_ids), 5000):
        q = (select(L).where(L.c.encounter_id.in_(list(encounter_ids[start : start + 5000])),
                             L.c.cancelled_at.is_(None)).order_by(L.c.id))  # fmt: skip
        for r in s.execute(q):
            out[r.encounter_id].append(r)
    return out


def accumulators_of(s: Session, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int],
                                                                        Accumulators]:  # fmt: skip
    """The stored accumulators of each (psn_no, year) that has a row."""
    out: dict[tuple[str, int], Accumulators] = {}
    for start in range(0, len(keys), 2000):
        q = select(A.c.psn_no, A.c.year, *ACC_COLUMNS).where(
            tuple_(A.c.psn_no, A.c.year).in_(list(keys[start : start + 2000])))  # fmt: skip
        out.update({(r[0], r[1]): acc_row(r[2:]) for r in s.execute(q)})
    return out


def encounters_of(s: Session, psn_nos: Sequence[str]) -> list[Row[Any]]:
    """Every encounter of these insurees."""
    out: list[Row[Any]] = []
    for start in range(0, len(psn_nos), 5000):
        out += list(s.execute(select(E).where(E.c.psn_no.in_(list(psn_nos[start : start + 5000])))))
    return out
