"""Fund management (issue 20): ``fund_prepayments``, ``fund_statements``,
``fund_payment_batches``, ``fund_subsidy_claims`` / ``fund_subsidy_items``,
``fund_central_claims``, ``fund_budgets`` and the append-only ``fund_events``. New tables
only (store/fund_tables.py); the movements themselves are journal transactions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 (issue 20)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_BIG = sa.BigInteger()


def _in(col: str, values: Sequence[str]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "fund_prepayments",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("applied_fen", _BIG, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("expected_patients", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.JSON()),
        sa.Column("proposed_fen", _BIG),
        sa.Column("by_book", sa.JSON()),
        sa.Column("applied_by", sa.String(64), nullable=False),
        sa.Column("applied_at", _T, nullable=False),
        sa.Column("proposed_by", sa.String(64)),
        sa.Column("proposed_at", _T),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_at", _T),
        sa.Column("tx_id", sa.String(40)),
        sa.Column("booked_on", sa.Date()),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _in("state", ("applied", "proposed", "approved", "disbursed", "rejected")),
            name=op.f("ck_fund_prepayments_state"),
        ),
        sa.CheckConstraint(
            _in("kind", ("initial", "topup")), name=op.f("ck_fund_prepayments_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_prepayments")),
    )
    op.create_index("ix_fund_prepayments_provider_code_state", "fund_prepayments",
                    ["provider_code", "state"])  # fmt: skip
    op.create_table(
        "fund_statements",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("owed_ordinary_fen", _BIG, nullable=False),
        sa.Column("owed_covid_fen", _BIG, nullable=False),
        sa.Column("deduction_fen", _BIG, nullable=False),
        sa.Column("offset_fen", _BIG, nullable=False),
        sa.Column("net_fen", _BIG, nullable=False),
        sa.Column("settlements", sa.Integer(), nullable=False),
        sa.Column("prepared_by", sa.String(64), nullable=False),
        sa.Column("prepared_at", _T, nullable=False),
        sa.Column("confirmed_by", sa.String(64)),
        sa.Column("confirmed_at", _T),
        sa.Column("batch_id", sa.String(30)),
        sa.Column("tx_id", sa.String(40)),
        sa.Column("paid_on", sa.Date()),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _in("state", ("draft", "confirmed", "paid", "void")),
            name=op.f("ck_fund_statements_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_statements")),
    )
    live = sa.text("state <> 'void'")
    op.create_index("uq_fund_statements_provider_code_month", "fund_statements",
                    ["provider_code", "month"], unique=True, sqlite_where=live,
                    postgresql_where=live)  # fmt: skip
    op.create_index("ix_fund_statements_month", "fund_statements", ["month"])
    op.create_table(
        "fund_payment_batches",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("net_fen", _BIG, nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_payment_batches")),
    )
    op.create_table(
        "fund_subsidy_claims",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("fiscal_fen", _BIG, nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", _T, nullable=False),
        sa.Column("paid_by", sa.String(64)),
        sa.Column("paid_at", _T),
        sa.Column("tx_id", sa.String(40)),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _in("state", ("claimed", "paid")), name=op.f("ck_fund_subsidy_claims_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_subsidy_claims")),
    )
    op.create_index("ix_fund_subsidy_claims_provider_code", "fund_subsidy_claims",
                    ["provider_code"])  # fmt: skip
    op.create_table(
        "fund_subsidy_items",
        sa.Column("tx_id", sa.String(40), nullable=False),
        sa.Column("claim_id", sa.String(30), nullable=False),
        sa.Column("encounter_id", sa.String(30)),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("fiscal_fen", _BIG, nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["fund_subsidy_claims.id"],
                                name=op.f("fk_fund_subsidy_items_claim_id_fund_subsidy_claims")),
        sa.PrimaryKeyConstraint("tx_id", name=op.f("pk_fund_subsidy_items")),
    )  # fmt: skip
    op.create_index("ix_fund_subsidy_items_claim_id", "fund_subsidy_items", ["claim_id"])
    op.create_table(
        "fund_central_claims",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("fiscal_fen", _BIG, nullable=False),
        sa.Column("central_fen", _BIG, nullable=False),
        sa.Column("adjustment_tx_id", sa.String(40)),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_central_claims")),
        sa.UniqueConstraint("period_end", name=op.f("uq_fund_central_claims_period_end")),
    )
    op.create_table(
        "fund_budgets",
        sa.Column("id", _Id, nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("target_fen", _BIG, nullable=False),
        sa.Column("prior_paid_fen", _BIG),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_budgets")),
        sa.UniqueConstraint("provider_code", "year", "version",
                            name=op.f("uq_fund_budgets_provider_code_year_version")),
    )  # fmt: skip
    op.create_table(
        "fund_events",
        sa.Column("id", _Id, nullable=False),
        sa.Column("entity", sa.String(12), nullable=False),
        sa.Column("entity_id", sa.String(30), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_events")),
    )
    op.create_index("ix_fund_events_entity_entity_id", "fund_events", ["entity", "entity_id"])


def downgrade() -> None:
    for table in ("fund_events", "fund_budgets", "fund_central_claims", "fund_subsidy_items",
                  "fund_subsidy_claims", "fund_payment_batches", "fund_statements",
                  "fund_prepayments"):  # fmt: skip
        op.drop_table(table)
