"""Drug price and supply monitoring (issue 21): purchasing-platform orders and deliveries
(``drug_orders``, versioned by change set), the signals found (``drug_signals``), the
emergency purchases filed (``drug_filings``, 应急采购备案) and every state change of a
signal or a filing (``drug_events``, append-only). store/drug_tables.py.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 (issue 21)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_KINDS = ("price", "listed", "quantity", "delivery", "shortage", "markup")
_SIGNAL_STATES = ("new", "investigating", "reported", "dismissed")
_FILING_STATES = ("filed", "accepted", "refused")
_CURRENT = sa.text("superseded_by IS NULL")
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION yibao_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$ LANGUAGE plpgsql
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION yibao_append_only()")  # fmt: skip
        return
    for what in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: {what} refused'); "
                   "END")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "drug_orders",
        sa.Column("id", _Id, nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("supplier", sa.String(100), nullable=False),
        sa.Column("price_e6", sa.BigInteger(), nullable=False),
        sa.Column("qty_ordered_e4", sa.BigInteger(), nullable=False),
        sa.Column("qty_delivered_e4", sa.BigInteger(), nullable=False),
        sa.Column("delivery_date", sa.Date()),
        sa.Column("change_set_id", _Id, nullable=False),
        sa.Column("superseded_by", _Id),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_e6 > 0", name=op.f("ck_drug_orders_price_e6")),
        sa.CheckConstraint("qty_ordered_e4 > 0", name=op.f("ck_drug_orders_qty_ordered_e4")),
        sa.CheckConstraint(
            "qty_delivered_e4 BETWEEN 0 AND qty_ordered_e4",
            name=op.f("ck_drug_orders_qty_delivered_e4"),
        ),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_drug_orders_change_set_id_change_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"],
            ["change_sets.id"],
            name=op.f("fk_drug_orders_superseded_by_change_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_orders")),
    )
    op.create_index(
        "uq_drug_orders_current",
        "drug_orders",
        ["order_id"],
        unique=True,
        sqlite_where=_CURRENT,
        postgresql_where=_CURRENT,
    )
    op.create_index("ix_drug_orders_code_order_date", "drug_orders", ["code", "order_date"])
    op.create_table(
        "drug_signals",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("supplier", sa.String(100), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.BigInteger()),
        sa.Column("measure", sa.String(10), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("clause", sa.String(100), nullable=False),
        sa.Column("rules", sa.String(40), nullable=False),
        sa.Column("state", sa.String(14), nullable=False),
        sa.Column("detected_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_drug_signals_kind")),
        sa.CheckConstraint(_in("state", _SIGNAL_STATES), name=op.f("ck_drug_signals_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_signals")),
        sa.UniqueConstraint(
            "kind",
            "code",
            "provider_code",
            "supplier",
            "first_day",
            name=op.f("uq_drug_signals_kind_code_provider_code_supplier_first_day"),
        ),
    )
    op.create_index("ix_drug_signals_state_first_day", "drug_signals", ["state", "first_day"])
    op.create_table(
        "drug_filings",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("supplier", sa.String(100), nullable=False),
        sa.Column("price_e6", sa.BigInteger(), nullable=False),
        sa.Column("qty_e4", sa.BigInteger(), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("filed_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100)),
        sa.CheckConstraint(_in("state", _FILING_STATES), name=op.f("ck_drug_filings_state")),
        sa.CheckConstraint("price_e6 > 0", name=op.f("ck_drug_filings_price_e6")),
        sa.CheckConstraint("qty_e4 > 0", name=op.f("ck_drug_filings_qty_e4")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_filings")),
    )
    op.create_index(
        "ix_drug_filings_provider_code_state", "drug_filings", ["provider_code", "code", "state"]
    )
    op.create_table(
        "drug_events",
        sa.Column("id", _Id, nullable=False),
        sa.Column("subject", sa.String(6), nullable=False),
        sa.Column("subject_id", sa.String(30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state_from", sa.String(14)),
        sa.Column("state_to", sa.String(14), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.CheckConstraint(
            _in("subject", ("signal", "filing")), name=op.f("ck_drug_events_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_events")),
        sa.UniqueConstraint(
            "subject", "subject_id", "seq", name=op.f("uq_drug_events_subject_subject_id_seq")
        ),
    )
    _append_only("drug_events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS drug_events_append_only ON drug_events")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS drug_events_no_{what}")
    op.drop_table("drug_events")
    op.drop_index("ix_drug_filings_provider_code_state", table_name="drug_filings")
    op.drop_table("drug_filings")
    op.drop_index("ix_drug_signals_state_first_day", table_name="drug_signals")
    op.drop_table("drug_signals")
    op.drop_index("ix_drug_orders_code_order_date", table_name="drug_orders")
    op.drop_index("uq_drug_orders_current", table_name="drug_orders")
    op.drop_table("drug_orders")
