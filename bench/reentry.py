"""Benchmark re-entry after an outage (issue 7): ``yibao deferred import FILE`` of N
stays of 20 lines into PostgreSQL — every row checked, settled in one batch pass,
booked (settlements, ledger, accumulators, accounts, fee lines, events, audit).

Per size: a capture file (Parquet) is generated once under ``/tmp`` (not timed);
per run: a fresh schema in ``YIBAO_TEST_PG`` (or ``--url``), migrated, the demo district
loaded with ``--insurees`` insurees (not timed); then the timed part is the whole
``yibao deferred import FILE --out RESULT.parquet`` process (start-up included).
``--check`` runs ``yibao ledger check`` after the first run (not timed). Each run also
reports the import's CPU (its children included), the CPU of the PostgreSQL backends
serving it (local server; sampled every 0.5 s, so a lower bound) and its peak RSS.

    .venv/bin/python bench/reentry.py --stays 100000 --repeat 3
    .venv/bin/python bench/reentry.py --stays 1000000 --insurees 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from common import YIBAO, schema_url
from sqlalchemy import select

from yibao.services.tools.demo.district import load_demo
from yibao.store import migrate
from yibao.store.db import make_engine
from yibao.store.registry_tables import CodeMapping, Insuree
from yibao.store.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2020, 2, 1)
PROVIDERS = ["H50010200001", "H50010200002", "H50010200003", "H50010200004"]


def setup(url: str, insurees: int) -> tuple[dict[str, list[str]], list[str]]:
    """Migrate, load the demo district; the providers' mapped codes and the people."""
    migrate.upgrade(url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    load_demo(uow, insurees=insurees)
    with uow:
        codes = {}
        for p in PROVIDERS:
            q = select(CodeMapping.hospital_code).where(
                CodeMapping.provider_code == p, CodeMapping.superseded_by.is_(None),
                CodeMapping.valid_from <= DAY, CodeMapping.valid_to.is_(None),
            ).order_by(CodeMapping.hospital_code)  # fmt: skip
            codes[p] = list(uow.session.execute(q).scalars())
        q = select(Insuree.psn_no).where(
            Insuree.superseded_by.is_(None), Insuree.enrolled.is_(True),
            Insuree.scheme != "none", Insuree.valid_from <= DAY, Insuree.valid_to.is_(None),
        ).order_by(Insuree.psn_no)  # fmt: skip
        people = list(uow.session.execute(q).scalars())
    engine.dispose()
    return codes, people


def generate(path: Path, stays: int, lines: int, codes: dict[str, list[str]],
             people: list[str], seed: int = 1) -> None:  # fmt: skip
    """``stays`` stays of ``lines`` lines: insurees in turn (a few stays each, 9 days
    apart), four hospitals, half the stays at the two 定点救治 ones confirmed COVID-19."""
    rnd = np.random.default_rng(seed)
    i = np.arange(stays)
    who = np.array(people)[i % len(people)]
    prov_i = rnd.integers(0, len(PROVIDERS), stays)
    start = np.datetime64("2020-02-01T08:00") + (i // len(people)) * np.timedelta64(9, "D")
    admit = (start + (i % 600).astype("timedelta64[m]")).astype("datetime64[ms]")
    discharge = admit + rnd.integers(1, 9, stays).astype("timedelta64[D]")
    covid = (prov_i < 2) & (rnd.random(stays) < 0.5)
    enc = pl.DataFrame({
        "provider_code": np.array(PROVIDERS)[prov_i], "encounter_no": [f"ZY{n:08d}" for n in i],
        "insuree_id": who, "admit_time": admit, "discharge_time": discharge,
        "diagnoses": np.where(covid, "B99.900", "J18.900"), "p": prov_i,
    }).with_columns(pl.col("admit_time").dt.strftime("%Y-%m-%d %H:%M"),
                    pl.col("discharge_time").dt.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
    pick = []
    for p in range(len(PROVIDERS)):
        cs = np.array(codes[PROVIDERS[p]])
        pick.append(cs[rnd.integers(0, len(cs), (stays, lines))])
    chosen = np.choose(prov_i[:, None], pick) if len(PROVIDERS) <= 32 else None
    assert chosen is not None
    n = stays * lines
    frame = enc.select(pl.all().repeat_by(lines).explode()).with_columns(
        sn=pl.Series(np.tile(np.arange(1, lines + 1), stays).astype(str)),
        code=pl.Series(chosen.reshape(-1)),
        price_e6=pl.Series(rnd.integers(100, 50_000, n) * 10_000),  # whole fen, as before
        qty_e4=pl.Series(rnd.choice([500, 1000, 2000, 3000], n) * 10),
    ).drop("p")  # fmt: skip
    frame.write_parquet(path)


def _ports(pid: int) -> set[int]:
    """The local TCP ports of process ``pid``'s sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (the import and its worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(k) for k in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _backends_of(ports: set[int]) -> dict[int, float]:
    """CPU seconds so far of the local PostgreSQL backends serving those client ports
    (a backend's title names its client: ``postgres: … 127.0.0.1(PORT) …``)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            if not cmd.startswith("postgres:") or "(" not in cmd:
                continue
            port = int(cmd.split("(", 1)[1].split(")", 1)[0])
            if port not in ports:
                continue
            stat = (d / "stat").read_text()
        except (OSError, ValueError):
            continue
        f = stat[stat.rfind(")") + 2 :].split()
        out[int(d.name)] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return out


def run_once(url: str, path: Path, out: Path, per_transaction: int) -> tuple[float, str]:
    """Seconds of the whole import process, and its CPU and the server's."""
    env = dict(os.environ, YIBAO_DATABASE_URL=url)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", YIBAO, "deferred", "import",
                             str(path), "--out", str(out), "--per-transaction",
                             str(per_transaction)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    backends: dict[int, float] = {}  # the import's PostgreSQL backends, sampled
    while proc.poll() is None:
        with contextlib.suppress(OSError):  # a process ended while read
            backends.update(_backends_of(set().union(*map(_ports, _descendants(proc.pid)))))
        time.sleep(0.5)
    stdout, stderr = proc.communicate()
    took = time.perf_counter() - t
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"import failed ({proc.returncode}): {stderr.strip()[:500]}")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    rss = int(stderr.strip().splitlines()[-1]) / 1024 / 1024
    print(f"  {stdout.strip()}", flush=True)
    return took, (
        f"yibao CPU {cpu:.0f} s, its PostgreSQL backends' CPU ≥ "
        f"{sum(backends.values()):.0f} s, peak RSS {rss:.1f} GiB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", type=int, nargs="+", default=[100_000])
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--insurees", type=int, default=None, help="default: stays // 2, ≤ 200k")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-transaction", type=int, default=10_000)
    ap.add_argument("--url", default=os.environ.get("YIBAO_TEST_PG"))
    ap.add_argument("--check", action="store_true", help="yibao ledger check after run 1")
    a = ap.parse_args()
    if not a.url:
        sys.exit("set YIBAO_TEST_PG or --url (PostgreSQL)")
    for stays in a.stays:
        insurees = a.insurees or min(200_000, max(1000, stays // 2))
        path = Path(f"/tmp/yibao-reentry-{stays}x{a.lines}-{insurees}.parquet")
        times = []
        for r in range(a.repeat):
            url = schema_url(a.url, "bench_reentry")
            t = time.perf_counter()
            codes, people = setup(url, insurees)
            print(f"{stays} stays: demo district ({insurees} insurees) loaded in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
            if not path.exists():
                t = time.perf_counter()
                generate(path, stays, a.lines, codes, people)
                print(f"  file {path} generated in {time.perf_counter() - t:.1f} s", flush=True)
            took, cpu = run_once(url, path, path.with_suffix(".result.parquet"),
                                 a.per_transaction)  # fmt: skip
            times.append(took)
            print(f"  run {r + 1}: {took:.1f} s ({stays / took:,.0f} stays/s; {cpu}; load "
                  f"{os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
            if a.check and r == 0:
                env = dict(os.environ, YIBAO_DATABASE_URL=url)
                t = time.perf_counter()
                chk = subprocess.run([YIBAO, "ledger", "check"], env=env, capture_output=True,
                                     text=True)  # fmt: skip
                print(f"  ledger check ({time.perf_counter() - t:.0f} s): "
                      f"{(chk.stdout or chk.stderr).strip()[-300:]}", flush=True)  # fmt: skip
        runs = " · ".join(f"{t:.1f}" for t in times)
        print(f"{stays} stays × {a.lines} lines: runs {runs} s; median "
              f"{statistics.median(times):.1f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
