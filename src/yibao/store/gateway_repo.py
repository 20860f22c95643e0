"""The repository of the national gateway's clients and nonces, and 9001/9002 sign-ins
(access_tables),
on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yibao.store import access_tables  # noqa: F401  (registers its tables)

__all__ = ["GatewayRepo"]


class GatewayRepo:
    """Reads and writes of
    the national gateway's clients and nonces, and 9001/9002 sign-ins (access_tables)."""

    def __init__(self, session: Session) -> None:
        self.session = session
