"""Benchmark the deferred queue (issue 7 item 1) on PostgreSQL: N stays of insurees whose
enrolment is not imported yet come in through re-entry (``yibao deferred import``) and
wait in the queue; their enrolment is then imported (not timed) and the timed part is
the whole ``yibao deferred settle`` process (start-up included): every stay cleared and
settled in (discharge_date, encounter_id) order per insuree-year, advances cleared.

    .venv/bin/python bench/deferred.py --stays 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import run_yibao, schema_url

from reentry import generate, setup
from yibao.core.registry import KINDS
from yibao.services.registry.files import import_rows
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def newcomers(n: int) -> list[str]:
    """``n`` valid ID numbers (ISO 7064 MOD 11-2) born 2001, not in the demo registry."""
    out = []
    for k in range(n):
        base = f"5001{k // 1000:02d}20010101{k % 1000:03d}"
        check = sum(int(c) * w for c, w in zip(base, _W, strict=True)) % 11
        out.append(base + "10X98765432"[check])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--per-insuree", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("YIBAO_TEST_PG"))
    a = ap.parse_args()
    if not a.url:
        sys.exit("set YIBAO_TEST_PG or --url (PostgreSQL)")
    people = newcomers(max(1, a.stays // a.per_insuree))
    path = Path(f"/tmp/yibao-deferred-{a.stays}x{a.lines}.parquet")
    times = []
    for r in range(a.repeat):
        url = schema_url(a.url, "bench_deferred")
        codes, _ = setup(url, 1000)
        if not path.exists():
            generate(path, a.stays, a.lines, codes, people)
        took, out = run_yibao(url, "deferred", "import", str(path), "--out",
                         str(path.with_suffix(".result.parquet")))  # fmt: skip
        print(f"  import ({took:.1f} s): {out}", flush=True)
        engine = make_engine(url)
        rows = [{"psn_no": p, "name": "新参保", "scheme": "employee", "insured_region": "500102",
                 "township": "500102001", "assistance_category": "none",
                 "account_opening_fen": "100000", "enrolled": "true",
                 "valid_from": "2020-01-01"} for p in people]  # fmt: skip
        names = KINDS["insurees"].names
        cells = [(n, [str(row.get(c, "")) for c in names]) for n, row in enumerate(rows, 2)]
        import_rows(UnitOfWork(engine), KINDS["insurees"], names, cells, source="bench",
                    actor="bench")  # fmt: skip
        engine.dispose()
        took, out = run_yibao(url, "deferred", "settle")
        times.append(took)
        print(f"  run {r + 1}: {took:.1f} s ({a.stays / took:,.0f} stays/s): {out}", flush=True)
        if r == 0:
            chk, out = run_yibao(url, "ledger", "check")
            print(f"  ledger check ({chk:.0f} s): {out[-120:]}", flush=True)
    runs = " · ".join(f"{t:.1f}" for t in times)
    print(f"{a.stays} deferred stays × {a.lines} lines: runs {runs} s; median "
          f"{statistics.median(times):.1f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
