"""The fuzz tests' world: the app on the test database (both legs of the db fixture),
the example registries, a key per role, stays in every state; the log of the run
captured from the ``yibao`` and ``uvicorn`` loggers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.fuzz.world import World, build_world, dispose


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    from schemathesis.python import asgi

    w = build_world(db_url, asgi.get_client)
    yield w
    asgi.shutdown_lifespans()
    dispose(w)


@pytest.fixture
def fuzz_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of the ``yibao`` loggers (any level, as if a server logged them all),
    uvicorn's (info and up) and SQLAlchemy's (warnings: its default)."""
    caplog.set_level(logging.DEBUG, logger="yibao")
    caplog.set_level(logging.INFO, logger="uvicorn")
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    return caplog
