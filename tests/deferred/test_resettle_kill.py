"""A re-settlement killed midway (SIGKILL) leaves whole insurees re-settled and the rest
as they were, the books balanced; run again, it finishes, and the store then equals an
uninterrupted run's."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import yaml
from sqlalchemy import text

from tests.killing import kill_when
from tests.reentry.files import load_people, many_rows, write_csv
from tests.reentry.test_kill import CLERK, _count, twin_url  # noqa: F401 (fixture)
from yibao.packs import PACKS_DIR
from yibao.packs.files import load_pack
from yibao.services.encounters.context import Context
from yibao.services.reports import reads as reports
from yibao.services.stays.reentry.imports import import_file
from yibao.services.stays.resettle.run import resettle
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

YIBAO = str(Path(sys.executable).with_name("yibao"))
PEOPLE, STAYS, LINES = 60, 240, 5
BEGIN, END = dt.date(2020, 1, 1), dt.date(2020, 12, 31)


def _corrected(tmp: Path) -> Path:
    """The shipped pack with every basic-fund ratio 5 points lower: every stay differs."""
    doc = yaml.safe_load((PACKS_DIR / "cq-2020.yaml").read_text(encoding="utf-8"))
    for levels in doc["ratio"]["bp"].values():
        for level in levels:
            levels[level] -= 500
    path = tmp / "corrected.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _standing(url: str) -> list[tuple[object, ...]]:
    """Per encounter (by its file's key): its standing settlement's amounts and
    accumulators (ids and times differ by run); and how many settlements and reversals
    each encounter has."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT e.source_key, s.psn_no, s.medfee_sumamt, s.fund_pay_sumamt,"
                " s.acct_pay, s.psn_cash_pay, s.balance_after_fen, (SELECT count(*) FROM"
                " settlements x WHERE x.encounter_id = e.id) FROM encounters e"
                " JOIN settlements s ON s.id = e.settlement_id ORDER BY e.source_key"))  # fmt: skip
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def test_a_killed_resettle_leaves_whole_insurees_and_finishes_on_rerun(
    db_url: str,
    twin_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    engines = [make_engine(u) for u in (db_url, twin_url)]
    first, twin = (UnitOfWork(e) for e in engines)
    ctx = Context(Context.from_folder(PACKS_DIR).packs)
    path = write_csv(tmp_path / "offline.csv",
                     many_rows(load_people(first, PEOPLE), STAYS, LINES))  # fmt: skip
    load_people(twin, PEOPLE)
    for uow in (first, twin):
        assert import_file(uow, ctx, CLERK, path, out=None).settled == STAYS
    before = _standing(db_url)
    corrected = _corrected(tmp_path)

    argv = [
        YIBAO,
        "resettle",
        "--pack",
        str(corrected),
        "--from",
        f"{BEGIN}",
        "--to",
        f"{END}",
        "--per-transaction",
        "8",
        "--out",
        str(tmp_path / "out"),
    ]
    kill_when(argv, dict(os.environ, YIBAO_DATABASE_URL=db_url),
              lambda: _count(db_url, "settlements") >= STAYS + 2 * 16,  # two transactions
              tmp_path / "stderr.txt")  # fmt: skip

    after_kill = _standing(db_url)
    redone = [a for a, b in zip(after_kill, before, strict=True) if a != b]
    assert 0 < len(redone) < STAYS
    assert all(r[-1] == 3 for r in redone)  # settled, reversed, settled again: whole
    assert all(r[-1] == 1 for r in after_kill if r not in redone)  # untouched
    policy = load_pack(corrected)
    assert reports.ledger_problems(first, ctx.packs) == []

    rest, whole = (resettle(uow, ctx, CLERK, pack=policy, begin=BEGIN, end=END)
                   for uow in (first, twin))  # fmt: skip
    assert len(rest.booked) + len(redone) == len(whole.booked) > STAYS // 2
    final = _standing(twin_url)
    assert _standing(db_url) == final
    # whole insurees: an insuree the killed run reached has all its changing stays redone
    reached = {r[1] for r in redone}
    changing = [(b[1], a != b) for a, b, f in zip(after_kill, before, final, strict=True)
                if f[:-1] != b[:-1] and b[1] in reached]  # fmt: skip
    assert all(done for _, done in changing)
    assert resettle(first, ctx, CLERK, pack=policy, begin=BEGIN, end=END).changes == []
    for e in engines:
        e.dispose()
