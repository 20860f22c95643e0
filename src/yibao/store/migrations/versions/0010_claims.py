"""Manual reimbursement (手工报销, issue 19): ``claims`` and its append-only
``claim_events``, ``claim_invoices`` (unique by code and number), ``claim_lines``,
``claim_files`` (by sha256) and ``claim_attachments``, ``claim_settlements``, and the
bank payment batches ``claim_payment_batches`` / ``claim_payments``. New tables only
(store/claim_tables.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 (issue 19)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_STATUSES = (
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


def _in(col: str, values: Sequence[str]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(18), nullable=False),
        sa.Column("insured_region", sa.String(6), nullable=False),
        sa.Column("township", sa.String(12)),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("provider_name", sa.String(100), nullable=False),
        sa.Column("provider_region", sa.String(6), nullable=False),
        sa.Column("provider_level", sa.SmallInteger(), nullable=False),
        sa.Column("networked", sa.Boolean(), nullable=False),
        sa.Column("med_type", sa.String(8), nullable=False),
        sa.Column("admit_date", sa.Date(), nullable=False),
        sa.Column("discharge_date", sa.Date(), nullable=False),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("covid_status", sa.String(10)),
        sa.Column("payee_name", sa.String(60), nullable=False),
        sa.Column("payee_bank", sa.String(60), nullable=False),
        sa.Column("payee_account", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("returned_from", sa.String(12)),
        sa.Column("missing", sa.String(500)),
        sa.Column("step_started_at", _T, nullable=False),
        sa.Column("due_at", _T),
        sa.Column("clock_left", sa.SmallInteger()),
        sa.Column("first_reviewer", sa.String(64)),
        sa.Column("second_reviewer", sa.String(64)),
        sa.Column("settlement_id", sa.String(30)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.CheckConstraint(_in("status", _STATUSES), name=op.f("ck_claims_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    op.create_index("ix_claims_psn_no_admit_date", "claims", ["psn_no", "admit_date"])
    op.create_index("ix_claims_status_due_at", "claims", ["status", "due_at"])
    op.create_index("ix_claims_township", "claims", ["township"])
    op.create_table(
        "claim_events",
        sa.Column("id", _Id, nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status_from", sa.String(12)),
        sa.Column("status_to", sa.String(12), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_events_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_events")),
        sa.UniqueConstraint("claim_id", "seq", name=op.f("uq_claim_events_claim_id_seq")),
    )
    op.create_table(
        "claim_invoices",
        sa.Column("id", _Id, nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_invoices_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_invoices")),
        sa.UniqueConstraint("code", "number", name=op.f("uq_claim_invoices_code_number")),
    )
    op.create_index("ix_claim_invoices_claim_id", "claim_invoices", ["claim_id"])
    op.create_table(
        "claim_lines",
        sa.Column("id", _Id, nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("sn", sa.String(30), nullable=False),
        sa.Column("item_code", sa.String(50), nullable=False),
        sa.Column("item_name", sa.String(100), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("price_e6", sa.BigInteger(), nullable=False),
        sa.Column("qty_e4", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("code", sa.String(50)),
        sa.Column("category", sa.String(10)),
        sa.Column("item_class", sa.String(1)),
        sa.Column("selfpay_bp", sa.Integer()),
        sa.Column("price_cap_e6", sa.BigInteger()),
        sa.Column("in_protocol", sa.Boolean(), nullable=False),
        sa.Column("temp_code", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(200)),
        sa.CheckConstraint(
            _in("status", ("mapped", "unknown", "classified")), name=op.f("ck_claim_lines_status")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_lines_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("claim_id", "sn", name=op.f("uq_claim_lines_claim_id_sn")),
    )
    op.create_table(
        "claim_files",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", _T, nullable=False),
        sa.CheckConstraint(_in("kind", ("pdf", "jpg", "png")), name=op.f("ck_claim_files_kind")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_claim_files")),
    )
    op.create_table(
        "claim_attachments",
        sa.Column("id", _Id, nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("uploaded_at", _T, nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_attachments_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["claim_files.sha256"], name=op.f("fk_claim_attachments_sha256_claim_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_attachments")),
        sa.UniqueConstraint(
            "claim_id", "sha256", name=op.f("uq_claim_attachments_claim_id_sha256")
        ),
    )
    op.create_table(
        "claim_settlements",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reverses", sa.String(30)),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(18), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("settled_at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("pack_id", sa.String(64), nullable=False),
        sa.Column("pack_sha256", sa.String(64), nullable=False),
        sa.Column("central_share_bp", sa.Integer(), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fiscal_pay", sa.BigInteger(), nullable=False),
        sa.Column("psn_cash_pay", sa.BigInteger(), nullable=False),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            _in("kind", ("settlement", "reversal")), name=op.f("ck_claim_settlements_kind")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_settlements_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["reverses"],
            ["claim_settlements.id"],
            name=op.f("fk_claim_settlements_reverses_claim_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_settlements")),
        sa.UniqueConstraint("reverses", name=op.f("uq_claim_settlements_reverses")),
    )
    op.create_index("ix_claim_settlements_claim_id", "claim_settlements", ["claim_id"])
    op.create_index("ix_claim_settlements_psn_no_year", "claim_settlements", ["psn_no", "year"])
    op.create_table(
        "claim_payment_batches",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_at", _T),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_payment_batches")),
    )
    op.create_table(
        "claim_payments",
        sa.Column("id", _Id, nullable=False),
        sa.Column("batch_id", sa.String(30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("bank_ref", sa.String(40)),
        sa.Column("failure", sa.String(200)),
        sa.Column("done_at", _T),
        sa.CheckConstraint(
            _in("status", ("queued", "paid", "failed")), name=op.f("ck_claim_payments_status")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["claim_payment_batches.id"],
            name=op.f("fk_claim_payments_batch_id_claim_payment_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_payments_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_payments")),
        sa.UniqueConstraint("batch_id", "seq", name=op.f("uq_claim_payments_batch_id_seq")),
    )
    live = sa.text("status <> 'failed'")
    op.create_index(
        "uq_claim_payments_live",
        "claim_payments",
        ["claim_id"],
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


def downgrade() -> None:
    for name in (
        "claim_payments",
        "claim_payment_batches",
        "claim_settlements",
        "claim_attachments",
        "claim_files",
        "claim_lines",
        "claim_invoices",
        "claim_events",
        "claims",
    ):
        op.drop_table(name)
