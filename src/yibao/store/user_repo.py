"""The repository of the console's users (access_tables.User),
on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yibao.store import access_tables  # noqa: F401  (registers its tables)

__all__ = ["UserRepo"]


class UserRepo:
    """Reads and writes of
    the console's users (access_tables.User)."""

    def __init__(self, session: Session) -> None:
        self.session = session
