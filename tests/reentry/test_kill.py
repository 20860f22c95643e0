"""A re-entry killed midway (SIGKILL) leaves whole stays booked and nothing half; the
import run again completes it, and the store then equals an uninterrupted import's."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import drop_schema, make_schema
from tests.killing import kill_when
from tests.reentry.files import load_people, many_rows, write_csv
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.services.reports import reads as reports
from yibao.services.stays.reentry.imports import import_file
from yibao.store import migrate
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

YIBAO = str(Path(sys.executable).with_name("yibao"))
CLERK = Principal("cli:test", "clerk", None)
STAYS, LINES = 240, 5


@pytest.fixture
def twin_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind, for the uninterrupted import."""
    if db_url.startswith("sqlite"):
        src = Path(db_url.removeprefix("sqlite:///"))
        shutil.copy(src, tmp_path / "twin.db")
        yield f"sqlite:///{tmp_path / 'twin.db'}"
        return
    schema = f"twin_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    url = make_schema(schema)
    migrate.upgrade(url)
    yield url
    drop_schema(schema)


def _count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _state(uow: UnitOfWork) -> tuple[object, ...]:
    """What an import leaves, without the ids and times that differ by run (stays by
    their file's key: each run numbers its new stays)."""
    with uow:
        h = uow.hospital
        key = dict(uow.session.execute(text("SELECT id, source_key FROM encounters")).all())
        setl = sorted((key[r.encounter_id], tuple(sorted(r.record["setlinfo"].items())),
                       tuple(sorted(r.accumulators_after.items())), r.balance_after_fen)
                      for r in h.settlements())  # fmt: skip
        lines = sorted((key[r.encounter_id], r.sn, r.code, r.amount_fen) for r in
                       uow.session.execute(text("SELECT encounter_id, sn, code, amount_fen "
                                                "FROM fee_lines")))  # fmt: skip
        accs = sorted(h.all_accumulators().items())
        moved = sorted(h.account_movements().items())
    return setl, lines, accs, moved


@pytest.mark.parametrize("writers", [1, 2])
def test_a_killed_import_leaves_whole_stays_and_completes_on_rerun(
    db_url: str, twin_url: str, tmp_path: Path, writers: int
) -> None:
    """With ``--writers 2`` on PostgreSQL, transactions are written by two threads on
    their own connections: what they committed is whole parts too."""
    engines = [make_engine(u) for u in (db_url, twin_url)]
    first, twin = (UnitOfWork(e) for e in engines)
    people = load_people(first, 60)
    assert load_people(twin, 60) == people
    path = write_csv(tmp_path / "offline.csv", many_rows(people, STAYS, LINES))
    argv = [
        YIBAO,
        "deferred",
        "import",
        str(path),
        "--per-transaction",
        "4",
        "--writers",
        str(writers),
        "--out",
        str(tmp_path / "r.csv"),
    ]
    kill_when(argv, dict(os.environ, YIBAO_DATABASE_URL=db_url),
              lambda: _count(db_url, "settlements") >= 8,  # two transactions at least
              tmp_path / "stderr.txt")  # fmt: skip
    booked = _count(db_url, "settlements")
    time.sleep(1)  # nothing outlives the import: nothing more is committed
    assert _count(db_url, "settlements") == booked
    assert 0 < booked < STAYS, booked
    # whole stays only: every stay in the store is settled, with all its lines
    assert _count(db_url, "encounters") == booked
    assert _count(db_url, "fee_lines") == booked * LINES
    assert _count(db_url, "journal_transactions") == booked
    ctx = Context(Context.from_folder(PACKS_DIR).packs)
    again = import_file(first, ctx, CLERK, path, out=None)
    assert (again.already, again.settled) == (booked, STAYS - booked)
    whole = import_file(twin, ctx, CLERK, path, out=None)
    assert whole.settled == STAYS
    assert _state(first) == _state(twin)
    assert reports.ledger_problems(first, ctx.packs) == []
    for e in engines:
        e.dispose()
