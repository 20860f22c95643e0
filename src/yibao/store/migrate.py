"""Migrations, programmatically: ``upgrade(url)``, ``downgrade(url, rev)``, ``current``.

The one Alembic chain lives in ``yibao/store/migrations`` (shipped in the wheel) and
runs on SQLite (batch mode) and PostgreSQL. ``yibao db upgrade`` / ``yibao db current``
call these. docs/STORE.md, "Migrating".
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from yibao.core.errors import StoreNotReady
from yibao.store.db import make_engine

__all__ = ["check_current", "current", "downgrade", "head", "upgrade"]


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "yibao.store:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base``: empty)."""
    command.downgrade(_config(url), revision)


def head() -> str:
    """The newest revision the code knows."""
    rev = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert rev is not None
    return rev


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: not migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        raise StoreNotReady(f"database {_safe(url)}: cannot connect: {exc}") from exc
    finally:
        engine.dispose()


def check_current(url: str) -> None:
    """Raise ``StoreNotReady`` unless the database is at ``head()``."""
    at, want = current(url), head()
    if at != want:
        raise StoreNotReady(
            f"database {_safe(url)} is at revision {at or 'none'}, the code needs {want}: "
            "run `yibao db upgrade`"
        )


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
