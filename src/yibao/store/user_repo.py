"""The repository of the console's users (access_tables.User),
on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.access_tables import User

__all__ = ["UserRepo"]

U = cast(Table, User.__table__)


class UserRepo:
    """Reads and writes of the console's users (access_tables.User)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_login(self, login: str, *, lock: bool = False) -> Row[Any] | None:
        """The user signing in as ``login`` (``FOR UPDATE`` with ``lock``)."""
        q = select(U).where(U.c.login == login)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def all(self) -> list[Row[Any]]:
        """Every user, disabled ones too, by login."""
        return list(self.session.execute(select(U).order_by(U.c.login)))

    def insert(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(U), [dict(values)])

    def update(self, login: str, values: Mapping[str, Any]) -> int:
        """Change the row of ``login``; how many rows changed (0 or 1)."""
        done = self.session.execute(update(U).where(U.c.login == login).values(**values))
        return int(done.rowcount)  # type: ignore[attr-defined]
