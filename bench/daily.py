"""Benchmark the daily report (日报, issue 17): a day with 10,000 settlements.

Not timed: a fresh schema with the demo district; N stays of L lines entered and settled
through re-entry (``import_file``, the bulk booking path) with a clock fixed at the
report's day, so every settlement is booked on it. Timed, in process: the report for the
day (``daily_report``: every section, the day's settlements listed) and its workbook
(``write_daily_workbook``), the median of ``--repeat`` runs.

    .venv/bin/python bench/daily.py --stays 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import schema_url

from reentry import generate, setup
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.reports.daily import daily_report
from yibao.services.reports.daily_files import write_daily_workbook
from yibao.services.stays.reentry.imports import import_file
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

DAY = dt.date(2020, 3, 2)
CLERK = Principal("bench:clerk", "clerk", None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", type=int, default=10_000)
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("YIBAO_TEST_PG"),
                    help="PostgreSQL (default: YIBAO_TEST_PG), or sqlite:///FILE")  # fmt: skip
    a = ap.parse_args()
    if not a.url:
        sys.exit("set YIBAO_TEST_PG or --url")
    url = a.url if a.url.startswith("sqlite") else schema_url(a.url, "bench_daily")
    insurees = max(1000, a.stays // 2)
    codes, people = setup(url, insurees)
    path = Path(f"/tmp/yibao-daily-{a.stays}x{a.lines}-{insurees}.parquet")
    if not path.exists():
        generate(path, a.stays, a.lines, codes, people)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    noon = dt.datetime.combine(DAY, dt.time(12), CST)
    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: noon)
    t = time.perf_counter()
    got = import_file(uow, ctx, CLERK, path, out=None, writers=1 if "sqlite" in url else 2)
    print(f"  entered {got.settled} settlements on {DAY} ({time.perf_counter() - t:.1f} s)")
    took, write = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeat):
            t0 = time.perf_counter()
            report = daily_report(uow, ctx, CLERK, DAY, since=dt.date(2020, 1, 23))
            t1 = time.perf_counter()
            write_daily_workbook(report, Path(tmp) / f"daily-{r}.xlsx")
            t2 = time.perf_counter()
            took.append(t2 - t0)
            write.append(t2 - t1)
            n = len(report.settlements)
            print(f"  run {r + 1}: {t2 - t0:.2f} s (service {t1 - t0:.2f} s, workbook "
                  f"{t2 - t1:.2f} s); {n} settlements listed", flush=True)  # fmt: skip
    engine.dispose()
    kind = "SQLite" if "sqlite" in url else "PostgreSQL"
    print(f"daily report, {a.stays} settlements on one day ({kind}): runs "
          f"{' · '.join(f'{x:.2f}' for x in took)} s; median {statistics.median(took):.2f} s "
          f"(workbook {statistics.median(write):.2f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
