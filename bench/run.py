"""``make bench``: every benchmark in turn. Figures go to docs/PERFORMANCE.md by hand,
with the machine, the command and the date."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["scalar.py", "--encounters", "20000", "--repeat", "3"],
    ["imports.py", "--rows", "1000000", "--repeat", "3"],
    ["resolve.py", "--stays", "2000", "--lines", "25", "--repeat", "3"],
    ["batch.py", "--encounters", "100000", "1000000", "--repeat", "3", "--scalar", "100000"],
    # the hospital service over HTTP (PostgreSQL: YIBAO_TEST_PG); docs/PERFORMANCE.md
    [
        "service.py",
        "--insurees",
        "20000",
        "--encounters",
        "30000",
        "--seconds",
        "60",
        "--lifecycle-seconds",
        "20",
        "--repeat",
        "3",
        "--concurrency",
        "6",
    ],
    # re-entry after an outage into PostgreSQL (YIBAO_TEST_PG); docs/PERFORMANCE.md
    ["reentry.py", "--stays", "100000", "--repeat", "3", "--check"],
    # the deferred queue run and bulk re-settlement (YIBAO_TEST_PG); docs/PERFORMANCE.md
    ["deferred.py", "--stays", "10000", "--repeat", "3"],
    ["resettle.py", "--stays", "10000", "--repeat", "3"],
    # issue 15: >= 10,000 fuzzed requests in process, 0 x 5xx and 0 rows stored from
    # refused ones (SQLite; again on PostgreSQL when YIBAO_TEST_PG is set); last, since it
    # exits 1 on a failure; docs/PERFORMANCE.md
    ["fuzz.py", "--requests", "10000", "--seconds", "900"],
    *(
        [["fuzz.py", "--requests", "10000", "--seconds", "900", "--pg"]]
        if os.environ.get("YIBAO_TEST_PG")
        else []
    ),
    # issue 15: a mixed HTTP load (settle, reverse, re-settle, new stays; yibao resettle
    # during and after) on 200 insurees at their caps, then yibao ledger check; exits 1 on
    # a failed check or any 5xx (PostgreSQL only)
    *([["mixed.py", "--seconds", "60"]] if os.environ.get("YIBAO_TEST_PG") else []),
]


def main() -> int:
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    for bench in BENCHES:
        print(f"\n$ python bench/{' '.join(bench)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / bench[0]), *bench[1:]])
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
