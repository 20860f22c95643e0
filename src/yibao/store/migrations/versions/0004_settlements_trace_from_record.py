"""Settlements keep their record only: the ``trace`` and ``setldetail`` columns are
dropped, both being rebuilt from the record when a row is read (``settlement_record``;
DECISIONS 0084). The record holds the settlement's lines and facts, what they were
built from when they were stored, so nothing is lost; a downgrade rebuilds them.

SQLite drops the columns in place (``ALTER TABLE … DROP COLUMN``, SQLite ≥ 3.35): a
batch-mode copy of ``settlements`` would trip the foreign keys that reference it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 (issue 7)
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("setldetail", "trace")


def upgrade() -> None:
    for name in _COLUMNS:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE settlements DROP COLUMN {name}")
        else:
            op.drop_column("settlements", name)


def downgrade() -> None:
    from yibao.store.settlement_record import record_from_v1, settlement_from_record, trace_rows

    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for name in _COLUMNS:
        if sqlite:  # NOT NULL needs a default on SQLite; every row is filled below
            op.execute(f"ALTER TABLE settlements ADD COLUMN {name} JSON NOT NULL DEFAULT '[]'")
        else:
            op.add_column("settlements", sa.Column(name, sa.JSON(), nullable=True))
    s = sa.table("settlements", sa.column("id", sa.String), sa.column("record", sa.JSON),
                 sa.column("setldetail", sa.JSON), sa.column("trace", sa.JSON))  # fmt: skip
    rows = bind.execute(sa.select(s.c.id, s.c.record)).all()
    for start in range(0, len(rows), 1000):
        values = []
        for sid, record in rows[start : start + 1000]:
            d = record if isinstance(record, dict) else json.loads(record)
            got = settlement_from_record(record_from_v1(d))  # below 0007 a record is v1
            values.append({"k": sid, "d": [r._asdict() for r in got.setldetail],
                           "t": trace_rows(got)})  # fmt: skip
        bind.execute(s.update().where(s.c.id == sa.bindparam("k")).values(
            setldetail=sa.bindparam("d"), trace=sa.bindparam("t")), values)  # fmt: skip
    if not sqlite:
        for name in _COLUMNS:
            op.alter_column("settlements", name, nullable=False)
