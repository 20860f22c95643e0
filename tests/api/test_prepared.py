"""The settlement path on PostgreSQL: one pipeline per batch, statements prepared by
psycopg once they recur, the unit of work committing (DECISIONS 0101)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.api.conftest import Api
from tests.api.test_rest import _admit, _fees

SETTLE = {"discharge_date": "2020-02-12"}


def _settle(api: Api, eid: str, **headers: str) -> Any:
    r = api.client.post(f"/v1/encounters/{eid}/settlement", json=SETTLE,
                        headers=api.h(**headers))  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def _pg(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the pipeline and PREPARE are PostgreSQL's (SQLite runs the "
                    "statements one by one)")  # fmt: skip


def test_the_settlement_path_survives_a_rollback_on_its_connection(api: Api, db_url: str) -> None:
    """The batch's statements go through psycopg's pipeline with server-side binding
    (DECISIONS 0101) on one pooled connection; a ROLLBACK on that connection (psycopg then
    forgets anything it prepared) changes nothing of the answers."""
    _pg(db_url)
    for _ in range(6):
        eid = _admit(api)
        _fees(api, eid)
        _settle(api, eid)
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    assert engine.pool.checkedin() == 1  # the one connection every request used
    with engine.connect() as conn:
        nested = conn.begin_nested()
        conn.execute(text("SELECT 2"))
        nested.rollback()
        conn.rollback()
    second = _admit(api)
    _fees(api, second)
    assert _settle(api, second)["settlement_id"].startswith("S")


def test_a_settlement_answered_is_committed_with_or_without_a_request_id(
    api: Api, db_url: str
) -> None:
    _pg(db_url)
    plain, keyed = _admit(api), _admit(api)
    _fees(api, plain)
    _fees(api, keyed)
    a = _settle(api, plain)
    b = _settle(api, keyed, **{"Idempotency-Key": "k-prepared-1"})
    again = api.client.post(f"/v1/encounters/{keyed}/settlement", json=SETTLE,
                            headers=api.h(**{"Idempotency-Key": "k-prepared-1"}))  # fmt: skip
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == b
    with api.uow.engine.connect() as conn:  # another connection: durable, not pending
        rows = dict(conn.execute(text("SELECT id, encounter_id FROM settlements")).all())
        stored = conn.execute(text("SELECT count(*) FROM requests WHERE key = 'k-prepared-1'"))
        assert stored.scalar_one() == 1
        states = dict(conn.execute(text("SELECT id, status FROM encounters")).all())
    assert rows == {a["settlement_id"]: plain, b["settlement_id"]: keyed}
    assert states[plain] == states[keyed] == "settled"
