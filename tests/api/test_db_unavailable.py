"""A lost database connection answers 503 problem+json with Retry-After, records
nothing, and the retry succeeds (the API pool does not ping on checkout: DECISIONS 0050)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.api.conftest import Api
from tests.api.test_rest import ADMIT, _admit


def test_a_dropped_connection_is_503_then_the_retry_goes_through(api: Api, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite is a file in the process: there is no server connection to lose")
    first = _admit(api)  # the app's pool now holds a live connection
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:  # the pooled connection the next request will use
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    assert engine.pool.checkedin() == 1
    with api.uow.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    before = api.counts()

    r = api.client.post("/v1/encounters", json=ADMIT, headers=api.h())
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"
    assert r.json()["title"] == "Store not ready"
    assert api.counts() == before  # nothing recorded

    again = _admit(api)
    assert again != first
    grown = {k for k, n in api.counts().items() if n != before[k]}
    assert "encounter" in grown or "encounters" in grown, grown
