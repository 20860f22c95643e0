"""Fund supervision (issue 22): ``supervision_flags`` (a rule's finding and its review
state), the append-only ``supervision_flag_events`` and ``supervision_runs`` (each scan).
store/supervision_tables.py.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 (issue 22)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_STATES = ("open", "answered", "confirmed", "dismissed")
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
        "supervision_flags",
        sa.Column("id", sa.String(30), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("rules_sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("subject_key", sa.String(60), nullable=False),
        sa.Column("encounter_id", sa.String(30)),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("recovered_fen", sa.BigInteger()),
        sa.Column("deduction_tx_id", sa.String(40)),
        sa.Column("raised_at", _T, nullable=False),
        sa.Column("updated_at", _T, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("state", _STATES), name=op.f("ck_supervision_flags_state")),
        sa.CheckConstraint(
            _in("subject", ("stay", "hospital")), name=op.f("ck_supervision_flags_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_flags")),
        sa.UniqueConstraint(
            "rule_id", "subject_key", name=op.f("uq_supervision_flags_rule_id_subject_key")
        ),
    )
    op.create_index("ix_supervision_flags_state_raised_at", "supervision_flags",
                    ["state", "raised_at"])  # fmt: skip
    op.create_index("ix_supervision_flags_provider_code_month", "supervision_flags",
                    ["provider_code", "month"])  # fmt: skip
    op.create_index("ix_supervision_flags_encounter_id", "supervision_flags", ["encounter_id"])
    op.create_table(
        "supervision_flag_events",
        sa.Column("id", _Id, nullable=False),
        sa.Column("flag_id", sa.String(30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("state_from", sa.String(10)),
        sa.Column("state_to", sa.String(10), nullable=False),
        sa.Column("at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("text", sa.String(500)),
        sa.Column("amount_fen", sa.BigInteger()),
        sa.Column("book", sa.String(10)),
        sa.Column("tx_id", sa.String(40)),
        sa.ForeignKeyConstraint(
            ["flag_id"],
            ["supervision_flags.id"],
            name=op.f("fk_supervision_flag_events_flag_id_supervision_flags"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_flag_events")),
        sa.UniqueConstraint("flag_id", "seq", name=op.f("uq_supervision_flag_events_flag_id_seq")),
    )
    _append_only("supervision_flag_events")
    op.create_table(
        "supervision_runs",
        sa.Column("id", _Id, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("started_at", _T, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("begin", sa.Date()),
        sa.Column("end", sa.Date()),
        sa.Column("watermark", _T),
        sa.Column("stays", sa.Integer(), nullable=False),
        sa.Column("flags_found", sa.Integer(), nullable=False),
        sa.Column("flags_new", sa.Integer(), nullable=False),
        sa.Column("seconds_e3", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_runs")),
    )
    op.create_index("ix_supervision_runs_kind_started_at", "supervision_runs",
                    ["kind", "started_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("supervision_runs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS supervision_flag_events_append_only "
                   "ON supervision_flag_events")  # fmt: skip
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS supervision_flag_events_no_{what}")
    op.drop_table("supervision_flag_events")
    op.drop_table("supervision_flags")
