"""The one database fixture (STYLE.md §10): every database test runs on SQLite and on
PostgreSQL.

- SQLite: a template database is migrated once per xdist worker and copied per test.
- PostgreSQL (``YIBAO_TEST_PG``): one schema per worker, migrated once, emptied with
  ``TRUNCATE`` before each test. Without ``YIBAO_TEST_PG`` that leg skips; with it set
  and the server unreachable, every PostgreSQL test FAILS (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from yibao.store import migrate
from yibao.store.db import Base, make_engine
from yibao.store.uow import UnitOfWork

# no timing in unit tests (docs/PERFORMANCE.md holds the figures): a property example
# that is slow on a loaded machine is not a failure
settings.register_profile("yibao", deadline=None)
settings.load_profile("yibao")

PG_ENV = "YIBAO_TEST_PG"

# Compiled packs (DECISIONS 0090) kept in this run's own folder, never the user's cache;
# the yibao processes the tests start inherit it.
os.environ["YIBAO_PACK_CACHE"] = tempfile.mkdtemp(prefix="yibao-pack-cache-")


def _worker() -> str:
    """This test process's tag: the xdist worker and the pid, so that two test runs on one
    PostgreSQL (two checkouts, CI beside a developer) never share a schema."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def pg_url_in(schema: str) -> str:
    """``YIBAO_TEST_PG`` with ``search_path`` set to ``schema``."""
    base = make_url(os.environ[PG_ENV])
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def pg_admin_or_fail() -> str:
    """The PostgreSQL URL; a failure (not a skip) when it is set and unreachable."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"{PG_ENV}={url} is set but PostgreSQL is unreachable: {exc}")
    finally:
        engine.dispose()
    return url


def make_schema(schema: str) -> str:
    engine = make_engine(pg_admin_or_fail())
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return pg_url_in(schema)


def drop_schema(schema: str) -> None:
    engine = make_engine(os.environ[PG_ENV])
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "yibao.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    schema = f"test_{_worker()}"
    url = make_schema(schema)
    migrate.upgrade(url)
    yield url
    drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the worker's emptied schema."""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "yibao.db")
        return f"sqlite:///{tmp_path / 'yibao.db'}"
    url: str = request.getfixturevalue("pg_session_url")
    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def uow(db_url: str) -> Iterator[UnitOfWork]:
    engine = make_engine(db_url)
    yield UnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``YIBAO_DATABASE_URL`` pointing at the test database, engines disposed after."""
    from yibao import bootstrap

    monkeypatch.setenv("YIBAO_DATABASE_URL", db_url)
    yield db_url
    bootstrap.dispose_engines()
