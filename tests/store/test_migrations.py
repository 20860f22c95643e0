"""The one Alembic chain goes up and down on both databases and matches the models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import drop_schema, make_schema
from yibao.core.errors import StoreNotReady
from yibao.core.registry import KINDS
from yibao.store import migrate
from yibao.store.db import Base, make_engine
from yibao.store.tables import model_for


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"mig_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    yield make_schema(schema)
    drop_schema(schema)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_up_down_up(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    with pytest.raises(StoreNotReady, match="yibao db upgrade"):
        migrate.check_current(empty_url)
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(empty_url)
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert _tables(empty_url) <= {"alembic_version"}
    migrate.upgrade(empty_url)
    migrate.check_current(empty_url)


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_unreachable_database_is_store_not_ready() -> None:
    with pytest.raises(StoreNotReady, match="cannot connect"):
        migrate.current("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")


def test_tables_hold_the_registry_columns() -> None:
    bookkeeping = {"id", "change_set_id", "superseded_by"}
    for name, kind in KINDS.items():
        cols = [c.name for c in model_for(name).__table__.columns]  # type: ignore[attr-defined]
        assert sorted(set(cols) - bookkeeping) == sorted(kind.names), name


def test_service_tables_are_migrated(db_url: str) -> None:
    from yibao.store import hospital

    names = {t.__tablename__ for t in (
        hospital.ApiKey, hospital.Encounter, hospital.EncounterEvent, hospital.FeeLineRow,
        hospital.SettlementRow, hospital.Accumulator, hospital.AccountBalance,
        hospital.JournalTransaction, hospital.JournalPosting, hospital.AuditEntry,
        hospital.RequestRecord, hospital.Compensation)}  # fmt: skip
    assert names <= _tables(db_url)


def test_append_only_tables_refuse_update_and_delete(db_url: str) -> None:
    """The journal, encounter events and the audit log: a trigger refuses any change."""
    import datetime as dt

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(db_url)
    at = dt.datetime(2020, 2, 10, tzinfo=dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, role, action, entity, entity_id, detail) "
                    "VALUES (:at, 'k1', 'admin', 'test', 'key', 'k1', '{}')"
                ),
                {"at": at},
            )
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM audit_log")).scalar_one() == "k1"
    finally:
        engine.dispose()


def test_0006_gives_stays_re_entered_before_their_id_as_source_key(empty_url: str) -> None:
    """Until 0006 a re-entered stay's id was its file key (F + 29 hex); API stays (M…)
    have none."""
    from sqlalchemy import text

    migrate.upgrade(empty_url, "0005")
    engine = make_engine(empty_url)
    row = ("'{id}', 'H50010200001', '500102198003150016', '500102', '21', "
           "'2020-02-03 01:00:00', '2020-02-03', '[]', 'none', 'not_needed', 'discharged', 1, "
           "'2020-02-03 01:00:00', '2020-02-03 01:00:00'")  # fmt: skip
    cols = ("id, provider_code, psn_no, insured_region, med_type, admit_time, admit_date, "
            "diagnoses, covid_status, filing, status, version, created_at, updated_at")
    try:
        with engine.begin() as conn:
            for eid in ("F" + "a" * 29, "M20200203090000abcdef"):
                conn.execute(text(f"INSERT INTO encounters ({cols}) VALUES "
                                  f"({row.format(id=eid)})"))  # fmt: skip
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT id, source_key FROM encounters")).all())
    finally:
        engine.dispose()
    assert got == {"F" + "a" * 29: "F" + "a" * 29, "M20200203090000abcdef": None}
