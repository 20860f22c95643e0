"""Insuree import throughput: a million-row CSV on SQLite and PostgreSQL.

    .venv/bin/python bench/imports.py [--rows 1000000] [--repeat 3] [--db sqlite|pg|both]

Generates ``bench/data/insurees-<rows>.csv`` once (git-ignored; valid check digits,
every scheme, tier and assistance category), then for each run: a fresh database,
migrate, and time ``yibao import insurees`` as the service runs it (read, validate
every row, stage, check, merge, commit). Then one run with the file carrying one bad
row near the end: it must be refused whole, naming that row, with nothing written.
PostgreSQL is ``YIBAO_TEST_PG`` (default: the local ``test`` database), in a schema
of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from yibao.core.errors import InvalidFile
from yibao.core.registry import KINDS
from yibao.core.registry.identity import check_char
from yibao.services.registry.files import import_file
from yibao.store import migrate
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

print = functools.partial(print, flush=True)  # progress as it happens
DATA = Path(__file__).resolve().parent / "data"
BORN0 = dt.date(1935, 1, 1)
PG = os.environ.get("YIBAO_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_file(rows: int, bad_row: int | None = None) -> Path:
    """A deterministic insuree CSV; with ``bad_row``, that data row's ID is broken."""
    name = f"insurees-{rows}" + (f"-bad{bad_row}" if bad_row else "") + ".csv"
    path = DATA / name
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rnd = random.Random(rows)
    header = ",".join(KINDS["insurees"].names)
    regions = ["500102", "500101", "500103", "510104", "500230"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        for i in range(rows):
            born = BORN0 + dt.timedelta(days=(i // 1000) * 29 + i % 7)  # unique with i % 1000
            body = f"{rnd.choice(regions)}{born:%Y%m%d}{i % 1000:03d}"
            psn = body + check_char(body)
            if bad_row is not None and i + 2 == bad_row:
                psn = body + ("0" if psn[-1] != "0" else "1")
            scheme = rnd.choices(("employee", "resident", "none"), (30, 68, 2))[0]
            tier = rnd.choice("12") if scheme == "resident" else ""
            cat = rnd.choices(("none", "dibao", "tekun", "poverty"), (92, 4, 1, 3))[0]
            since = "2019-07-01" if cat != "none" else ""
            acct = str(rnd.randrange(0, 500_000)) if scheme == "employee" else "0"
            town = f"500102{rnd.randrange(1, 21):03d}"
            fh.write(
                f"{psn},参保人{i % 9973},{scheme},{tier},500102,{town},{cat},{since},,"
                f"{acct},true,2020-01-01,\n"
            )
    return path


def fresh(db: str) -> tuple[str, object]:
    """A migrated, empty database: (url, cleanup)."""
    if db == "sqlite":
        tmp = tempfile.mkdtemp(prefix="yibao-bench-")
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        return url, lambda: shutil.rmtree(tmp)
    schema = f"bench_{os.getpid()}"
    admin = make_engine(PG)
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    url = f"{PG}?options=-csearch_path%3D{schema}"
    migrate.upgrade(url)

    def cleanup() -> None:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return url, cleanup


def one_run(db: str, path: Path) -> float:
    url, cleanup = fresh(db)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        done = import_file(UnitOfWork(engine), "insurees", path, actor="bench")
        secs = time.perf_counter() - t0
        assert done.inserted == done.rows, done
        print(f"  {db}: {done.rows:,} rows in {secs:.1f} s ({done.rows / secs:,.0f} rows/s)")
        return secs
    finally:
        engine.dispose()
        cleanup()  # type: ignore[operator]


def refusal(db: str, path: Path, bad_row: int) -> None:
    url, cleanup = fresh(db)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        try:
            import_file(UnitOfWork(engine), "insurees", path, actor="bench")
        except InvalidFile as exc:
            secs = time.perf_counter() - t0
            if not exc.problems[0][0].startswith(f"row {bad_row},"):
                raise AssertionError(f"the refusal names another row: {exc.problems}") from exc
            with UnitOfWork(engine) as uow:
                assert uow.insurees.count_current() == 0
            print(f"  {db}: refused whole in {secs:.1f} s: {exc.one_line()}")
        else:
            raise AssertionError("the file with a bad row was accepted")
    finally:
        engine.dispose()
        cleanup()  # type: ignore[operator]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    args = ap.parse_args()
    dbs = (
        ["sqlite", "postgresql"]
        if args.db == "both"
        else ["postgresql" if args.db == "pg" else "sqlite"]
    )
    path = make_file(args.rows)
    bad_row = args.rows - 7  # near the end: every row before it was read and checked
    bad = make_file(args.rows, bad_row)
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    for db in dbs:
        runs = [one_run(db, path) for _ in range(args.repeat)]
        print(
            f"insuree import {db}: median of {args.repeat}: {statistics.median(runs):.1f} s "
            f"for {args.rows:,} rows"
        )
        refusal(db, bad, bad_row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
