"""A booking's rows built column-wise (``booking_rows.Columns``, DECISIONS 0058) are the
rows the code before built a dict at a time (``tests/reentry/rows_oracle.py``): the same
COPY frames on PostgreSQL, the same dicts on SQLite, for new and existing encounters,
with and without msgids, any caller, any clock's time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.reentry import rows_oracle as old
from tests.reentry.files import load_people, many_rows, small_rows, write_csv
from yibao.core import ledger
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import rows as booking_rows
from yibao.services.encounters.context import CST, Context, new_id, new_ids
from yibao.services.encounters.rows import Entry, NewEncounter, TableRows, make_plan
from yibao.services.stays import booking
from yibao.services.stays.reentry.imports import import_file
from yibao.store.db import make_engine
from yibao.store.service_tables import Encounter
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 20, 10, 0, tzinfo=CST)
CLERK = Principal("cli:test", "clerk", None)
HOSPITAL = Principal("k-centre", "hospital", "H50010200001")


@pytest.fixture(scope="module")
def entries(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    """The entries a re-entry import of 64 stays books (captured, not booked):
    employees and residents, COVID-19 confirmed or not, the account paying or not."""
    folder = tmp_path_factory.mktemp("rows")
    shutil.copy(sqlite_template, folder / "yibao.db")
    engine = make_engine(f"sqlite:///{folder / 'yibao.db'}")
    uow = UnitOfWork(engine)
    people = load_people(uow, 24)
    path = write_csv(folder / "f.csv", small_rows() + many_rows(people, 60, 3))
    got: list[Entry] = []

    def capture(*_: Any, **kw: Any) -> booking.Booked:
        for chunk in kw.get("chunks", _[2]):
            got.extend(chunk)
        return booking.Booked({}, 0, 0)

    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(booking, "book_chunks", capture)
        import_file(uow, ctx, CLERK, path, out=None, per_transaction=10)
    engine.dispose()
    assert len(got) == 63  # the stay not enrolled is deferred
    return got


def _ids() -> Callable[[str, dt.datetime], str]:
    """``new_id``'s form, drawn from a counter: both sides get the same ids."""
    count = itertools.count()
    return lambda prefix, at: new_id(prefix, at)[:15] + f"{next(count):015x}"


def _variants(entries: list[Entry]) -> Iterator[tuple[list[Entry], dict[str, Any]]]:
    """New encounters; with msgids; existing encounters (``found``), discharge date
    stored or not; new encounters whose row has no ``source_key``."""
    yield entries, {}
    yield [dataclasses.replace(e, msgid=f"M{n}" if n % 2 else None)
           for n, e in enumerate(entries)], {}  # fmt: skip
    existing = [dataclasses.replace(e, new=None, msgid=f"M{n}") for n, e in enumerate(entries)]
    found = {e.encounter_id: SimpleNamespace(status="discharged", version=1 + n % 3,
                                             discharge_date=None if n % 2 else e.discharge_date)
             for n, e in enumerate(entries)}  # fmt: skip
    yield existing, found
    yield existing[:5] + entries[5:], found  # mixed
    yield [dataclasses.replace(e, new=NewEncounter(
        {k: v for k, v in e.new.row.items() if k != "source_key"}, e.new.detail))
        for e in entries if e.new is not None], {}  # fmt: skip  # a row without source_key


def _both(monkeypatch: pytest.MonkeyPatch, caller: Principal, entries: list[Entry],
          at: dt.datetime, pg: bool, found: dict[str, Any]) -> tuple[Any, old.Rows]:  # fmt: skip
    fresh = _ids()
    monkeypatch.setattr(booking_rows, "new_ids",
                        lambda p, t, n: [fresh(p, t) for _ in range(n)])  # fmt: skip
    plan = make_plan(caller, entries, at, pg, found)
    return plan, old.make_rows(caller, entries, at, pg, found, _ids())


@pytest.mark.parametrize("caller", [CLERK, HOSPITAL])
@pytest.mark.parametrize("at", [NOW, NOW.astimezone(dt.UTC)])
def test_copy_frames_equal_the_old_code(monkeypatch: pytest.MonkeyPatch, entries: list[Entry],
                                        caller: Principal, at: dt.datetime) -> None:  # fmt: skip
    for some, found in _variants(entries):
        plan, want = _both(monkeypatch, caller, some, at, True, found)
        plan.rows.freeze()
        for table, rows in want.tables():
            got = plan.rows.frames[table.name]
            assert_frame_equal(got, old.frame(rows, table))
            assert got.write_csv() == old.frame(rows, table).write_csv()  # what COPY reads
        assert plan.rows.moves == want.moves
        assert list(plan.ids.values()) == [r["id"] for r in want.settlements]


