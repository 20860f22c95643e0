"""Wiring: settings -> engine -> unit of work. The adapters ask here; nothing else
builds an engine (STYLE.md §1)."""

from __future__ import annotations

from sqlalchemy import Engine

from yibao.services.encounters.context import Context
from yibao.settings import Settings
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

__all__ = ["dispose_engines", "engine_for", "hospital_context", "settings", "unit_of_work"]


def settings() -> Settings:
    """The settings, read from the environment now."""
    return Settings()


_ENGINES: dict[str, Engine] = {}


def engine_for(
    url: str,
    *,
    pool_size: int | None = None,
    overflow: int | None = None,
    pre_ping: bool = True,
) -> Engine:
    """One engine (one pool) per database URL in this process."""
    if url not in _ENGINES:
        kw = {}
        if not url.startswith("sqlite") and pool_size is not None:
            kw = {"pool_size": pool_size, "max_overflow": overflow or 0}
        _ENGINES[url] = make_engine(url, pre_ping=pre_ping, **kw)
    return _ENGINES[url]


def hospital_context(s: Settings | None = None) -> Context:
    """The hospital service's context: the packs of ``YIBAO_PACKS_DIR`` (default: the
    shipped ones), the wall clock, empty caches."""
    from yibao.packs import PACKS_DIR

    s = s or settings()
    return Context.from_folder(s.packs_dir or PACKS_DIR)


def unit_of_work(url: str | None = None, *, check: bool = True) -> UnitOfWork:
    """A unit of work on ``url`` (default: ``YIBAO_DATABASE_URL``). With ``check``, the
    database must be at the code's migration head (``StoreNotReady`` otherwise)."""
    url = url or settings().database_url
    if check:
        from yibao.store.migrate import check_current

        check_current(url)
    return UnitOfWork(engine_for(url))


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests, shutdown)."""
    for url in list(_ENGINES):
        _ENGINES.pop(url).dispose()
