"""The settlement path on PostgreSQL: prebuilt statements PREPAREd once per connection
(DECISIONS 0052) and the last batch ending with COMMIT (DECISIONS 0053)."""

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
        pytest.skip("PREPARE and the folded COMMIT are PostgreSQL's (SQLite runs the "
                    "statements one by one)")  # fmt: skip


def test_prepared_statements_outlive_what_makes_psycopg_deallocate(api: Api, db_url: str) -> None:
    _pg(db_url)
    first = _admit(api)
    _fees(api, first)
    _settle(api, first)
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    assert engine.pool.checkedin() == 1  # the one connection every request used
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM pg_prepared_statements")).scalars().all()
        assert any(n.startswith("yibao_") for n in names), names
        # what would make psycopg's own automatic preparation send DEALLOCATE ALL: a
        # statement run often enough to be prepared, then a ROLLBACK (to a savepoint)
        for _ in range(8):
            conn.execute(text("SELECT 1"))
        nested = conn.begin_nested()
        conn.execute(text("SELECT 2"))
        nested.rollback()
        conn.execute(text("SELECT 3"))
        conn.rollback()
    second = _admit(api)  # admission's batch runs its prepared statements again
    _fees(api, second)
    assert _settle(api, second)["settlement_id"].startswith("S")
    with engine.connect() as conn:
        still = conn.execute(text("SELECT count(*) FROM pg_prepared_statements "
                                  "WHERE name LIKE 'yibao_%'")).scalar_one()  # fmt: skip
    assert still >= len([n for n in names if n.startswith("yibao_")])


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
