"""Access and exchange tables (issues 16 and 17): the console's ``users``, the national
gateway's ``gateway_clients`` and ``gateway_nonces``, 9001/9002 ``sign_ins``, 9101/9102
``exchange_files`` and 4101A ``settlement_lists`` (store/access_tables.py,
store/exchange_tables.py); ``audit_log.role`` widened to 20 characters for the console's
roles (``district_clerk``, ``township_clerk``). Nothing stored changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 (issues 16, 17)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_T = sa.DateTime(timezone=True)
_ROLES = ("district_clerk", "township_clerk", "finance", "supervisor", "auditor", "admin")


def _audit_role(length: int, before: int) -> None:
    """``audit_log.role`` to ``length`` characters. SQLite rebuilds the table (batch mode),
    which drops its append-only triggers: they are created again (as 0002 made them)."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("audit_log", "role", type_=sa.String(length),
                        existing_type=sa.String(before), existing_nullable=False)  # fmt: skip
        return
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("role", type_=sa.String(length), existing_type=sa.String(before),
                           existing_nullable=False)  # fmt: skip
    for what in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, 'table audit_log is append-only: {what} "
                   "refused'); END")  # fmt: skip


def upgrade() -> None:
    _audit_role(20, 10)
    op.create_table(
        "users",
        sa.Column("id", _Id, primary_key=True),
        sa.Column("login", sa.String(40), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("township_code", sa.String(12)),
        sa.Column("display_name", sa.String(60), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("password_set_at", _T, nullable=False),
        sa.Column("failed_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("locked_until", _T),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.Column("disabled_at", _T),
        sa.CheckConstraint(
            "role IN (" + ", ".join(repr(r) for r in _ROLES) + ")", name=op.f("ck_users_role")
        ),
        sa.CheckConstraint(
            "role <> 'township_clerk' OR township_code IS NOT NULL", name=op.f("ck_users_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "gateway_clients",
        sa.Column("paasid", sa.String(64), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.Column("revoked_at", _T),
        sa.PrimaryKeyConstraint("paasid", name=op.f("pk_gateway_clients")),
    )
    op.create_table(
        "gateway_nonces",
        sa.Column("paasid", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("seen_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("paasid", "nonce", name=op.f("pk_gateway_nonces")),
    )
    op.create_index("ix_gateway_nonces_seen_at", "gateway_nonces", ["seen_at"])
    op.create_table(
        "sign_ins",
        sa.Column("sign_no", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("opter_no", sa.String(30), nullable=False),
        sa.Column("mac", sa.String(20)),
        sa.Column("ip", sa.String(50)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("signed_in_at", _T, nullable=False),
        sa.Column("signed_out_at", _T),
        sa.PrimaryKeyConstraint("sign_no", name=op.f("pk_sign_ins")),
    )
    op.create_index("ix_sign_ins_provider_code", "sign_ins", ["provider_code"])
    op.create_table(
        "exchange_files",
        sa.Column("file_qury_no", sa.String(64), nullable=False),
        sa.Column("provider_code", sa.String(20)),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no", name=op.f("pk_exchange_files")),
    )
    op.create_index("ix_exchange_files_provider_code", "exchange_files", ["provider_code"])
    op.create_table(
        "settlement_lists",
        sa.Column("id", _Id, primary_key=True),
        sa.Column("setl_id", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("provider_code", sa.String(20), nullable=False),
        sa.Column("psn_no", sa.String(18), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("msgid", sa.String(100)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("uploaded_at", _T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_lists")),
        sa.UniqueConstraint("setl_id", "version", name=op.f("uq_settlement_lists_setl_id_version")),
    )
    op.create_index("ix_settlement_lists_provider_code", "settlement_lists", ["provider_code"])


def downgrade() -> None:
    _audit_role(10, 20)
    for table in ("settlement_lists", "exchange_files", "sign_ins", "gateway_nonces",
                  "gateway_clients", "users"):  # fmt: skip
        op.drop_table(table)
