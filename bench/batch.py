"""Batch settlement, whole process: ``yibao batch settle`` wall time and peak RSS.

    .venv/bin/python bench/batch.py [--encounters 100000 1000000] [--repeat 3]
                                    [--partitions N] [--scalar 100000] [--keep]

For each size, the tables are generated first under bench/data/<n>/ (``yibao bench gen
--seed 1``, not timed, kept for the next run). Each timed run is a fresh process under
``/usr/bin/time -v``: interpreter start, imports, pack loading, reading the Parquet
files, settling and writing OUT.parquet. Prints every run and the median.
``--scalar N`` also settles the first N encounters of the 100k table one by one with
the scalar engine (requests built before timing) for the ratio.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BIN = Path(sys.executable).parent
PACK = HERE.parent / "src" / "yibao" / "packs" / "cq-2020.yaml"


def tables(n: int) -> Path:
    folder = DATA / (f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k")
    if not (folder / "L.parquet").exists():
        print(f"generating {n:,} encounters into {folder} (not timed)", flush=True)
        t0 = time.perf_counter()
        subprocess.run([BIN / "yibao", "bench", "gen", "--encounters", str(n), "--seed", "1",
                        "--out", str(folder)], check=True)  # fmt: skip
        print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def run_once(folder: Path, partitions: int, out: Path) -> tuple[float, int]:
    cmd = [str(BIN / "yibao"), "batch", "settle", "--pack", str(PACK),
           "--encounters", str(folder / "E.parquet"), "--lines", str(folder / "L.parquet"),
           "--out", str(out)]  # fmt: skip
    if partitions > 1:
        cmd += ["--partitions", str(partitions)]
    timer = shutil.which("time") or "/usr/bin/time"
    t0 = time.perf_counter()
    proc = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(rss.group(1)) if rss else 0


def scalar_rate(folder: Path, n: int) -> float:
    """Encounters per second of the scalar engine, one by one with carried state."""
    import polars as pl
    from tests.batch_scalar import ordered, requests_of, settle_in_order

    from yibao.packs.files import load_pack

    enc = pl.read_parquet(folder / "E.parquet").head(n)
    lines = pl.scan_parquet(folder / "L.parquet").filter(
        pl.col("encounter_id").is_in(enc["encounter_id"].implode())).collect()  # fmt: skip
    reqs = ordered(requests_of(enc, lines))
    pack = [load_pack(PACK)]
    t0 = time.perf_counter()
    settle_in_order(reqs, pack)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--encounters", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--scalar", type=int, default=0, metavar="N")
    args = ap.parse_args()
    out = DATA / "OUT.parquet"
    for n in args.encounters:
        folder = tables(n)
        runs = [run_once(folder, args.partitions, out) for _ in range(args.repeat)]
        for wall, rss in runs:
            print(f"batch settle {n:,} encounters: {wall:.2f} s, peak RSS {rss / 1024:,.0f} MiB")
        med = statistics.median(w for w, _ in runs)
        peak = max(r for _, r in runs)
        parts = f", --partitions {args.partitions}" if args.partitions > 1 else ""
        print(
            f"batch settle {n:,}{parts}: median of {args.repeat} {med:.2f} s "
            f"({n / med:,.0f} encounters/s), peak RSS {peak / 1024:,.0f} MiB",
            flush=True,
        )
    if args.scalar:
        rate = scalar_rate(tables(100_000), args.scalar)
        print(f"scalar one by one, {args.scalar:,} encounters: {rate:,.0f} encounters/s")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
