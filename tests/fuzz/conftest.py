"""The fuzz tests' world: the app on a migrated database (SQLite, and PostgreSQL with
``YIBAO_TEST_PG``, as tests/conftest.py's db fixture), the example registries, a key per
role, stays in every state; built once per module and database leg (every operation's
test adds to it, which only widens what the next one meets); the log of each test
captured from the ``yibao`` and ``uvicorn`` loggers."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import _worker, drop_schema, make_schema
from tests.fuzz.world import World, build_world, dispose
from yibao.store import migrate


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    from schemathesis.python import asgi

    schema = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "yibao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        schema = f"fuzz_{request.module.__name__.rsplit('_', 2)[-2]}_{_worker()}"
        url = make_schema(schema)
        migrate.upgrade(url)
    w = build_world(url, asgi.get_client)
    yield w
    asgi.shutdown_lifespans()
    dispose(w)
    if schema is not None:
        drop_schema(schema)


@pytest.fixture
def fuzz_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of the ``yibao`` loggers (any level, as if a server logged them all),
    uvicorn's (info and up) and SQLAlchemy's (warnings: its default)."""
    caplog.set_level(logging.DEBUG, logger="yibao")
    caplog.set_level(logging.INFO, logger="uvicorn")
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    return caplog
