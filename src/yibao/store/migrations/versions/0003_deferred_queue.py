"""Deferred settlement (先救治、后结算): the ``deferred`` encounter status, the
``advance`` and ``clearing`` journal kinds, the ``deferrals`` table and the transfer
filings (转院备案, 2501) (issue 7).

Widening a CHECK constraint on SQLite rewrites the table's SQL in the schema
(``PRAGMA writable_schema``), the procedure SQLite documents for constraint changes that
leave the stored rows valid (https://www.sqlite.org/lang_altertable.html, section 7):
a batch-mode copy of ``encounters`` or ``journal_transactions`` would trip the foreign
keys of the tables that reference them and drop the journal's append-only triggers.
PostgreSQL drops and re-adds the constraint.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 (issue 7)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_OLD = ("admitted", "discharged", "settled", "cancelled")
_STATUS_NEW = (*_STATUS_OLD, "deferred")
_KIND_OLD = ("settlement", "reversal", "adjustment")
_KIND_NEW = (*_KIND_OLD, "advance", "clearing")


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


def upgrade() -> None:
    _recheck("encounters", "ck_encounters_status", "status", _STATUS_OLD, _STATUS_NEW)
    _recheck("journal_transactions", "ck_journal_transactions_kind", "kind", _KIND_OLD,
             _KIND_NEW)  # fmt: skip
    op.create_table(
        "deferrals",
        sa.Column("id", sa.String(length=30), nullable=False),
        sa.Column("encounter_id", sa.String(length=30), nullable=False),
        sa.Column("provider_code", sa.String(length=20), nullable=False),
        sa.Column("psn_no", sa.String(length=18), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("discharge_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("advance_fen", sa.BigInteger(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("deferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("msgid", sa.String(length=100), nullable=True),
        sa.Column("advance_tx_id", sa.String(length=40), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settlement_id", sa.String(length=30), nullable=True),
        sa.Column("clearing_tx_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "reason IN ('not_enrolled', 'offline', 'awaiting_transfer')",
            name=op.f("ck_deferrals_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_deferrals_encounter_id_encounters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deferrals")),
    )
    op.create_table(
        "transfer_filings",
        sa.Column("id", sa.String(length=30), nullable=False),
        sa.Column("from_provider", sa.String(length=20), nullable=False),
        sa.Column("from_encounter_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=18), nullable=False),
        sa.Column("to_provider", sa.String(length=20), nullable=True),
        sa.Column("transfer_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("msgid", sa.String(length=100), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_encounter_id"],
            ["encounters.id"],
            name=op.f("fk_transfer_filings_from_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_filings")),
    )
    op.create_index(
        "ix_transfer_filings_psn_no_to_provider",
        "transfer_filings",
        ["psn_no", "to_provider"],
        unique=False,
    )
    with op.batch_alter_table("deferrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deferrals_provider_code_cleared_at", ["provider_code", "cleared_at"], unique=False
        )
        batch_op.create_index("ix_deferrals_psn_no_year", ["psn_no", "year"], unique=False)
        batch_op.create_index(
            "uq_deferrals_open",
            ["encounter_id"],
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deferrals", schema=None) as batch_op:
        batch_op.drop_index("uq_deferrals_open")
        batch_op.drop_index("ix_deferrals_psn_no_year")
        batch_op.drop_index("ix_deferrals_provider_code_cleared_at")
    op.drop_table("deferrals")
    op.drop_index("ix_transfer_filings_psn_no_to_provider", table_name="transfer_filings")
    op.drop_table("transfer_filings")
    _recheck("journal_transactions", "ck_journal_transactions_kind", "kind", _KIND_NEW,
             _KIND_OLD)  # fmt: skip
    _recheck("encounters", "ck_encounters_status", "status", _STATUS_NEW, _STATUS_OLD)
