"""The deferred queue's repository: ``deferrals`` rows (docs/STORE.md, "Deferred queue")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.hospital import Deferral

__all__ = ["DeferralRepo"]

D = cast(Table, Deferral.__table__)


class DeferralRepo:
    """Reads and writes of ``deferrals``; a row is inserted once and cleared once."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def insert(self, row: dict[str, Any]) -> None:
        self.s.execute(insert(D), [row])

    def open_for(self, encounter_id: str) -> Row[Any] | None:
        """The encounter's open deferral, if any."""
        q = select(D).where(D.c.encounter_id == encounter_id, D.c.cleared_at.is_(None))
        return self.s.execute(q).first()

    def of_encounter(self, encounter_id: str) -> list[Row[Any]]:
        q = select(D).where(D.c.encounter_id == encounter_id).order_by(D.c.deferred_at, D.c.id)
        return list(self.s.execute(q))

    def open(self, *, provider_code: str | None = None, psn_nos: Sequence[str] | None = None,
             year: int | None = None) -> list[Row[Any]]:  # fmt: skip
        """Open deferrals in queue order: insuree, year, discharge date, encounter id."""
        q = select(D).where(D.c.cleared_at.is_(None))
        if provider_code is not None:
            q = q.where(D.c.provider_code == provider_code)
        if psn_nos is not None:
            q = q.where(D.c.psn_no.in_(list(psn_nos)))
        if year is not None:
            q = q.where(D.c.year == year)
        q = q.order_by(D.c.psn_no, D.c.year, D.c.discharge_date, D.c.encounter_id)
        return list(self.s.execute(q))

    def clear(self, deferral_id: str, *, at: dt.datetime, settlement_id: str,
              clearing_tx_id: str) -> None:  # fmt: skip
        """Set the clearing columns, once (an already cleared row is left alone)."""
        q = update(D).where(D.c.id == deferral_id, D.c.cleared_at.is_(None))
        q = q.values(cleared_at=at, settlement_id=settlement_id, clearing_tx_id=clearing_tx_id)
        if self.s.execute(q).rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError(f"deferral {deferral_id} is not open")

    def summary(self, provider_code: str | None = None) -> list[Row[Any]]:
        """Open deferrals per (hospital, reason): count, oldest deferral and discharge,
        amounts advanced and the lines' total when deferred."""
        q = (select(D.c.provider_code, D.c.reason, func.count().label("n"),
                    func.min(D.c.deferred_at).label("oldest_at"),
                    func.min(D.c.discharge_date).label("oldest_discharge"),
                    func.sum(D.c.advance_fen).label("advance_fen"),
                    func.sum(D.c.medfee_sumamt).label("medfee_sumamt"))
             .where(D.c.cleared_at.is_(None))
             .group_by(D.c.provider_code, D.c.reason)
             .order_by(D.c.provider_code, D.c.reason))  # fmt: skip
        if provider_code is not None:
            q = q.where(D.c.provider_code == provider_code)
        return list(self.s.execute(q))

    def all(self) -> list[Row[Any]]:
        return list(self.s.execute(select(D).order_by(D.c.deferred_at, D.c.id)))
