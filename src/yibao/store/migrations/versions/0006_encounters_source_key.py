"""Re-entered stays keep the key that finds them again in ``source_key`` (F + 29 hex of
sha256(provider|encounter_no), unique) and take ids in settlement order from now on
(DECISIONS 0095). Until now that key was the stay's id, so the stays re-entered before
get it from their id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 (issue 7)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "uq_encounters_source_key"


def upgrade() -> None:
    op.add_column("encounters", sa.Column("source_key", sa.String(30), nullable=True))
    op.execute("UPDATE encounters SET source_key = id WHERE id LIKE 'F%'")
    where = sa.text("source_key IS NOT NULL")
    op.create_index(_NAME, "encounters", ["source_key"], unique=True, sqlite_where=where,
                    postgresql_where=where)  # fmt: skip


def downgrade() -> None:
    op.drop_index(_NAME, table_name="encounters")
    if op.get_bind().dialect.name == "sqlite":  # in place: see 0004
        op.execute("ALTER TABLE encounters DROP COLUMN source_key")
    else:
        op.drop_column("encounters", "source_key")
