"""Manual reimbursement (手工报销, issue 19) tables, migration 0010.

- ``claims``: one row per claim holding its *current* state (a projection of
  ``claim_events``, which records every change, append-only): insuree, treating provider
  (networked or not), dates, diagnoses, payee, status and the step's clock;
- ``claim_invoices``: its invoices (发票), unique by (code, number) across every claim;
- ``claim_lines``: the fee list as uploaded, each item mapped to a national code through
  the catalog and 对码, or left ``unknown`` for the reviewer to classify;
- ``claim_files`` (content by sha256, stored once) and ``claim_attachments`` (which
  claim holds which file, as what);
- ``claim_settlements``: a claim's settlement or reversal by the engine, never edited
  (its journal transaction has the same id);
- ``claim_payment_batches`` / ``claim_payments``: bank payment batches and their lines,
  each ``queued``, ``paid`` or ``failed`` from the bank's return file.
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
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = [
    "CLAIM_STATUSES",
    "FILE_KINDS",
    "LINE_STATUSES",
    "PAYMENT_STATUSES",
    "Claim",
    "ClaimAttachment",
    "ClaimEvent",
    "ClaimFile",
    "ClaimInvoice",
    "ClaimLine",
    "ClaimPayment",
    "ClaimPaymentBatch",
    "ClaimSettlement",
]

Json = JSON()
Time = DateTime(timezone=True)

CLAIM_STATUSES = (
    "received",
    "forwarded",
    "reviewed",
    "checked",
    "settled",
    "approved",
    "in_batch",
    "paid",
    "returned",
    "rejected",
)
"""受理 → 移交 → 初审 → 复核 → 结算 → 审批 → 支付批次 → 已支付; 退回补正; 不予报销
(docs/CLAIMS.md)."""
LINE_STATUSES = ("mapped", "unknown", "classified")
PAYMENT_STATUSES = ("queued", "paid", "failed")
FILE_KINDS = ("pdf", "jpg", "png")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Claim(Base):
    """手工报销: the current state of one claim; ``claim_events`` is its history."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status"),
        Index("ix_claims_psn_no_admit_date", "psn_no", "admit_date"),
        Index("ix_claims_status_due_at", "status", "due_at"),
        Index("ix_claims_township", "township"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(18))
    insured_region: Mapped[str] = mapped_column(String(6))  # 参保地 on the discharge date
    township: Mapped[str | None] = mapped_column(String(12))  # the intake township (乡镇)
    provider_code: Mapped[str] = mapped_column(String(20))  # registry code or a free one
    provider_name: Mapped[str] = mapped_column(String(100))
    provider_region: Mapped[str] = mapped_column(String(6))  # 就医地
    provider_level: Mapped[int] = mapped_column(SmallInteger)
    networked: Mapped[bool] = mapped_column(Boolean)  # in our provider registry
    med_type: Mapped[str] = mapped_column(String(8))
    admit_date: Mapped[dt.date] = mapped_column(Date)
    discharge_date: Mapped[dt.date] = mapped_column(Date)
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(Json)  # [{code, main}]
    covid_status: Mapped[str | None] = mapped_column(String(10))  # None: from diagnoses
    payee_name: Mapped[str] = mapped_column(String(60))
    payee_bank: Mapped[str] = mapped_column(String(60))
    payee_account: Mapped[str] = mapped_column(String(40))  # masked on every screen
    status: Mapped[str] = mapped_column(String(12))
    returned_from: Mapped[str | None] = mapped_column(String(12))  # while ``returned``
    missing: Mapped[str | None] = mapped_column(String(500))  # what 补正 asks for
    step_started_at: Mapped[dt.datetime] = mapped_column(Time)
    due_at: Mapped[dt.datetime | None] = mapped_column(Time)  # None: paused or done
    clock_left: Mapped[int | None] = mapped_column(SmallInteger)  # workdays left, paused
    first_reviewer: Mapped[str | None] = mapped_column(String(64))
    second_reviewer: Mapped[str | None] = mapped_column(String(64))
    settlement_id: Mapped[str | None] = mapped_column(String(30))  # the standing one
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    updated_at: Mapped[dt.datetime] = mapped_column(Time)


