"""Fund supervision tables (issue 22; migration 0013):

- ``supervision_flags``: one row per rule and subject (a stay, or a hospital and month):
  what the rule found (its evidence, the amount at risk), and the flag's *current* state,
  a projection of ``supervision_flag_events``; raising the same flag again changes
  nothing (unique ``rule_id, subject_key``);
- ``supervision_flag_events``: every step of a flag — raised, answered by the hospital,
  confirmed with the amount to recover (and the deduction's transaction), dismissed with
  a reason — who, role, when (append-only: database triggers refuse UPDATE and DELETE);
- ``supervision_runs``: each scan (of recent settlements or of a period), what it read and
  raised; the newest ``recent`` run's watermark is where the next one starts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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

__all__ = ["FLAG_STATES", "FlagEvent", "SupervisionFlag", "SupervisionRun"]

Time = DateTime(timezone=True)
FLAG_STATES = ("open", "answered", "confirmed", "dismissed")
"""open (raised) → answered (the hospital explained; still to review) → confirmed (the
amount to recover posted as a deduction) | dismissed (with a reason)."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SupervisionFlag(Base):
    """A rule's finding about a stay or a hospital, and where its review stands."""

    __tablename__ = "supervision_flags"
    __table_args__ = (
        CheckConstraint(_in("state", FLAG_STATES), name="state"),
        CheckConstraint(_in("subject", ("stay", "hospital")), name="subject"),
        UniqueConstraint("rule_id", "subject_key"),
        Index("ix_supervision_flags_state_raised_at", "state", "raised_at"),
        Index("ix_supervision_flags_provider_code_month", "provider_code", "month"),
        Index("ix_supervision_flags_encounter_id", "encounter_id"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    rules_sha256: Mapped[str] = mapped_column(String(64))  # the rule set that raised it
    subject: Mapped[str] = mapped_column(String(8))  # stay | hospital
    subject_key: Mapped[str] = mapped_column(String(60))  # encounter id, or code@yyyy-mm
    encounter_id: Mapped[str | None] = mapped_column(String(30))
    provider_code: Mapped[str] = mapped_column(String(20))
    on: Mapped[dt.date] = mapped_column(Date)  # the stay's discharge, or the scan's as-of
    month: Mapped[str] = mapped_column(String(7))  # yyyy-mm of ``on``
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # at risk (the scan's estimate)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(10))  # settlement (recent) | scan (period)
    state: Mapped[str] = mapped_column(String(10))
    recovered_fen: Mapped[int | None] = mapped_column(BigInteger)  # once confirmed
    deduction_tx_id: Mapped[str | None] = mapped_column(String(40))
    raised_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)


class FlagEvent(Base):
    """One step of a flag (append-only)."""

    __tablename__ = "supervision_flag_events"
    __table_args__ = (UniqueConstraint("flag_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("supervision_flags.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # raised answered confirmed dismissed
    state_from: Mapped[str | None] = mapped_column(String(10))
    state_to: Mapped[str] = mapped_column(String(10))
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(String(500))  # the answer or the reason
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)  # confirmed: to recover
    book: Mapped[str | None] = mapped_column(String(10))  # the fund book deducted
    tx_id: Mapped[str | None] = mapped_column(String(40))


class SupervisionRun(Base):
    """One scan: of the settlements since the last (``recent``) or of a period."""

    __tablename__ = "supervision_runs"
    __table_args__ = (Index("ix_supervision_runs_kind_started_at", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # recent | period
    started_at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    begin: Mapped[dt.date | None] = mapped_column(Date)  # period: discharge dates
    end: Mapped[dt.date | None] = mapped_column(Date)
    watermark: Mapped[dt.datetime | None] = mapped_column(Time)  # recent: newest settled_at read
    stays: Mapped[int] = mapped_column(Integer)
    flags_found: Mapped[int] = mapped_column(Integer)
    flags_new: Mapped[int] = mapped_column(Integer)
    seconds_e3: Mapped[int] = mapped_column(Integer)  # milliseconds
