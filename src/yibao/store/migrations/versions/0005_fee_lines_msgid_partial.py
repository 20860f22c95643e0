"""The index of fee lines by upload message id covers only lines that have one: lines
re-entered from an offline capture file (a million rows an import) have none and no
longer go into it (DECISIONS 0094). Lookups by a message id (2601 冲正 of a 2301) read it
as before: ``upload_msgid = :msgid`` implies ``upload_msgid IS NOT NULL``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 (issue 7)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_fee_lines_upload_msgid"


def upgrade() -> None:
    op.drop_index(_NAME, table_name="fee_lines")
    where = sa.text("upload_msgid IS NOT NULL")
    op.create_index(_NAME, "fee_lines", ["upload_msgid"], sqlite_where=where,
                    postgresql_where=where)  # fmt: skip


def downgrade() -> None:
    op.drop_index(_NAME, table_name="fee_lines")
    op.create_index(_NAME, "fee_lines", ["upload_msgid"])
