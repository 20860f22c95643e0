"""The repository of 9101/9102 exchange files and 4101A settlement lists (exchange_tables),
on the unit of work's session (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yibao.store import exchange_tables  # noqa: F401  (registers its tables)

__all__ = ["ExchangeRepo"]


class ExchangeRepo:
    """Reads and writes of
    9101/9102 exchange files and 4101A settlement lists (exchange_tables)."""

    def __init__(self, session: Session) -> None:
        self.session = session
