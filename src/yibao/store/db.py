"""Declarative base and engines (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase

__all__ = ["NAMING", "WRITE_OPTION", "Base", "is_sqlite", "make_engine"]

WRITE_OPTION = "yibao_write"
"""Execution option of a unit of work that writes (``UnitOfWork(write=True)``)."""

# Constraint names are stable across dialects, so a migration can name what it drops.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_text(doc: Any) -> str:
    return orjson.dumps(doc).decode("utf-8")


def make_engine(url: str, *, pre_ping: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets foreign keys on, WAL, a 30 s busy timeout,
    temporary tables in memory, and real transactions (``BEGIN`` issued by SQLAlchemy,
    not by the sqlite3 module), so a unit of work is one transaction there too.

    ``pre_ping`` (PostgreSQL): test each pooled connection with a round trip when it is
    checked out. The API server turns it off (DECISIONS 0050): a dropped connection then
    fails one request with 503, which the hospital retries under its idempotency key.

    ``hide_parameters``: an error's text (``DBAPIError``) never carries the statement's
    parameters, which hold ID numbers; logs print that text (issue 15)."""
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", _json_text)  # JSON columns: orjson, not json
    kwargs.setdefault("json_deserializer", orjson.loads)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=pre_ping, **kwargs)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit in the driver; we BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")  # import staging tables
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A unit of work that writes begins IMMEDIATE: it takes SQLite's write lock at
        # once, so two writers queue on busy_timeout instead of one failing with
        # SQLITE_BUSY when it upgrades a read lock (the SQLite form of FOR UPDATE).
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
