"""Benchmark the drug monitoring scan (issue 21): a year of procurement data for 200
hospitals × 50 drugs, every signal of the year computed with Polars in one pass.

Not timed: the seeded synthetic year (``services.drugs.synth.generate``: orders,
deliveries and daily use of every drug at every hospital, with the injected events).
Timed, in process: ``signals.scan`` over the whole year, the median of ``--repeat`` runs.
The figure goes to docs/PERFORMANCE.md; the target is under 10 s.

    .venv/bin/python bench/drugs.py --hospitals 200 --drugs 50 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

import polars as pl

from yibao.services.drugs.rules import monitoring_rules
from yibao.services.drugs.signals import scan
from yibao.services.drugs.synth import generate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hospitals", type=int, default=200)
    ap.add_argument("--drugs", type=int, default=50)
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2020, 1, 1))
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2020, 12, 31))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=float, default=10.0, help="fail above this median (s)")
    a = ap.parse_args()
    providers = [f"H{500102 * 100000 + i:011d}" for i in range(a.hospitals)]
    codes = [f"XSYN{i:04d}" for i in range(a.drugs)]
    t0 = time.perf_counter()
    synth = generate(providers, codes, a.start, a.end, a.seed)
    made = time.perf_counter() - t0
    f = synth.frames
    rules = monitoring_rules(a.end)
    times, cpu = [], []
    found = pl.DataFrame()
    for _ in range(a.repeat):
        t, c = time.perf_counter(), time.process_time()
        found = scan(f, rules, a.start, a.end)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    median = statistics.median(times)
    explained = synth.explains(found)
    print(
        f"data: {a.hospitals} hospitals x {a.drugs} drugs, {a.start}..{a.end}: "
        f"{f.orders.height:,} orders, {f.usage.height:,} usage rows (generated in {made:.1f} s)"
    )
    false = found.filter(~explained)
    each = ", ".join(f"{t:.2f}" for t in times)
    print(f"scan: median {median:.2f} s wall of {a.repeat} ({each}), "
          f"median {statistics.median(cpu):.2f} s CPU; {found.height} signals, by kind "
          f"{dict(sorted(found.group_by('kind').len().iter_rows()))}; not explained by an "
          f"injected event: {dict(sorted(false.group_by('kind').len().iter_rows()))}")  # fmt: skip
    return 0 if median < a.limit else 1


if __name__ == "__main__":
    sys.exit(main())
