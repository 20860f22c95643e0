"""The deferred queue's repository: ``deferrals`` rows (docs/STORE.md, "Deferred queue")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.service_tables import Deferral, Encounter, TransferFiling

__all__ = ["DeferralRepo"]

D = cast(Table, Deferral.__table__)
T = cast(Table, TransferFiling.__table__)
E = cast(Table, Encounter.__table__)


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
        """Open deferrals in queue order: insuree, year, discharge date, encounter id;
        each row also carries its encounter's ``transfer_from``."""
        q = (select(D, E.c.transfer_from).join(E, E.c.id == D.c.encounter_id)
             .where(D.c.cleared_at.is_(None)))  # fmt: skip
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

    def clear_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """``clear`` for many: dicts of ``did``, ``at``, ``sid``, ``wid``."""
        if not rows:
            return
        q = update(D).where(D.c.id == bindparam("did"), D.c.cleared_at.is_(None)).values(
            cleared_at=bindparam("at"), settlement_id=bindparam("sid"),
            clearing_tx_id=bindparam("wid"))  # fmt: skip
        done = self.s.connection().execute(q, list(rows)).rowcount
        if done not in (len(rows), -1):
            raise RuntimeError(f"{len(rows) - done} deferrals were not open")

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

    # -- transfer filings (转院备案) --

    def insert_filing(self, row: dict[str, Any]) -> None:
        self.s.execute(insert(T), [row])

    def filing(self, filing_id: str) -> Row[Any] | None:
        return self.s.execute(select(T).where(T.c.id == filing_id)).first()

    def cancel_filing(self, filing_id: str, at: dt.datetime) -> bool:
        q = update(T).where(T.c.id == filing_id, T.c.cancelled_at.is_(None))
        return bool(self.s.execute(q.values(cancelled_at=at)).rowcount)  # type: ignore[attr-defined]

    def transfer_source(self, psn_no: str, provider_code: str, on: dt.date) -> str | None:
        """The sending stay of the newest standing filing that sends ``psn_no`` to
        ``provider_code`` (or to any hospital) and covers ``on``."""
        q = (select(T.c.from_encounter_id)
             .where(T.c.psn_no == psn_no, T.c.cancelled_at.is_(None),
                    T.c.to_provider.is_(None) | (T.c.to_provider == provider_code),
                    T.c.from_provider != provider_code, T.c.valid_from <= on,
                    T.c.valid_to.is_(None) | (T.c.valid_to >= on))
             .order_by(T.c.filed_at.desc(), T.c.id.desc()).limit(1))  # fmt: skip
        return self.s.execute(q).scalar_one_or_none()

    # -- stay queries (issue 16, n2) --

    def filings_of(self, psn_no: str, *, provider_code: str | None, begin: dt.date | None,
                   end: dt.date | None) -> list[Row[Any]]:  # fmt: skip
        """Standing transfer filings of ``psn_no`` whose transfer date lies in
        [``begin``, ``end``] (either bound optional), oldest first; with
        ``provider_code``, only those it sent, that name it, or that name no hospital."""
        q = select(T).where(T.c.psn_no == psn_no, T.c.cancelled_at.is_(None))
        if provider_code is not None:
            q = q.where((T.c.from_provider == provider_code) | (T.c.to_provider == provider_code)
                        | T.c.to_provider.is_(None))  # fmt: skip
        if begin is not None:
            q = q.where(T.c.transfer_date >= begin)
        if end is not None:
            q = q.where(T.c.transfer_date <= end)
        return list(self.s.execute(q.order_by(T.c.transfer_date, T.c.filed_at, T.c.id)))
