"""The repository of manual claims (手工报销, claim_tables), on the unit of work's session
(SQLAlchemy Core): ``uow.claims``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from yibao.store.claim_tables import (
    Claim,
    ClaimAttachment,
    ClaimEvent,
    ClaimFile,
    ClaimInvoice,
    ClaimLine,
    ClaimPayment,
    ClaimPaymentBatch,
    ClaimSettlement,
)

__all__ = ["ClaimRepo"]

C = cast(Table, Claim.__table__)
EV = cast(Table, ClaimEvent.__table__)
INV = cast(Table, ClaimInvoice.__table__)
LN = cast(Table, ClaimLine.__table__)
FI = cast(Table, ClaimFile.__table__)
AT = cast(Table, ClaimAttachment.__table__)
ST = cast(Table, ClaimSettlement.__table__)
PB = cast(Table, ClaimPaymentBatch.__table__)
PY = cast(Table, ClaimPayment.__table__)


class ClaimRepo:
    """Reads and writes of claims, their lines, files, settlements and payments."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # -- the claim and its events ------------------------------------------------------

    def insert_claim(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(C), [dict(values)])

    def claim(self, claim_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(C).where(C.c.id == claim_id)
        return self.s.execute(q.with_for_update() if lock else q).first()

    def update_claim(self, claim_id: str, values: Mapping[str, Any]) -> None:
        self.s.execute(update(C).where(C.c.id == claim_id).values(**values))

    def add_event(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(EV), [dict(values)])

    def events(self, claim_id: str) -> list[Row[Any]]:
        return list(self.s.execute(select(EV).where(EV.c.claim_id == claim_id).order_by(EV.c.seq)))

    def claims(
        self,
        *,
        status: Sequence[str] | None = None,
        township: str | None = None,
        psn_no: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[Row[Any]]:
        q = select(C).order_by(C.c.created_at.desc(), C.c.id).limit(limit).offset(offset)
        if status is not None:
            q = q.where(C.c.status.in_(list(status)))
        if township is not None:
            q = q.where(C.c.township == township)
        if psn_no is not None:
            q = q.where(C.c.psn_no == psn_no)
        return list(self.s.execute(q))

    def overdue(self, now: dt.datetime) -> list[Row[Any]]:
        """Claims whose running step is past its due time, oldest due first."""
        q = select(C).where(C.c.due_at.is_not(None), C.c.due_at < now).order_by(C.c.due_at)
        return list(self.s.execute(q))

    def overlapping(
        self, psn_no: str, provider_code: str, begin: dt.date, end: dt.date
    ) -> list[Row[Any]]:
        """Claims of the insuree at the provider whose dates overlap ``begin..end``."""
        q = select(C.c.id, C.c.status, C.c.admit_date, C.c.discharge_date).where(
            C.c.psn_no == psn_no,
            C.c.provider_code == provider_code,
            C.c.admit_date <= end,
            C.c.discharge_date >= begin,
        )
        return list(self.s.execute(q))

    # -- invoices, lines, files --------------------------------------------------------

    def invoices_taken(self, keys: Sequence[tuple[str, str]]) -> list[Row[Any]]:
        """The stored invoices among (code, number) ``keys``, with their claim."""
        if not keys:
            return []
        q = select(INV.c.claim_id, INV.c.code, INV.c.number).where(
            tuple_(INV.c.code, INV.c.number).in_(list(keys))
        )
        return list(self.s.execute(q))

    def insert_invoices(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(INV), [dict(r) for r in rows])

    def invoices(self, claim_id: str) -> list[Row[Any]]:
        q = select(INV).where(INV.c.claim_id == claim_id).order_by(INV.c.id)
        return list(self.s.execute(q))

    def insert_lines(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(LN), [dict(r) for r in rows])

    def delete_lines(self, claim_id: str) -> None:
        """A fee list replaced before review (the old list is in the claim's events)."""
        self.s.execute(LN.delete().where(LN.c.claim_id == claim_id))

    def lines(self, claim_id: str) -> list[Row[Any]]:
        q = select(LN).where(LN.c.claim_id == claim_id).order_by(LN.c.id)
        return list(self.s.execute(q))

    def update_line(self, claim_id: str, sn: str, values: Mapping[str, Any]) -> int:
        r = self.s.execute(
            update(LN).where(LN.c.claim_id == claim_id, LN.c.sn == sn).values(**values)
        )
        return int(getattr(r, "rowcount", 0))

    def has_file(self, sha256: str) -> bool:
        return self.s.execute(select(FI.c.sha256).where(FI.c.sha256 == sha256)).first() is not None

    def insert_file(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(FI), [dict(values)])

    def file(self, sha256: str) -> Row[Any] | None:
        return self.s.execute(select(FI).where(FI.c.sha256 == sha256)).first()

    def insert_attachment(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(AT), [dict(values)])

    def attachments(self, claim_id: str) -> list[Row[Any]]:
        q = (
            select(AT, FI.c.kind, FI.c.size)
            .join(FI, FI.c.sha256 == AT.c.sha256)
            .where(AT.c.claim_id == claim_id)
            .order_by(AT.c.id)
        )
        return list(self.s.execute(q))

    # -- settlements -------------------------------------------------------------------

    def insert_settlement(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(ST), [dict(values)])

    def settlement(self, settlement_id: str) -> Row[Any] | None:
        return self.s.execute(select(ST).where(ST.c.id == settlement_id)).first()

    def settlements(self, claim_id: str | None = None) -> list[Row[Any]]:
        """Every claim settlement and reversal (of one claim), in booking order."""
        q = select(ST).order_by(ST.c.settled_at, ST.c.id)
        if claim_id is not None:
            q = q.where(ST.c.claim_id == claim_id)
        return list(self.s.execute(q))

    def standing_count(self, psn_no: str, year: int, before: dt.date) -> int:
        """Claim settlements of the insuree-year that stand (not reversed), of stays
        discharged before ``before``: for 本年第n次住院."""
        rev = select(ST.c.reverses).where(ST.c.reverses.is_not(None))
        q = (
            select(func.count())
            .select_from(ST)
            .join(C, C.c.id == ST.c.claim_id)
            .where(
                ST.c.psn_no == psn_no,
                ST.c.year == year,
                ST.c.kind == "settlement",
                ST.c.id.not_in(rev),
                C.c.discharge_date < before,
            )
        )
        return int(self.s.execute(q).scalar() or 0)

    # -- payment batches ---------------------------------------------------------------

    def insert_batch(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(PB), [dict(values)])

    def batch(self, batch_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(PB).where(PB.c.id == batch_id)
        return self.s.execute(q.with_for_update() if lock else q).first()

    def batches(self, limit: int = 100) -> list[Row[Any]]:
        q = select(PB).order_by(PB.c.created_at.desc(), PB.c.id).limit(limit)
        return list(self.s.execute(q))

    def update_batch(self, batch_id: str, values: Mapping[str, Any]) -> None:
        self.s.execute(update(PB).where(PB.c.id == batch_id).values(**values))

    def insert_payments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.s.execute(insert(PY), [dict(r) for r in rows])

    def payments(self, batch_id: str) -> list[Row[Any]]:
        q = (
            select(PY, C.c.payee_name, C.c.payee_bank, C.c.payee_account, C.c.psn_no)
            .join(C, C.c.id == PY.c.claim_id)
            .where(PY.c.batch_id == batch_id)
            .order_by(PY.c.seq)
        )
        return list(self.s.execute(q))

    def payments_of(self, claim_id: str) -> list[Row[Any]]:
        q = select(PY).where(PY.c.claim_id == claim_id).order_by(PY.c.id)
        return list(self.s.execute(q))

    def update_payment(self, payment_id: int, values: Mapping[str, Any]) -> None:
        self.s.execute(update(PY).where(PY.c.id == payment_id).values(**values))

    def lock_claims(self, claim_ids: Sequence[str]) -> list[Row[Any]]:
        """The claims of ``claim_ids``, locked, in id order (one lock order for batches)."""
        q = select(C).where(C.c.id.in_(sorted(claim_ids))).order_by(C.c.id).with_for_update()
        return list(self.s.execute(q))

    # -- the daily report --------------------------------------------------------------

    def events_between(self, begin: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
        """Events at ``begin <= at < end`` with their claim's township."""
        q = (
            select(EV.c.claim_id, EV.c.kind, EV.c.status_to, EV.c.at, C.c.township)
            .join(C, C.c.id == EV.c.claim_id)
            .where(EV.c.at >= begin, EV.c.at < end)
        )
        return list(self.s.execute(q))

    def status_counts(self) -> list[Row[Any]]:
        """(township, status, n) over every claim."""
        q = select(C.c.township, C.c.status, func.count().label("n")).group_by(
            C.c.township, C.c.status
        )
        return list(self.s.execute(q))

    def paid_between(self, begin: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
        """Paid lines done ``begin <= done_at < end``: (township, amount_fen)."""
        q = (
            select(C.c.township, PY.c.amount_fen)
            .join(C, C.c.id == PY.c.claim_id)
            .where(PY.c.status == "paid", PY.c.done_at >= begin, PY.c.done_at < end)
        )
        return list(self.s.execute(q))

    def states_at(self, end: dt.datetime) -> list[Row[Any]]:
        """Each claim received before ``end`` with its status then (its last event before
        ``end``) and its township: (claim_id, township, status)."""
        last = (
            select(EV.c.claim_id, func.max(EV.c.seq).label("seq"))
            .where(EV.c.at < end)
            .group_by(EV.c.claim_id)
            .subquery()
        )
        q = (
            select(EV.c.claim_id, C.c.township, EV.c.status_to.label("status"))
            .join(last, (last.c.claim_id == EV.c.claim_id) & (last.c.seq == EV.c.seq))
            .join(C, C.c.id == EV.c.claim_id)
        )
        return list(self.s.execute(q))
