"""Out-of-area tables (issue 18; migration 0009):

- ``filings``: 异地就医备案, one row per filing holding its content (kind, insuree,
  destination, dates) and its *current* state, a projection of ``filing_events``;
- ``filing_events``: every step of a filing (submitted, accepted 受理, forwarded 报送,
  approved, refused, revoked), who and when, the reason, the step's due time and the
  clause that sets it (append-only: database triggers refuse UPDATE and DELETE);
- ``clearing_items`` / ``clearing_statements``: what is cleared between regions — the
  fund share of an inbound settlement our bureau advanced (a receivable from the insured
  region), an outbound settlement of our insuree elsewhere (a payable), and the monthly
  statement per counterpart region (applied → confirmed → cleared).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = [
    "CLEARING_STATES",
    "FILING_KINDS",
    "FILING_STATES",
    "ClearingItem",
    "ClearingStatement",
    "Filing",
    "FilingEvent",
]

Time = DateTime(timezone=True)
FILING_KINDS = ("resettled", "long_stay", "work_away", "referral", "temporary")
"""异地安置 | 异地长期居住 | 常驻异地工作 | 异地转诊转院 | 临时外出就医."""
FILING_STATES = ("submitted", "accepted", "forwarded", "approved", "refused", "revoked")
"""submitted (申请) → accepted (乡镇受理) → forwarded (报送区局) → approved | refused
(区局审核) → revoked (撤销, from approved). A district clerk may take a filing in
directly (submitted → accepted → approved)."""
CLEARING_STATES = ("applied", "confirmed", "cleared")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Filing(Base):
    """异地就医备案: what was filed, and its current state (``filing_events`` holds each
    step)."""

    __tablename__ = "filings"
    __table_args__ = (
        CheckConstraint(_in("kind", FILING_KINDS), name="kind"),
        CheckConstraint(_in("state", FILING_STATES), name="state"),
        Index("ix_filings_psn_no_state", "psn_no", "state"),
        Index("ix_filings_state_due_at", "state", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    psn_no: Mapped[str] = mapped_column(String(18))
    township: Mapped[str | None] = mapped_column(String(12))  # the insuree's 乡镇 when filed
    dest_region: Mapped[str] = mapped_column(String(6))  # 就医地: a province, city or county
    dest_providers: Mapped[list[str]] = mapped_column(JSON)  # empty: any in dest_region
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # inclusive; None: open
    covid: Mapped[bool] = mapped_column(Boolean)  # for COVID-19 care (its own time limit)
    channel: Mapped[str] = mapped_column(String(10))  # township | district | import
    state: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[dt.datetime | None] = mapped_column(Time)  # the current step's
    submitted_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(100))  # an imported file's name and row


class FilingEvent(Base):
    """One step of a filing (append-only)."""

    __tablename__ = "filing_events"
    __table_args__ = (UniqueConstraint("filing_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    filing_id: Mapped[str] = mapped_column(ForeignKey("filings.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    state_from: Mapped[str | None] = mapped_column(String(10))
    state_to: Mapped[str] = mapped_column(String(10))
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[dt.datetime | None] = mapped_column(Time)  # of the step this one opens
    clause: Mapped[str | None] = mapped_column(String(100))  # what sets that due time


class ClearingItem(Base):
    """One settlement to clear with another region: ``inbound`` (their insuree settled
    here; our fund advanced ``fund_fen``, a receivable) or ``outbound`` (our insuree
    settled there, a payable)."""

    __tablename__ = "clearing_items"
    __table_args__ = (
        CheckConstraint(_in("direction", ("inbound", "outbound")), name="direction"),
        UniqueConstraint("direction", "counterpart", "ref"),
        Index("ix_clearing_items_counterpart_month", "counterpart", "month"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    counterpart: Mapped[str] = mapped_column(String(6))  # the other region (admin code)
    ref: Mapped[str] = mapped_column(String(40))  # our settlement id, or theirs (setl_id)
    psn_no: Mapped[str] = mapped_column(String(18))
    setl_date: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of setl_date
    medfee_fen: Mapped[int] = mapped_column(BigInteger)
    fund_fen: Mapped[int] = mapped_column(BigInteger)  # what is cleared
    tx_id: Mapped[str] = mapped_column(String(40))  # the journal transaction booking it
    recorded_at: Mapped[dt.datetime] = mapped_column(Time)
    source: Mapped[str] = mapped_column(String(100))


class ClearingStatement(Base):
    """The monthly clearing statement with one counterpart region, one direction."""

    __tablename__ = "clearing_statements"
    __table_args__ = (
        CheckConstraint(_in("state", CLEARING_STATES), name="state"),
        UniqueConstraint("counterpart", "month", "direction"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    counterpart: Mapped[str] = mapped_column(String(6))
    month: Mapped[str] = mapped_column(String(7))
    direction: Mapped[str] = mapped_column(String(8))
    items: Mapped[int] = mapped_column(Integer)
    fund_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10))
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{state, at, actor}]
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
