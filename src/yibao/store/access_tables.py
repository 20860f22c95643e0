"""Who may come in (issue 16, issue 17; docs/STORE.md, "Access tables"):

- ``users``: the console's people (经办, 乡镇社保所, finance, supervisors, auditors,
  admins): a login, a role, a township for a township clerk, an argon2 password hash,
  failed sign-ins and the lock-out they lead to; never deleted (``disabled_at``);
- ``gateway_clients``: the national gateway's callers (``x-tif-paasid``) and the token
  their signature is computed with, each tied to one provider;
- ``gateway_nonces``: the nonces seen within the time window, refused when replayed;
- ``sign_ins``: 9001 签到 / 9002 签退, the ``sign_no`` a hospital's operator received.

API keys (machines) stay in ``api_keys`` (service_tables).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = ["USER_ROLES", "GatewayClient", "GatewayNonce", "SignIn", "User"]

Time = DateTime(timezone=True)
USER_ROLES = ("district_clerk", "township_clerk", "finance", "supervisor", "auditor", "admin")
"""The console's roles (issue 17); a township clerk has a township."""


class User(Base):
    """A person who signs in to the console."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(repr(r) for r in USER_ROLES) + ")", name="role"),
        CheckConstraint("role <> 'township_clerk' OR township_code IS NOT NULL", name="township"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    login: Mapped[str] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    township_code: Mapped[str | None] = mapped_column(String(12))
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    password_set_at: Mapped[dt.datetime] = mapped_column(Time)
    failed_attempts: Mapped[int] = mapped_column(SmallInteger)
    locked_until: Mapped[dt.datetime | None] = mapped_column(Time)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(Time)


class GatewayClient(Base):
    """A caller of the national gateway: ``x-tif-paasid`` and its token (the shared
    secret its ``x-tif-signature`` is computed with), for one provider."""

    __tablename__ = "gateway_clients"

    paasid: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Time)


class GatewayNonce(Base):
    """A nonce already used by a gateway client, kept while its timestamp is in the
    window: a second request with it is a replay."""

    __tablename__ = "gateway_nonces"
    __table_args__ = (Index("ix_gateway_nonces_seen_at", "seen_at"),)

    paasid: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(Time)


class SignIn(Base):
    """9001 签到: the ``sign_no`` issued to a hospital's operator; 9002 签退 closes it."""

    __tablename__ = "sign_ins"
    __table_args__ = (Index("ix_sign_ins_provider_code", "provider_code"),)

    sign_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(20))
    opter_no: Mapped[str] = mapped_column(String(30))
    mac: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(64))
    signed_in_at: Mapped[dt.datetime] = mapped_column(Time)
    signed_out_at: Mapped[dt.datetime | None] = mapped_column(Time)
