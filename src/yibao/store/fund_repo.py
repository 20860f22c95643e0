"""The repository of the fund tables (fund_tables) and the journal aggregates fund
management reads (SQLAlchemy Core, one query per figure over every hospital at once:
the monthly clearing of 50 hospitals reads the month's postings once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, case, false, func, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.fund_tables import (
    FundBudget,
    FundCentralClaim,
    FundEvent,
    FundPaymentBatch,
    FundPrepayment,
    FundStatement,
    FundSubsidyClaim,
    FundSubsidyItem,
)
from yibao.store.service_tables import JournalPosting, JournalTransaction, SettlementRow

__all__ = ["FundRepo"]

P = cast(Table, FundPrepayment.__table__)
ST = cast(Table, FundStatement.__table__)
B = cast(Table, FundPaymentBatch.__table__)
C = cast(Table, FundSubsidyClaim.__table__)
CI = cast(Table, FundSubsidyItem.__table__)
CC = cast(Table, FundCentralClaim.__table__)
BU = cast(Table, FundBudget.__table__)
EV = cast(Table, FundEvent.__table__)
JT = cast(Table, JournalTransaction.__table__)
JP = cast(Table, JournalPosting.__table__)
S = cast(Table, SettlementRow.__table__)
_PAID = ("settlement", "reversal")


class FundRepo:
    """Reads and writes of fund management (one write path: services/funds)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # -- generic ---------------------------------------------------------------------------

    def _table(self, name: str) -> Table:
        return {"prepayment": P, "statement": ST, "batch": B, "claim": C, "central": CC}[name]

    def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        extra = {"item": CI, "budget": BU, "event": EV}
        table = extra[name] if name in extra else self._table(name)
        if rows:
            self.s.execute(insert(table), [dict(r) for r in rows])

    def get(self, name: str, row_id: str, *, lock: bool = False) -> Row[Any] | None:
        t = self._table(name)
        q = select(t).where(t.c.id == row_id)
        return self.s.execute(q.with_for_update() if lock else q).first()

    def move(self, name: str, row_id: str, version: int, values: Mapping[str, Any]) -> bool:
        """Move a row on under its version (False: someone else moved it first)."""
        t = self._table(name)
        done = self.s.execute(update(t).where(t.c.id == row_id, t.c.version == version)
                              .values(version=version + 1, **values))  # fmt: skip
        return int(done.rowcount) == 1  # type: ignore[attr-defined]

    def events(self, entity: str, entity_id: str) -> list[Row[Any]]:
        q = select(EV).where(EV.c.entity == entity, EV.c.entity_id == entity_id)
        return list(self.s.execute(q.order_by(EV.c.id)))

    # -- prepayments -----------------------------------------------------------------------

    def prepayments(self, *, provider_code: str | None = None,
                    states: Sequence[str] | None = None) -> list[Row[Any]]:  # fmt: skip
        q = select(P)
        if provider_code is not None:
            q = q.where(P.c.provider_code == provider_code)
        if states:
            q = q.where(P.c.state.in_(list(states)))
        return list(self.s.execute(q.order_by(P.c.applied_at, P.c.id)))

    # -- statements ------------------------------------------------------------------------

    def statements(self, *, month: dt.date | None = None, provider_code: str | None = None,
                   states: Sequence[str] | None = None) -> list[Row[Any]]:  # fmt: skip
        q = select(ST)
        if month is not None:
            q = q.where(ST.c.month == month)
        if provider_code is not None:
            q = q.where(ST.c.provider_code == provider_code)
        if states:
            q = q.where(ST.c.state.in_(list(states)))
        return list(self.s.execute(q.order_by(ST.c.month, ST.c.provider_code, ST.c.id)))

    def batches(self) -> list[Row[Any]]:
        return list(self.s.execute(select(B).order_by(B.c.created_at, B.c.id)))

    # -- subsidy claims --------------------------------------------------------------------

    def claims(self, *, provider_code: str | None = None) -> list[Row[Any]]:
        q = select(C)
        if provider_code is not None:
            q = q.where(C.c.provider_code == provider_code)
        return list(self.s.execute(q.order_by(C.c.claimed_at, C.c.id)))

    def claim_items(self, claim_id: str) -> list[Row[Any]]:
        q = select(CI).where(CI.c.claim_id == claim_id).order_by(CI.c.booked_on, CI.c.tx_id)
        return list(self.s.execute(q))

    def central_claims(self) -> list[Row[Any]]:
        return list(self.s.execute(select(CC).order_by(CC.c.period_end)))

    # -- budgets ---------------------------------------------------------------------------

    def budgets(self, year: int) -> dict[str, Row[Any]]:
        """The newest version of each hospital's budget for ``year``."""
        rows = self.s.execute(select(BU).where(BU.c.year == year)
                              .order_by(BU.c.provider_code, BU.c.version))  # fmt: skip
        return {r.provider_code: r for r in rows}

    def budget_version(self, provider_code: str, year: int) -> int:
        q = select(func.max(BU.c.version)).where(BU.c.provider_code == provider_code,
                                                 BU.c.year == year)  # fmt: skip
        return int(self.s.execute(q).scalar() or 0)

    # -- journal aggregates ----------------------------------------------------------------

    def owed(self, begin: dt.date, end: dt.date, code: str,
             provider_code: str | None = None) -> list[Row[Any]]:  # fmt: skip
        """What settlements and reversals booked ``begin..end`` credited to ``code``
        (a payable), per (provider = the posting's key, book, covid): columns provider,
        book, covid, fen (credits positive). COVID: the settlement was made under the
        overlay (its record's ``covid``)."""
        covid = func.coalesce(S.c.record["covid"].as_boolean(), false()).label("covid")
        q = (select(JP.c.key.label("provider"), JP.c.book, covid,
                    (-func.sum(JP.c.amount_fen)).label("fen"))
             .select_from(JP.join(JT, JT.c.id == JP.c.tx_id).outerjoin(S, S.c.id == JT.c.id))
             .where(JT.c.booked_on >= begin, JT.c.booked_on <= end, JT.c.kind.in_(_PAID),
                    JP.c.code == code)
             .group_by(JP.c.key, JP.c.book, covid))  # fmt: skip
        if provider_code is not None:
            q = q.where(JP.c.key == provider_code)
        return list(self.s.execute(q))

    def owed_by_day(self, begin: dt.date, end: dt.date, code: str,
                    books: Sequence[str]) -> list[Row[Any]]:  # fmt: skip
        """As ``owed`` in ``books`` only, per (provider, booked_on, covid)."""
        covid = func.coalesce(S.c.record["covid"].as_boolean(), false()).label("covid")
        q = (select(JP.c.key.label("provider"), JT.c.booked_on, covid,
                    (-func.sum(JP.c.amount_fen)).label("fen"))
             .select_from(JP.join(JT, JT.c.id == JP.c.tx_id).outerjoin(S, S.c.id == JT.c.id))
             .where(JT.c.booked_on >= begin, JT.c.booked_on <= end, JT.c.kind.in_(_PAID),
                    JP.c.code == code, JP.c.book.in_(list(books)))
             .group_by(JP.c.key, JT.c.booked_on, covid))  # fmt: skip
        return list(self.s.execute(q))

    def settlement_counts(self, begin: dt.date, end: dt.date) -> dict[str, int]:
        """Settlements minus reversals booked ``begin..end`` per provider."""
        n = func.sum(case((JT.c.kind == "settlement", 1), else_=-1))
        q = (select(JT.c.provider_code, n.label("n"))
             .where(JT.c.booked_on >= begin, JT.c.booked_on <= end, JT.c.kind.in_(_PAID))
             .group_by(JT.c.provider_code))  # fmt: skip
        return {r.provider_code: int(r.n) for r in self.s.execute(q) if r.provider_code}

    def balances(self, code: str, books: Sequence[str] | None = None, *,
                 end: dt.date | None = None) -> dict[tuple[str, str], int]:  # fmt: skip
        """Signed balance of ``code`` per (key, book), booked up to ``end``."""
        q = (select(JP.c.key, JP.c.book, func.sum(JP.c.amount_fen).label("fen"))
             .select_from(JP.join(JT, JT.c.id == JP.c.tx_id)).where(JP.c.code == code)
             .group_by(JP.c.key, JP.c.book))  # fmt: skip
        if books is not None:
            q = q.where(JP.c.book.in_(list(books)))
        if end is not None:
            q = q.where(JT.c.booked_on <= end)
        return {(r.key, r.book): int(r.fen) for r in self.s.execute(q) if r.fen}

    def confirmed_stays(self, end: dt.date) -> tuple[int, int]:
        """(count, fund_pay_sumamt total) of the standing settlements of confirmed COVID
        stays booked up to ``end``: what the average cost of a confirmed stay is measured
        from."""
        reversed_ids = select(S.c.reverses).where(S.c.reverses.is_not(None))
        status = S.c.record[("facts", "covid_status")].as_string()
        q = select(func.count(), func.coalesce(func.sum(S.c.fund_pay_sumamt), 0)).where(
            S.c.kind == "settlement", S.c.booked_on <= end, status == "confirmed",
            S.c.id.not_in(reversed_ids))  # fmt: skip
        row = self.s.execute(q).one()
        return int(row[0]), int(row[1])

    def unclaimed_fiscal(self, provider_code: str, end: dt.date,
                         code: str) -> list[Row[Any]]:  # fmt: skip
        """The settlement and reversal transactions of ``provider_code`` booked up to
        ``end`` that credit ``code`` (fiscal_payable) and no claim holds: tx_id,
        encounter_id, booked_on, fen (credits positive)."""
        claimed = select(CI.c.tx_id)
        q = (select(JT.c.id.label("tx_id"), JT.c.encounter_id, JT.c.booked_on,
                    (-func.sum(JP.c.amount_fen)).label("fen"))
             .select_from(JP.join(JT, JT.c.id == JP.c.tx_id))
             .where(JP.c.code == code, JP.c.key == provider_code, JT.c.booked_on <= end,
                    JT.c.kind.in_(_PAID), JT.c.id.not_in(claimed))
             .group_by(JT.c.id, JT.c.encounter_id, JT.c.booked_on)
             .order_by(JT.c.booked_on, JT.c.id))  # fmt: skip
        return list(self.s.execute(q))

    def claimed_fiscal(self, code: str) -> dict[str, int]:
        """Per claim: what its items' transactions post to ``code`` (credits positive)."""
        q = (select(CI.c.claim_id, (-func.sum(JP.c.amount_fen)).label("fen"))
             .select_from(CI.join(JP, and_(JP.c.tx_id == CI.c.tx_id, JP.c.code == code)))
             .group_by(CI.c.claim_id))  # fmt: skip
        return {r.claim_id: int(r.fen) for r in self.s.execute(q)}

    def fiscal_by_share(self, end: dt.date, subsidy: str, central: str
                        ) -> tuple[dict[int, tuple[int, int]], int]:  # fmt: skip
        """Up to ``end``, per central share (bp, the settlement's): the fiscal subsidy and
        the central receivable posted by settlements and reversals of the settlements
        table; and what the central claims' true-ups posted to the receivable."""
        amount = JP.c.amount_fen
        q = (select(S.c.central_share_bp,
                    func.sum(case((JP.c.code == subsidy, amount), else_=0)).label("fiscal"),
                    func.sum(case((JP.c.code == central, amount), else_=0)).label("central"))
             .select_from(JP.join(JT, JT.c.id == JP.c.tx_id).join(S, S.c.id == JT.c.id))
             .where(JP.c.code.in_([subsidy, central]), JT.c.booked_on <= end)
             .group_by(S.c.central_share_bp))  # fmt: skip
        by_bp = {int(r.central_share_bp): (int(r.fiscal or 0), int(r.central or 0))
                 for r in self.s.execute(q)}  # fmt: skip
        q2 = (select(func.coalesce(func.sum(amount), 0))
              .where(JP.c.code == central,
                     JP.c.tx_id.in_(select(CC.c.adjustment_tx_id)
                                    .where(CC.c.adjustment_tx_id.is_not(None)))))  # fmt: skip
        return by_bp, int(self.s.execute(q2).scalar() or 0)
