"""Benchmark the supervision scan (issue 22): every rule over a year of settled stays.

Not timed: a year of the demo district's stays (``generate_year``: N stays, about 17
lines each, each kind of misuse injected). Timed, in process: ``scan`` of the whole year
by the shipped rule set (all rules, peers and hospitals included), the median of
``--repeat`` runs; then the injected cases found and the false-flag share per rule.

    .venv/bin/python bench/supervision.py --stays 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import polars as pl

from yibao.services.supervision.flags import rule_set
from yibao.services.supervision.generate import generate_year, measure
from yibao.services.supervision.scan import scan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--limit", type=float, default=20.0, help="seconds (exit 1 above)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    gen = generate_year(args.stays, args.seed)
    t = gen.tables
    took = time.perf_counter() - t0
    print(f"generated {t.stays.height:,} stays, {t.lines.height:,} lines, "
          f"{gen.injected.height:,} injected cases in {took:.1f} s")  # fmt: skip
    rules = rule_set()
    times, flags = [], pl.DataFrame()
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        flags = scan(t, rules, as_of=gen.as_of)
        times.append(time.perf_counter() - t1)
    med = statistics.median(times)
    each = ", ".join(f"{x:.2f}" for x in times)
    print(f"scan: {flags.height:,} flags; median {med:.2f} s of {args.repeat} ({each}); "
          f"{t.stays.height / med:,.0f} stays/s")  # fmt: skip
    report = measure(flags, gen)
    with pl.Config(tbl_rows=50, tbl_width_chars=120):
        print(report)
    missed = int(report["missed"].sum())
    print(f"missed: {missed}")
    return 0 if med < args.limit and missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