class ClaimEvent(Base):
    """One state change of a claim: what, from which status to which, who, when."""

    __tablename__ = "claim_events"
    __table_args__ = (UniqueConstraint("claim_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    status_from: Mapped[str | None] = mapped_column(String(12))
    status_to: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


class ClaimInvoice(Base):
    """发票: unique by (code, number) over every claim."""

    __tablename__ = "claim_invoices"
    __table_args__ = (
        UniqueConstraint("code", "number"),
        Index("ix_claim_invoices_claim_id", "claim_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    code: Mapped[str] = mapped_column(String(20))  # 发票代码
    number: Mapped[str] = mapped_column(String(20))  # 发票号码
    issued_on: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class ClaimLine(Base):
    """One line of the uploaded fee list with its catalog fields, or ``unknown``."""

    __tablename__ = "claim_lines"
    __table_args__ = (
        UniqueConstraint("claim_id", "sn"),
        CheckConstraint(_in("status", LINE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    sn: Mapped[str] = mapped_column(String(30))
    item_code: Mapped[str] = mapped_column(String(50))  # as on the list (hospital or national)
    item_name: Mapped[str] = mapped_column(String(100))
    service_date: Mapped[dt.date] = mapped_column(Date)
    price_e6: Mapped[int] = mapped_column(BigInteger)
    qty_e4: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(50))  # national code, once known
    category: Mapped[str | None] = mapped_column(String(10))
    item_class: Mapped[str | None] = mapped_column(String(1))
    selfpay_bp: Mapped[int | None] = mapped_column(Integer)
    price_cap_e6: Mapped[int | None] = mapped_column(BigInteger)
    in_protocol: Mapped[bool] = mapped_column(Boolean)
    temp_code: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))  # why unknown / who classified


class ClaimFile(Base):
    """A scanned attachment's bytes, stored once by their sha256."""

    __tablename__ = "claim_files"
    __table_args__ = (CheckConstraint(_in("kind", FILE_KINDS), name="kind"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime] = mapped_column(Time)


class ClaimAttachment(Base):
    """Which claim holds which scanned file, as what (发票, 费用清单, 出院小结 …)."""

    __tablename__ = "claim_attachments"
    __table_args__ = (UniqueConstraint("claim_id", "sha256"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("claim_files.sha256"))
    doc_type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime] = mapped_column(Time)
    uploaded_by: Mapped[str] = mapped_column(String(64))


class ClaimSettlement(Base):
    """A claim's settlement or reversal by the engine: never edited. Its journal
    transaction has the same id."""

    __tablename__ = "claim_settlements"
    __table_args__ = (
        CheckConstraint(_in("kind", ("settlement", "reversal")), name="kind"),
        Index("ix_claim_settlements_claim_id", "claim_id"),
        Index("ix_claim_settlements_psn_no_year", "psn_no", "year"),
    )

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    reverses: Mapped[str | None] = mapped_column(ForeignKey("claim_settlements.id"), unique=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    psn_no: Mapped[str] = mapped_column(String(18))
    year: Mapped[int] = mapped_column(SmallInteger)
    booked_on: Mapped[dt.date] = mapped_column(Date)
    settled_at: Mapped[dt.datetime] = mapped_column(Time)
    actor: Mapped[str] = mapped_column(String(64))
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_sha256: Mapped[str] = mapped_column(String(64))
    central_share_bp: Mapped[int] = mapped_column(Integer)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)  # signed: negative on a reversal
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)
    fiscal_pay: Mapped[int] = mapped_column(BigInteger)
    psn_cash_pay: Mapped[int] = mapped_column(BigInteger)
    payable_fen: Mapped[int] = mapped_column(BigInteger)  # owed to the insuree
    record: Mapped[dict[str, Any]] = mapped_column(Json)  # settlement_record(s)


_LIVE_PAYMENT = text("status <> 'failed'")


class ClaimPaymentBatch(Base):
    """A bank payment batch (支付批次): its file is written from its lines."""

    __tablename__ = "claim_payment_batches"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    created_by: Mapped[str] = mapped_column(String(64))
    lines: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    returned_at: Mapped[dt.datetime | None] = mapped_column(Time)  # the bank's return file


class ClaimPayment(Base):
    """One line of a batch: a claim's payable paid to its payee, or failed (re-queued:
    the claim goes into a later batch on a new line; this one keeps its failure)."""

    __tablename__ = "claim_payments"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq"),
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        Index(
            "uq_claim_payments_live",
            "claim_id",
            unique=True,
            sqlite_where=_LIVE_PAYMENT,
            postgresql_where=_LIVE_PAYMENT,
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("claim_payment_batches.id"))
    seq: Mapped[int] = mapped_column(Integer)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8))
    bank_ref: Mapped[str | None] = mapped_column(String(40))
    failure: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[dt.datetime | None] = mapped_column(Time)
