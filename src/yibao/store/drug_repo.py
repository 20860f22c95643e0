"""The repository of the drug monitoring tables (drug_tables) on the unit of work's
session (SQLAlchemy Core), and the reads of settled fee lines the monitoring needs
(usage, and the lines of drugs bought in an emergency). One write path: services/drugs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from yibao.store.drug_tables import DrugEvent, DrugFiling, DrugOrder, DrugSignal
from yibao.store.service_tables import Encounter, FeeLineRow

__all__ = ["DrugRepo"]

ORD = cast(Table, DrugOrder.__table__)
S = cast(Table, DrugSignal.__table__)
F = cast(Table, DrugFiling.__table__)
E = cast(Table, DrugEvent.__table__)
L = cast(Table, FeeLineRow.__table__)
ENC = cast(Table, Encounter.__table__)
_CHUNK = 500


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class DrugRepo:
    """Reads and writes of orders, signals, filings and their events."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- orders ------------------------------------------------------------------------------

    def current_orders(self, order_ids: Sequence[str]) -> dict[str, Row[Any]]:
        out: dict[str, Row[Any]] = {}
        for part in _chunks(order_ids):
            q = select(ORD).where(ORD.c.order_id.in_(part), ORD.c.superseded_by.is_(None))
            out.update({r.order_id: r for r in self.session.execute(q)})
        return out

    def supersede_orders(self, ids: Sequence[int], change_set_id: int) -> None:
        for part in _chunks(ids):
            self.session.execute(
                update(ORD).where(ORD.c.id.in_(part)).values(superseded_by=change_set_id)
            )

    def insert_orders(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(ORD), [dict(r) for r in rows])

    def orders(self, first: dt.date, last: dt.date, codes: Sequence[str] | None = None,
               provider: str | None = None) -> list[Row[Any]]:  # fmt: skip
        """Current order versions dated ``first`` … ``last``."""
        c = ORD.c
        q = select(c.order_id, c.order_date, c.provider_code.label("provider"), c.code,
                   c.supplier, c.price_e6, c.qty_ordered_e4, c.qty_delivered_e4,
                   c.delivery_date).where(
            c.superseded_by.is_(None), c.order_date.between(first, last))  # fmt: skip
        if codes is not None:
            q = q.where(ORD.c.code.in_(codes))
        if provider is not None:
            q = q.where(ORD.c.provider_code == provider)
        return list(self.session.execute(q.order_by(ORD.c.order_date, ORD.c.order_id)))

    def order_span(self) -> tuple[dt.date | None, dt.date | None]:
        q = select(func.min(ORD.c.order_date), func.max(ORD.c.order_date)).where(
            ORD.c.superseded_by.is_(None)
        )
        lo, hi = self.session.execute(q).one()
        return lo, hi

    # -- settled fee lines -------------------------------------------------------------------

    def _settled(self) -> Any:
        return (
            L.join(ENC, ENC.c.id == L.c.encounter_id),
            and_(L.c.cancelled_at.is_(None), ENC.c.settlement_id.is_not(None)),
        )

    def usage(self, codes: Sequence[str], first: dt.date, last: dt.date) -> list[Row[Any]]:
        """Settled use of ``codes`` per hospital and day (refunds net)."""
        joined, settled = self._settled()
        q = (
            select(ENC.c.provider_code.label("provider"), L.c.code,
                   L.c.service_date.label("day"), func.sum(L.c.qty_e4).label("qty_e4"))
            .select_from(joined)
            .where(settled, L.c.code.in_(codes), L.c.service_date.between(first, last))
            .group_by(ENC.c.provider_code, L.c.code, L.c.service_date)
        )  # fmt: skip
        return list(self.session.execute(q))

    def settled_lines(self, pairs: Sequence[tuple[str, str]], first: dt.date,
                      last: dt.date) -> list[Row[Any]]:  # fmt: skip
        """Settled lines (not refunds) of (provider, code) ``pairs`` dated in the span."""
        if not pairs:
            return []
        joined, settled = self._settled()
        q = (
            select(ENC.c.provider_code.label("provider"), L.c.code,
                   L.c.service_date.label("day"), L.c.price_e6, L.c.qty_e4,
                   L.c.encounter_id, L.c.sn)
            .select_from(joined)
            .where(settled, L.c.qty_e4 > 0, L.c.service_date.between(first, last),
                   tuple_(ENC.c.provider_code, L.c.code).in_(list(pairs)))
        )  # fmt: skip
        return list(self.session.execute(q))

    # -- signals -----------------------------------------------------------------------------

    def signal_keys(self, first: dt.date, last: dt.date) -> set[tuple[str, str, str, str, dt.date]]:
        q = select(S.c.kind, S.c.code, S.c.provider_code, S.c.supplier, S.c.first_day).where(
            S.c.first_day.between(first, last)
        )
        return {(r[0], r[1], r[2], r[3], r[4]) for r in self.session.execute(q)}

    def insert_signals(self, rows: Sequence[Mapping[str, Any]],
                       events: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
        if rows:
            self.session.execute(insert(S), [dict(r) for r in rows])
        if events:
            self.session.execute(insert(E), [dict(e) for e in events])

    def signal(self, signal_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(S).where(S.c.id == signal_id)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def signals(self, *, states: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
                code: str | None = None, provider: str | None = None,
                first: dt.date | None = None, last: dt.date | None = None,
                limit: int = 500) -> list[Row[Any]]:  # fmt: skip
        q = select(S)
        if states:
            q = q.where(S.c.state.in_(states))
        if kinds:
            q = q.where(S.c.kind.in_(kinds))
        if code is not None:
            q = q.where(S.c.code == code)
        if provider is not None:
            q = q.where(S.c.provider_code == provider)
        if first is not None:
            q = q.where(S.c.last_day >= first)
        if last is not None:
            q = q.where(S.c.first_day <= last)
        q = q.order_by(S.c.first_day.desc(), S.c.kind, S.c.code, S.c.provider_code, S.c.supplier)
        return list(self.session.execute(q.limit(limit)))

    def move(self, table: str, subject_id: str, version: int, values: Mapping[str, Any],
             event: Mapping[str, Any]) -> bool:  # fmt: skip
        """A signal's or filing's projection moved on (``version`` checked), its event
        appended."""
        t = S if table == "signal" else F
        done = self.session.execute(
            update(t).where(t.c.id == subject_id, t.c.version == version)
            .values(version=version + 1, **values)
        )  # fmt: skip
        if int(done.rowcount) != 1:  # type: ignore[attr-defined]
            return False
        self.session.execute(insert(E), [dict(event)])
        return True

    def events(self, subject: str, subject_id: str) -> list[Row[Any]]:
        q = select(E).where(E.c.subject == subject, E.c.subject_id == subject_id)
        return list(self.session.execute(q.order_by(E.c.seq)))

    # -- filings -----------------------------------------------------------------------------

    def insert_filings(self, rows: Sequence[Mapping[str, Any]],
                       events: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
        if rows:
            self.session.execute(insert(F), [dict(r) for r in rows])
        if events:
            self.session.execute(insert(E), [dict(e) for e in events])

    def filing(self, filing_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(F).where(F.c.id == filing_id)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def filings(self, *, states: Sequence[str] | None = None, provider: str | None = None,
                code: str | None = None, limit: int = 500) -> list[Row[Any]]:  # fmt: skip
        q = select(F)
        if states:
            q = q.where(F.c.state.in_(states))
        if provider is not None:
            q = q.where(F.c.provider_code == provider)
        if code is not None:
            q = q.where(F.c.code == code)
        return list(self.session.execute(q.order_by(F.c.filed_at.desc(), F.c.id).limit(limit)))

    def accepted_filing_on(self, provider: str, code: str, day: dt.date) -> Row[Any] | None:
        """The newest accepted filing of ``code`` at ``provider`` purchased by ``day``."""
        q = (
            select(F)
            .where(F.c.provider_code == provider, F.c.code == code, F.c.state == "accepted",
                   F.c.purchased_on <= day)
            .order_by(F.c.purchased_on.desc(), F.c.filed_at.desc())
            .limit(1)
        )  # fmt: skip
        return self.session.execute(q).first()

    def accepted_filings(self) -> list[Row[Any]]:
        return list(self.session.execute(select(F).where(F.c.state == "accepted")))

    def duplicate_filing(self, provider: str, code: str, supplier: str, on: dt.date,
                         price_e6: int) -> Row[Any] | None:  # fmt: skip
        q = select(F).where(
            F.c.provider_code == provider, F.c.code == code, F.c.supplier == supplier,
            F.c.purchased_on == on, F.c.price_e6 == price_e6,
            or_(F.c.state == "filed", F.c.state == "accepted"),
        )  # fmt: skip
        return self.session.execute(q).first()
