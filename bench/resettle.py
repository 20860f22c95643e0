"""Benchmark bulk re-settlement (``yibao resettle``, issue 7 item 4) on PostgreSQL.

Not timed: a fresh schema with the demo district, N stays of 20 lines entered and
settled through re-entry (``yibao deferred import``), and a corrected pack: the shipped
``cq-2020`` with the employee ratios 5 points lower. Timed, each the whole process:
``yibao resettle --dry-run`` (recompute and report), ``yibao resettle`` (recompute,
reverse, re-book), and the same again (nothing differs: idempotent).

    .venv/bin/python bench/resettle.py --stays 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import yaml
from common import run_yibao, schema_url

from reentry import generate, setup
from yibao.packs import PACKS_DIR


def corrected(path: Path) -> Path:
    doc = yaml.safe_load((PACKS_DIR / "cq-2020.yaml").read_text(encoding="utf-8"))
    doc["ratio"]["bp"]["employee"] = {k: v - 500 for k, v in doc["ratio"]["bp"]["employee"].items()}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("YIBAO_TEST_PG"))
    a = ap.parse_args()
    if not a.url:
        sys.exit("set YIBAO_TEST_PG or --url (PostgreSQL)")
    insurees = max(1000, a.stays // 2)
    path = Path(f"/tmp/yibao-resettle-{a.stays}x{a.lines}-{insurees}.parquet")
    pack = corrected(Path("/tmp/yibao-resettle-corrected.yaml"))
    args = ["resettle", "--pack", str(pack), "--from", "2020-01-01", "--to", "2020-12-31",
            "--out", "/tmp/yibao-resettle-out"]  # fmt: skip
    took: dict[str, list[float]] = {"dry-run": [], "resettle": [], "again": []}
    for r in range(a.repeat):
        url = schema_url(a.url, "bench_resettle")
        codes, people = setup(url, insurees)
        if not path.exists():
            generate(path, a.stays, a.lines, codes, people)
        t, out = run_yibao(url, "deferred", "import", str(path), "--out", "/tmp/x.parquet")
        print(f"  entered ({t:.1f} s): {out}", flush=True)
        for name, extra in (("dry-run", ["--dry-run"]), ("resettle", []), ("again", [])):
            t, out = run_yibao(url, *args, *extra)
            out = out.splitlines()[0]
            took[name].append(t)
            print(f"  run {r + 1} {name}: {t:.1f} s: {out}", flush=True)
        if r == 0:
            t, out = run_yibao(url, "ledger", "check")
            print(f"  ledger check ({t:.0f} s): {out[-100:]}", flush=True)
    for name, ts in took.items():
        runs = " · ".join(f"{t:.1f}" for t in ts)
        print(f"{a.stays} stays, {name}: runs {runs} s; median {statistics.median(ts):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
