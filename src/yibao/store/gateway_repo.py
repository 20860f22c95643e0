"""The repository of the national gateway's clients and nonces, and 9001/9002 sign-ins
(access_tables), on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Row, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yibao.store.access_tables import GatewayClient, GatewayNonce, SignIn

__all__ = ["GatewayRepo"]

C = cast(Table, GatewayClient.__table__)
N = cast(Table, GatewayNonce.__table__)
S = cast(Table, SignIn.__table__)


class GatewayRepo:
    """Reads and writes of the national gateway's clients and nonces, and 9001/9002
    sign-ins (access_tables)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- clients --------------------------------------------------------------------------

    def client(self, paasid: str) -> Row[Any] | None:
        """The client ``paasid`` (revoked ones too: ``revoked_at`` says so)."""
        return self.session.execute(select(C).where(C.c.paasid == paasid)).first()

    def clients(self) -> list[Row[Any]]:
        """Every client, revoked ones too, by paasid."""
        return list(self.session.execute(select(C).order_by(C.c.paasid)))

    def insert_client(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(C), [dict(values)])

    def revoke_client(self, paasid: str, at: dt.datetime) -> int:
        """Revoke an active client; how many rows changed (0 or 1)."""
        done = self.session.execute(
            update(C).where(C.c.paasid == paasid, C.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]

    # -- nonces ---------------------------------------------------------------------------

    def remember_nonce(self, paasid: str, nonce: str, at: dt.datetime) -> bool:
        """Record ``nonce`` as used by ``paasid``; False when it already was (a replay).
        One ``INSERT … ON CONFLICT DO NOTHING``: two requests racing with one nonce are
        told apart by the primary key, on both databases."""
        dialect = self.session.get_bind().dialect.name
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = make(N).values(paasid=paasid, nonce=nonce, seen_at=at).on_conflict_do_nothing()
        # RETURNING, not rowcount: a driver in pipeline mode may not report one
        return self.session.execute(stmt.returning(N.c.nonce)).first() is not None

    def forget_nonces(self, before: dt.datetime) -> int:
        """Delete the nonces seen before ``before`` (outside any time window now)."""
        done = self.session.execute(delete(N).where(N.c.seen_at < before))
        return int(done.rowcount)  # type: ignore[attr-defined]

    # -- sign-ins (9001 / 9002) -------------------------------------------------------------

    def insert_sign_in(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(S), [dict(values)])

    def sign_in(self, sign_no: str) -> Row[Any] | None:
        return self.session.execute(select(S).where(S.c.sign_no == sign_no)).first()

    def sign_out(self, sign_no: str, at: dt.datetime) -> int:
        """Close an open sign-in; how many rows changed (0 or 1)."""
        done = self.session.execute(
            update(S).where(S.c.sign_no == sign_no, S.c.signed_out_at.is_(None))
            .values(signed_out_at=at)
        )  # fmt: skip
        return int(done.rowcount)  # type: ignore[attr-defined]
