"""Fund management tables (issue 20; migration 0011):

- ``fund_prepayments``: 预付 — a hospital's application (amount, reason, expected COVID
  patients), the formula's baseline, the proposed amount (one person), the approval (a
  second person), the disbursement's journal transaction;
- ``fund_statements``: 月度结算单 — one per hospital and month (a voided draft makes way
  for a new one): per book what the funds owe (ordinary, COVID), the supervision
  deductions and prepayment offset, the net; confirmed by the hospital, paid in a batch;
- ``fund_payment_batches``: 拨付批次 — statements paid together, one clearing transaction
  each;
- ``fund_subsidy_claims`` / ``fund_subsidy_items``: a hospital's claim to finance for the
  patient share it advanced (财政补助申报), with its settlements (each claimed once);
- ``fund_central_claims``: the central share (财社〔2020〕2号) claimed over a period, with
  its rounding true-up transaction;
- ``fund_budgets``: 总额预算 — the yearly target per hospital, versioned (never edited);
- ``fund_events``: every step of the above, who and when (append-only).
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
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = [
    "CLAIM_STATES",
    "PREPAYMENT_STATES",
    "STATEMENT_STATES",
    "FundBudget",
    "FundCentralClaim",
    "FundEvent",
    "FundPaymentBatch",
    "FundPrepayment",
    "FundStatement",
    "FundSubsidyClaim",
    "FundSubsidyItem",
]

Json = JSON()
Time = DateTime(timezone=True)
PREPAYMENT_STATES = ("applied", "proposed", "approved", "disbursed", "rejected")
"""applied (申请) → proposed (初审: amount set) → approved (复核, another person) →
disbursed (拨付, posted) | rejected."""
STATEMENT_STATES = ("draft", "confirmed", "paid", "void")
CLAIM_STATES = ("claimed", "paid")
_LIVE = text("state <> 'void'")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FundPrepayment(Base):
    """预付: one application (initial or top-up) and its way to disbursement."""

    __tablename__ = "fund_prepayments"
    __table_args__ = (
        CheckConstraint(_in("state", PREPAYMENT_STATES), name="state"),
        CheckConstraint(_in("kind", ("initial", "topup")), name="kind"),
        Index("ix_fund_prepayments_provider_code_state", "provider_code", "state"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10))
    applied_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    expected_patients: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(Json)  # the formula's figures
    proposed_fen: Mapped[int | None] = mapped_column(BigInteger)
    by_book: Mapped[dict[str, int] | None] = mapped_column(Json)  # the split, when proposed
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[dt.datetime] = mapped_column(Time)
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    proposed_at: Mapped[dt.datetime | None] = mapped_column(Time)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None] = mapped_column(Time)
    tx_id: Mapped[str | None] = mapped_column(String(40))  # the disbursement
    booked_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)


class FundStatement(Base):
    """月度结算单: one hospital, one month; ``lines`` per book [book, owed ordinary, owed
    COVID, deduction, offset] in fen."""

    __tablename__ = "fund_statements"
    __table_args__ = (
        CheckConstraint(_in("state", STATEMENT_STATES), name="state"),
        Index(
            "uq_fund_statements_provider_code_month",
            "provider_code",
            "month",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index("ix_fund_statements_month", "month"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    month: Mapped[dt.date] = mapped_column(Date)  # its first day
    state: Mapped[str] = mapped_column(String(10))
    lines: Mapped[list[list[Any]]] = mapped_column(Json)
    owed_ordinary_fen: Mapped[int] = mapped_column(BigInteger)
    owed_covid_fen: Mapped[int] = mapped_column(BigInteger)
    deduction_fen: Mapped[int] = mapped_column(BigInteger)
    offset_fen: Mapped[int] = mapped_column(BigInteger)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    settlements: Mapped[int] = mapped_column(Integer)  # settlements - reversals counted
    prepared_by: Mapped[str] = mapped_column(String(64))
    prepared_at: Mapped[dt.datetime] = mapped_column(Time)
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(Time)
    batch_id: Mapped[str | None] = mapped_column(String(30))
    tx_id: Mapped[str | None] = mapped_column(String(40))  # the clearing, once paid
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)


class FundPaymentBatch(Base):
    """拨付批次: confirmed statements paid together (one clearing transaction each)."""

    __tablename__ = "fund_payment_batches"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date)
    statements: Mapped[int] = mapped_column(Integer)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    booked_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)


class FundSubsidyClaim(Base):
    """财政补助申报: a hospital claims from finance the patient share it advanced."""

    __tablename__ = "fund_subsidy_claims"
    __table_args__ = (
        CheckConstraint(_in("state", CLAIM_STATES), name="state"),
        Index("ix_fund_subsidy_claims_provider_code", "provider_code"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    period_end: Mapped[dt.date] = mapped_column(Date)  # settlements booked up to this day
    state: Mapped[str] = mapped_column(String(10))
    fiscal_fen: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime] = mapped_column(Time)
    paid_by: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime | None] = mapped_column(Time)
    tx_id: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)


class FundSubsidyItem(Base):
    """One settlement (or reversal) transaction of a claim: claimed once, ever."""

    __tablename__ = "fund_subsidy_items"

    tx_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("fund_subsidy_claims.id"), index=True)
    encounter_id: Mapped[str | None] = mapped_column(String(30))
    booked_on: Mapped[dt.date] = mapped_column(Date)
    fiscal_fen: Mapped[int] = mapped_column(BigInteger)  # signed: negative on a reversal


class FundCentralClaim(Base):
    """中央财政补助: the central share of the fiscal subsidy booked up to ``period_end``,
    claimed, with the rounding true-up posted (``adjustment_tx_id``; None: nothing off)."""

    __tablename__ = "fund_central_claims"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    period_end: Mapped[dt.date] = mapped_column(Date, unique=True)
    fiscal_fen: Mapped[int] = mapped_column(BigInteger)
    central_fen: Mapped[int] = mapped_column(BigInteger)
    adjustment_tx_id: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)


class FundBudget(Base):
    """总额预算: a hospital's yearly target (and last year's fund payments, for the
    prepayment baseline when the ledger holds no such year); a change is a new version."""

    __tablename__ = "fund_budgets"
    __table_args__ = (UniqueConstraint("provider_code", "year", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer)
    target_fen: Mapped[int] = mapped_column(BigInteger)
    prior_paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(100))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(Time)


class FundEvent(Base):
    """One step of a prepayment, statement, batch, claim or budget (append-only)."""

    __tablename__ = "fund_events"
    __table_args__ = (Index("ix_fund_events_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity: Mapped[str] = mapped_column(String(12))
    entity_id: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(Time)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
