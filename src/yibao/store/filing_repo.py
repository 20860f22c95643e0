"""The repository of the out-of-area tables (filing_tables): filings and their events,
clearing items and statements, on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from yibao.store.filing_tables import ClearingItem, ClearingStatement, Filing, FilingEvent

__all__ = ["FilingRepo"]

F = cast(Table, Filing.__table__)
E = cast(Table, FilingEvent.__table__)
CI = cast(Table, ClearingItem.__table__)
CS = cast(Table, ClearingStatement.__table__)
OPEN_STATES = ("submitted", "accepted", "forwarded")


class FilingRepo:
    """Reads and writes of filings (one write path: services/filings) and clearing."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- filings ---------------------------------------------------------------------------

    def insert(self, filings: Sequence[Mapping[str, Any]],
               events: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
        if filings:
            self.session.execute(insert(F), [dict(f) for f in filings])
        if events:
            self.session.execute(insert(E), [dict(e) for e in events])

    def get(self, filing_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(F).where(F.c.id == filing_id)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def move(self, filing_id: str, version: int, values: Mapping[str, Any],
             event: Mapping[str, Any]) -> bool:  # fmt: skip
        """The projection moved on (``version`` checked) and its event appended."""
        done = self.session.execute(
            update(F).where(F.c.id == filing_id, F.c.version == version)
            .values(version=version + 1, **values)
        )  # fmt: skip
        if int(done.rowcount) != 1:  # type: ignore[attr-defined]
            return False
        self.session.execute(insert(E), [dict(event)])
        return True

    def events(self, filing_id: str) -> list[Row[Any]]:
        return list(self.session.execute(select(E).where(E.c.filing_id == filing_id)
                                         .order_by(E.c.seq)))  # fmt: skip

    def find(self, *, states: Sequence[str] | None = None, township: str | None = None,
             psn_no: str | None = None, due_before: dt.datetime | None = None,
             source_prefix: str | None = None, limit: int = 1000,
             offset: int = 0) -> list[Row[Any]]:  # fmt: skip
        q = select(F)
        if source_prefix is not None:
            q = q.where(F.c.source.startswith(source_prefix, autoescape=True))
        if states:
            q = q.where(F.c.state.in_(states))
        if township is not None:
            q = q.where(F.c.township == township)
        if psn_no is not None:
            q = q.where(F.c.psn_no == psn_no)
        if due_before is not None:
            q = q.where(F.c.due_at.is_not(None), F.c.due_at < due_before)
        q = q.order_by(F.c.due_at.is_(None), F.c.due_at, F.c.id).limit(limit).offset(offset)
        return list(self.session.execute(q))

    def approved_on(self, psn_no: str, day: dt.date) -> list[Row[Any]]:
        """The filings of ``psn_no`` approved (not revoked) and valid on ``day``."""
        q = select(F).where(
            F.c.psn_no == psn_no, F.c.state == "approved", F.c.valid_from <= day,
            or_(F.c.valid_to.is_(None), F.c.valid_to >= day),
        )  # fmt: skip
        return list(self.session.execute(q.order_by(F.c.id)))

    def events_between(self, start: dt.datetime | None, end: dt.datetime) -> list[Row[Any]]:
        """Every filing step in [start, end) (from the first with ``start`` None), with its
        filing's township, in order."""
        q = select(E, F.c.township).join(F, F.c.id == E.c.filing_id).where(E.c.at < end)
        if start is not None:
            q = q.where(E.c.at >= start)
        return list(self.session.execute(q.order_by(E.c.filing_id, E.c.seq)))

    # -- clearing --------------------------------------------------------------------------

    def clearing_item(self, direction: str, counterpart: str, ref: str) -> Row[Any] | None:
        q = select(CI).where(CI.c.direction == direction, CI.c.counterpart == counterpart,
                             CI.c.ref == ref)  # fmt: skip
        return self.session.execute(q).first()

    def insert_clearing_items(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(CI), [dict(r) for r in rows])

    def clearing_items(self, *, counterpart: str | None = None, month: str | None = None,
                       direction: str | None = None) -> list[Row[Any]]:  # fmt: skip
        conds = [c for c in (
            CI.c.counterpart == counterpart if counterpart else None,
            CI.c.month == month if month else None,
            CI.c.direction == direction if direction else None,
        ) if c is not None]  # fmt: skip
        q = select(CI).where(and_(*conds)) if conds else select(CI)
        return list(self.session.execute(q.order_by(CI.c.setl_date, CI.c.id)))

    def clearing_totals(self, month: str) -> list[Row[Any]]:
        """(counterpart, direction, items, fund_fen) of ``month``."""
        q = (select(CI.c.counterpart, CI.c.direction, func.count().label("items"),
                    func.sum(CI.c.fund_fen).label("fund_fen"))
             .where(CI.c.month == month).group_by(CI.c.counterpart, CI.c.direction)
             .order_by(CI.c.counterpart, CI.c.direction))  # fmt: skip
        return list(self.session.execute(q))

    def statement(self, counterpart: str, month: str, direction: str, *,
                  lock: bool = False) -> Row[Any] | None:  # fmt: skip
        q = select(CS).where(CS.c.counterpart == counterpart, CS.c.month == month,
                             CS.c.direction == direction)  # fmt: skip
        return self.session.execute(q.with_for_update() if lock else q).first()

    def statements(self, month: str | None = None) -> list[Row[Any]]:
        q = select(CS) if month is None else select(CS).where(CS.c.month == month)
        return list(self.session.execute(q.order_by(CS.c.month, CS.c.counterpart,
                                                    CS.c.direction)))  # fmt: skip

    def insert_statement(self, row: Mapping[str, Any]) -> None:
        self.session.execute(insert(CS), [dict(row)])

    def update_statement(self, statement_id: int, values: Mapping[str, Any]) -> None:
        self.session.execute(update(CS).where(CS.c.id == statement_id).values(**values))
