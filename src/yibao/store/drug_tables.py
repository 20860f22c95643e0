"""Drug monitoring tables (issue 21; migration 0012):

- ``drug_orders``: the purchasing platform's orders and deliveries (采购订单与配送), one
  version per order: a re-imported order that changed closes its old version
  (``superseded_by`` = the change set of the import) — nothing is overwritten; the
  import is a ``change_sets`` row (kind ``drug_orders``: who, when, from which file);
- ``drug_signals``: each signal a scan found (kind, drug, hospital or supplier, its
  first and last trigger day, the worst value and its reference, the evidence series,
  the clause and rules version) and its *current* state, a projection of the events;
- ``drug_filings``: emergency purchases filed by hospitals (应急采购备案) and their
  current state (filed → accepted | refused);
- ``drug_events``: every state change of a signal or a filing, who and when and why
  (append-only: database triggers refuse UPDATE and DELETE).
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = [
    "FILING_STATES",
    "SIGNAL_KINDS",
    "SIGNAL_STATES",
    "DrugEvent",
    "DrugFiling",
    "DrugOrder",
    "DrugSignal",
]

Time = DateTime(timezone=True)
SIGNAL_KINDS = ("price", "listed", "quantity", "delivery", "shortage", "markup")
SIGNAL_STATES = ("new", "investigating", "reported", "dismissed")
"""new → investigating → reported (上报) | dismissed (排除, with a reason); new may be
dismissed or reported directly."""
FILING_STATES = ("filed", "accepted", "refused")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class DrugOrder(Base):
    """One version of a purchasing-platform order and its delivery."""

    __tablename__ = "drug_orders"
    __table_args__ = (
        Index(
            "uq_drug_orders_current",
            "order_id",
            unique=True,
            sqlite_where=text("superseded_by IS NULL"),
            postgresql_where=text("superseded_by IS NULL"),
        ),
        Index("ix_drug_orders_code_order_date", "code", "order_date"),
        CheckConstraint("price_e6 > 0", name="price_e6"),
        CheckConstraint("qty_ordered_e4 > 0", name="qty_ordered_e4"),
        CheckConstraint("qty_delivered_e4 BETWEEN 0 AND qty_ordered_e4", name="qty_delivered_e4"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40))  # 订单编号 on the platform
    order_date: Mapped[dt.date] = mapped_column(Date)
    provider_code: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(50))  # national drug code
    supplier: Mapped[str] = mapped_column(String(100))  # 配送企业
    price_e6: Mapped[int] = mapped_column(BigInteger)  # 采购单价 × 10^6
    qty_ordered_e4: Mapped[int] = mapped_column(BigInteger)  # 采购数量 × 10^4
    qty_delivered_e4: Mapped[int] = mapped_column(BigInteger)  # 配送数量 × 10^4
    delivery_date: Mapped[dt.date | None] = mapped_column(Date)
    change_set_id: Mapped[int] = mapped_column(ForeignKey("change_sets.id"))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"))
    source_row: Mapped[int] = mapped_column(Integer)  # the row of the file it came from


class DrugSignal(Base):
    """A signal (an episode of trigger days of one drug at one hospital, or of one
    supplier) and its current state."""

    __tablename__ = "drug_signals"
    __table_args__ = (
        CheckConstraint(_in("kind", SIGNAL_KINDS), name="kind"),
        CheckConstraint(_in("state", SIGNAL_STATES), name="state"),
        UniqueConstraint("kind", "code", "provider_code", "supplier", "first_day"),
        Index("ix_drug_signals_state_first_day", "state", "first_day"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(50))
    provider_code: Mapped[str] = mapped_column(String(20))  # "" for a supplier's signal
    supplier: Mapped[str] = mapped_column(String(100))  # "" unless a supplier's signal
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(BigInteger)  # the worst value, in ``measure``
    reference: Mapped[int | None] = mapped_column(BigInteger)
    measure: Mapped[str] = mapped_column(String(10))  # price_e6 | qty_e4 | rate_bp | days_e2
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{day, value, reference}]
    clause: Mapped[str] = mapped_column(String(100))
    rules: Mapped[str] = mapped_column(String(40))  # rules id and version
    state: Mapped[str] = mapped_column(String(14))
    detected_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)


class DrugFiling(Base):
    """应急采购备案: an emergency purchase a hospital filed, and its current state."""

    __tablename__ = "drug_filings"
    __table_args__ = (
        CheckConstraint(_in("state", FILING_STATES), name="state"),
        CheckConstraint("price_e6 > 0", name="price_e6"),
        CheckConstraint("qty_e4 > 0", name="qty_e4"),
        Index("ix_drug_filings_provider_code_state", "provider_code", "code", "state"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(50))
    supplier: Mapped[str] = mapped_column(String(100))
    price_e6: Mapped[int] = mapped_column(BigInteger)  # 采购价 = the price it must be sold at
    qty_e4: Mapped[int] = mapped_column(BigInteger)
    purchased_on: Mapped[dt.date] = mapped_column(Date)  # the filed price applies from then
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))
    filed_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(100))  # an imported file's name and row


class DrugEvent(Base):
    """One state change of a signal or a filing (append-only)."""

    __tablename__ = "drug_events"
    __table_args__ = (
        CheckConstraint(_in("subject", ("signal", "filing")), name="subject"),
        UniqueConstraint("subject", "subject_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(String(6))
    subject_id: Mapped[str] = mapped_column(String(30))
    seq: Mapped[int] = mapped_column(Integer)
    state_from: Mapped[str | None] = mapped_column(String(14))
    state_to: Mapped[str] = mapped_column(String(14))
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200))
