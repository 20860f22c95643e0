"""Out-of-area care (异地就医, issue 18): the filing registry (``filings`` and its
append-only ``filing_events``), the link of a 2501 transfer filing to a filing
(``transfer_filings.filing_id``), the ``no_pack`` deferral reason (a patient insured in a
region no pack covers yet) and the clearing between regions (``clearing_items``,
``clearing_statements``). store/filing_tables.py.

The deferral reason's CHECK is widened as 0003 widens its constraints (SQLite: the
table's SQL rewritten in the schema, rows untouched; PostgreSQL: dropped and re-added).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 (issue 18)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_KINDS = ("resettled", "long_stay", "work_away", "referral", "temporary")
_STATES = ("submitted", "accepted", "forwarded", "approved", "refused", "revoked")
_REASON_OLD = ("not_enrolled", "offline", "awaiting_transfer")
_REASON_NEW = (*_REASON_OLD, "no_pack")
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION yibao_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$ LANGUAGE plpgsql
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _recheck(table: str, name: str, column: str, old: tuple[str, ...],
             new: tuple[str, ...]) -> None:  # fmt: skip
    """Replace the CHECK ``name`` on ``table``: ``column IN old`` -> ``column IN new``."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, _in(column, new))
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    before, after = f"CHECK ({_in(column, old)})", f"CHECK ({_in(column, new)})"
    if before not in sql:
        raise RuntimeError(f"{table}: constraint {name} is not {before!r}")
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
        (sql.replace(before, after), table),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


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


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        return
    for what in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{what}")


def upgrade() -> None:
    _recheck("deferrals", "ck_deferrals_reason", "reason", _REASON_OLD, _REASON_NEW)
    op.create_table(
        "filings",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("psn_no", sa.String(18), nullable=False),
        sa.Column("township", sa.String(12)),
        sa.Column("dest_region", sa.String(6), nullable=False),
        sa.Column("dest_providers", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date()),
        sa.Column("covid", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("due_at", _T),
        sa.Column("submitted_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100)),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_filings_kind")),
        sa.CheckConstraint(_in("state", _STATES), name=op.f("ck_filings_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filings")),
    )
    op.create_index("ix_filings_psn_no_state", "filings", ["psn_no", "state"])
    op.create_index("ix_filings_state_due_at", "filings", ["state", "due_at"])
    op.create_table(
        "filing_events",
        sa.Column("id", _Id, nullable=False),
        sa.Column("filing_id", sa.String(30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("state_from", sa.String(10)),
        sa.Column("state_to", sa.String(10), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("due_at", _T),
        sa.Column("clause", sa.String(100)),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.id"], name=op.f("fk_filing_events_filing_id_filings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filing_events")),
        sa.UniqueConstraint("filing_id", "seq", name=op.f("uq_filing_events_filing_id_seq")),
    )
    _append_only("filing_events")
    op.create_table(
        "clearing_items",
        sa.Column("id", _Id, nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("counterpart", sa.String(6), nullable=False),
        sa.Column("ref", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(18), nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("medfee_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("tx_id", sa.String(40), nullable=False),
        sa.Column("recorded_at", _T, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.CheckConstraint(
            _in("direction", ("inbound", "outbound")), name=op.f("ck_clearing_items_direction")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearing_items")),
        sa.UniqueConstraint(
            "direction",
            "counterpart",
            "ref",
            name=op.f("uq_clearing_items_direction_counterpart_ref"),
        ),
    )
    op.create_index("ix_clearing_items_counterpart_month", "clearing_items",
                    ["counterpart", "month"])  # fmt: skip
    op.create_table(
        "clearing_statements",
        sa.Column("id", _Id, nullable=False),
        sa.Column("counterpart", sa.String(6), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.CheckConstraint(
            _in("state", ("applied", "confirmed", "cleared")),
            name=op.f("ck_clearing_statements_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearing_statements")),
        sa.UniqueConstraint(
            "counterpart",
            "month",
            "direction",
            name=op.f("uq_clearing_statements_counterpart_month_direction"),
        ),
    )
    with op.batch_alter_table("transfer_filings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filing_id", sa.String(30)))


def downgrade() -> None:
    with op.batch_alter_table("transfer_filings", schema=None) as batch_op:
        batch_op.drop_column("filing_id")
    op.drop_table("clearing_statements")
    op.drop_index("ix_clearing_items_counterpart_month", table_name="clearing_items")
    op.drop_table("clearing_items")
    _drop_append_only("filing_events")
    op.drop_table("filing_events")
    op.drop_index("ix_filings_state_due_at", table_name="filings")
    op.drop_index("ix_filings_psn_no_state", table_name="filings")
    op.drop_table("filings")
    _recheck("deferrals", "ck_deferrals_reason", "reason", _REASON_NEW, _REASON_OLD)