@pytest.mark.parametrize("caller", [CLERK, HOSPITAL])
def test_sqlite_rows_equal_the_old_code(monkeypatch: pytest.MonkeyPatch, entries: list[Entry],
                                        caller: Principal) -> None:  # fmt: skip
    for some, found in _variants(entries):
        plan, want = _both(monkeypatch, caller, some, NOW, False, found)
        for t, (table, rows) in zip(plan.rows.tables(), want.tables(), strict=True):
            assert t.table is table
            assert t.dicts() == rows
        assert plan.rows.moves == want.moves


def test_the_entries_post_every_kind_and_the_ledger_equals_the_old(entries: list[Entry]) -> None:
    codes = set()
    for e in entries:
        args = {"tx_id": "T", "provider_code": e.provider_code, "booked_on": NOW.date(),
                "accumulator_year": 2020, "central_share_bp": e.central_share_bp}  # fmt: skip
        tx = ledger.postings_for(e.settlement, **args)  # type: ignore[arg-type]
        assert tx == old.postings_for(e.settlement, **args)  # type: ignore[arg-type]
        legs = ledger.settlement_legs(e.settlement, provider_code=e.provider_code,
                                      central_share_bp=e.central_share_bp)  # fmt: skip
        assert [(p.account.code, p.account.book, p.account.key, p.amount_fen)
                for p in tx.postings] == legs  # fmt: skip
        codes |= {p.account.code for p in tx.postings}
    assert codes >= {"benefit", "personal_account", "fiscal_subsidy", "central_receivable",
                     "patient_cash"}  # fmt: skip


@pytest.mark.parametrize("pg", [True, False])
def test_discharged_rows_and_an_empty_booking_equal_the_old_code(entries: list[Entry],
                                                                 pg: bool) -> None:  # fmt: skip
    rows, want = booking_rows.Columns(pg, HOSPITAL, NOW), old.Rows(pg)
    for e in entries[:9]:
        assert e.new is not None
        rows.reentered(e.new, None, "discharged", 1, None)
        old.reentered(want, HOSPITAL, e.new, NOW, None, status="discharged", version=1,
                      settlement_id=None)  # fmt: skip
    empty = booking_rows.Columns(pg, CLERK, NOW)
    for t, s, (table, data) in zip(rows.tables(), empty.tables(), want.tables(), strict=True):
        if pg:
            assert_frame_equal(t.frame(), old.frame(data, table))
            assert_frame_equal(s.frame(), old.frame([], table))
        else:
            assert (t.dicts(), s.dicts()) == (data, [])


def test_odd_values_convert_as_before() -> None:
    """Naive and missing datetimes, other time zones, a bool for an int, dates far from
    1970 or missing: the slow path
    or the fast, the values ``frame`` makes (a column mixing naive and aware datetimes
    fails in both)."""
    table = Encounter.__table__
    names = tuple(c.name for c in table.columns if c.name not in ("created_at", "diagnoses"))
    base = dict.fromkeys(names) | {"id": "E1", "version": 1, "admit_date": NOW.date()}
    naive = NOW.replace(tzinfo=None)
    cases: list[dict[str, Any]] = [
             {"admit_time": naive, "discharge_time": None, "discharge_date": None},
             {"admit_time": naive, "discharge_time": naive + dt.timedelta(microseconds=1),
              "discharge_date": dt.date(1969, 12, 31)},
             {"admit_time": NOW, "discharge_time": NOW.astimezone(dt.UTC),
              "discharge_date": dt.date(1, 1, 1)},
             {"admit_time": NOW - dt.timedelta(microseconds=7), "version": True,
              "discharge_date": dt.date(9999, 12, 31)}]  # fmt: skip
    for some in (cases[:2], cases[2:]):
        t = TableRows("encounters", names, {"created_at": NOW}, True)
        rows = [{**base, **case, "created_at": NOW, "diagnoses": "[]"} for case in some]
        for r in rows:
            t.rows.append(tuple(r[c] for c in names))
            t.json["diagnoses"].append(b"[]")
        assert_frame_equal(t.frame(), old.frame(rows, table))  # type: ignore[arg-type]
    t.json["diagnoses"].append(b"[]")
    with pytest.raises(ValueError, match="one value per row"):
        t.frame()


def test_new_ids_take_new_id_s_form() -> None:
    for prefix, at in (("S", NOW), ("TX", NOW.astimezone(dt.UTC)), ("", NOW)):
        one, many = new_id(prefix, at), new_ids(prefix, at, 500)
        stamp = NOW.strftime("%Y%m%d%H%M%S")
        form = re.compile(rf"{prefix}{stamp}[0-9a-f]{{{len(one) - len(prefix) - 14}}}")
        assert len(one) == 30 if len(prefix) < 15 else True
        assert form.fullmatch(one)
        assert all(form.fullmatch(i) and len(i) == len(one) for i in many)
        assert len(set(many)) == 500
    assert new_ids("S", NOW, 0) == []
    assert pl.Series(new_ids("S", NOW, 2000)).str.slice(15).n_unique() == 2000
