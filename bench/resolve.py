"""Catalog resolution latency: one stay's lines resolved as a settlement would.

    .venv/bin/python bench/resolve.py [--stays 2000] [--lines 25] [--repeat 3] [--db sqlite|pg|both]

Loads the demo district (5,000 insurees are enough here) into a fresh database, then
resolves ``--stays`` stays of ``--lines`` hospital codes each (one provider, mixed
service dates) with ``catalog.resolve_lines``, each stay in its own unit of work as the
settlement service will. Prints stays/s per run and the median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time

from imports import fresh  # bench/imports.py

from yibao.services.registry.catalog import resolve_lines
from yibao.services.tools.demo.district import load_demo
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

PROVIDER = "H50010200001"


def run(db: str, stays: int, lines: int, repeat: int) -> None:
    url, cleanup = fresh(db)
    engine = make_engine(url)
    try:
        load_demo(UnitOfWork(engine), insurees=5000)
        with UnitOfWork(engine) as uow:
            codes = [m.hospital_code for m in uow.mapping.where(provider_code=PROVIDER)]
        rnd = random.Random(1)
        day0 = dt.date(2020, 2, 20)  # every demo mapping and code is in force by then
        work = [
            [(rnd.choice(codes), day0 + dt.timedelta(days=rnd.randrange(30))) for _ in range(lines)]
            for _ in range(stays)
        ]
        rates = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for stay in work:
                resolve_lines(UnitOfWork(engine), PROVIDER, stay)
            rates.append(stays / (time.perf_counter() - t0))
            print(f"  {db}: {rates[-1]:,.0f} stays/s ({lines} lines each)", flush=True)
        print(f"resolve {db}: median of {repeat}: {statistics.median(rates):,.0f} stays/s")
    finally:
        engine.dispose()
        cleanup()  # type: ignore[operator]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stays", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    args = ap.parse_args()
    dbs = {"sqlite": ["sqlite"], "pg": ["postgresql"], "both": ["sqlite", "postgresql"]}
    for db in dbs[args.db]:
        run(db, args.stays, args.lines, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
