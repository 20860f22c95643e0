"""Benchmark the hospital settlement service over HTTP (issue 6).

On PostgreSQL (``YIBAO_TEST_PG`` or ``--url``), in a schema of its own: load the demo
district, create hospital keys, prepare encounters (admitted, 20 fee lines uploaded)
through the service layer, start ``yibao serve --workers 2`` on 127.0.0.1, then:

1. the timed phase: settlement calls (``POST /v1/encounters/{id}/settlement``) from an
   async client (bench/loadclient.py: asyncio streams, one keep-alive connection
   per worker) with bounded concurrency, for ``--seconds`` or until
   the prepared encounters run out; rate, p50/p95/p99 latency;
2. the full lifecycle for ``--lifecycle-seconds``: admit + upload + settle per stay, all
   over HTTP; stays a second and the latency of each call.

Every request goes to 127.0.0.1 only; loops are bounded in count and time.

    .venv/bin/python bench/service.py --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import schema_url
from loadclient import Connection
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from yibao.services.access.rights import Principal, create_key
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.tools.demo.district import load_demo
from yibao.store import migrate
from yibao.store.db import make_engine
from yibao.store.registry_tables import CodeMapping, Insuree
from yibao.store.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2020, 2, 10)
ADMIT = dt.datetime(2020, 2, 10, 9, 0, tzinfo=CST)
DISCHARGE = "2020-02-20"
PROVIDERS = ["H50010200001", "H50010200002", "H50010200003", "H50010200004"]


@dataclass
class World:
    url: str
    keys: dict[str, str]  # provider -> key
    codes: dict[str, list[str]]  # provider -> hospital codes in force on DAY
    insurees: list[str]


def setup(url: str, insurees: int) -> World:
    migrate.upgrade(url)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    t = time.perf_counter()
    load_demo(uow, insurees=insurees)
    print(f"demo district loaded in {time.perf_counter() - t:.1f} s", flush=True)
    keys, codes = {}, {}
    now = dt.datetime.now(dt.UTC)
    for p in PROVIDERS:
        keys[p] = create_key(
            uow, role="hospital", provider_code=p, label="bench", by="bench", now=now
        ).key
    with uow:
        for p in PROVIDERS:
            q = (
                select(CodeMapping.hospital_code)
                .where(
                    CodeMapping.provider_code == p,
                    CodeMapping.superseded_by.is_(None),
                    CodeMapping.valid_from <= DAY,
                )
                .order_by(CodeMapping.hospital_code)
            )
            codes[p] = list(uow.session.execute(q).scalars())
        q = (
            select(Insuree.psn_no)
            .where(
                Insuree.superseded_by.is_(None),
                Insuree.enrolled.is_(True),
                Insuree.scheme != "none",
                Insuree.valid_from <= DAY,
                Insuree.valid_to.is_(None),
            )
            .order_by(Insuree.psn_no)
        )
        people = list(uow.session.execute(q).scalars())
    engine.dispose()
    return World(url, keys, codes, people)


def _lines(
    rnd: random.Random, codes: list[str], n: int = 20, scale: int = 1
) -> list[tuple[str, int, int]]:
    """``n`` lines (code, price_e6, qty_e4); ``scale`` multiplies every unit price (large
    bills for bench/mixed.py)."""
    covid = [c for c in codes if "COVID" in c]
    plain = [c for c in codes if "COVID" not in c]
    picked = covid[:4] + rnd.sample(plain, n - min(4, len(covid)))
    return [
        (c, rnd.randrange(100, 50_000) * 10_000 * scale, rnd.choice((1000, 2000, 3000, 500)) * 10)
        for c in picked
    ]  # (code, price_e6, qty_e4): whole fen and thousandths, as before


def _diagnoses(rnd: random.Random, provider: str) -> list[dict[str, Any]]:
    covid = provider in PROVIDERS[:2] and rnd.random() < 0.5
    return [{"code": "B99.900" if covid else "J18.900", "main": True}]


def prepare(
    world: World, n: int, seed: int, threads: int = 6, scale: int = 1
) -> list[tuple[str, str]]:
    """``n`` stays admitted with 20 lines each, through the service layer, in a few
    threads (not timed: only the settlements are); ``scale`` as in ``_lines``."""
    from concurrent.futures import ThreadPoolExecutor

    engine = make_engine(world.url, pool_size=threads + 1)
    ctx = Context.from_folder(ROOT / "src" / "yibao" / "packs")
    rnd = random.Random(seed)
    plan = []
    for i in range(n):
        p = PROVIDERS[i % len(PROVIDERS)]
        psn = world.insurees[rnd.randrange(len(world.insurees))]
        diags = tuple(uc.Diagnosis(d["code"], d["main"]) for d in _diagnoses(rnd, p))
        lines = _lines(rnd, world.codes[p], scale=scale)
        plan.append((p, psn, diags, lines))

    def one(job: tuple[str, str, Any, list[tuple[str, int, int]]]) -> tuple[str, str]:
        p, psn, diags, lines = job
        who = Principal("bench", "hospital", p)
        e = uc.admit(UnitOfWork(engine), ctx, who, uc.Admit(psn, "21", ADMIT, diags), msgid=None)
        fees = [uc.FeeIn(str(k), c, price_e6=pr, qty_e4=q) for k, (c, pr, q) in enumerate(lines)]
        uc.upload_fees(UnitOfWork(engine), ctx, who, e.id, fees, msgid=None)
        return p, e.id

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        out = list(pool.map(one, plan))
    took = time.perf_counter() - t
    print(
        f"prepared {n} stays (admit + 20 lines, service layer, {threads} threads) in "
        f"{took:.1f} s: {n / took:.0f} stays/s",
        flush=True,
    )
    engine.dispose()
    return out


SERVER_APP = "yibao-bench-service"
"""``application_name`` of the server's database connections: their backends are told
apart from other sessions' (another benchmark may share the machine's PostgreSQL)."""


def _server_backends(url: str) -> set[int]:
    """PIDs of the PostgreSQL backends serving the API server's connections now."""
    engine = make_engine(url)
    with engine.connect() as conn:
        q = text("SELECT pid FROM pg_stat_activity WHERE application_name = :app")
        pids = {int(p) for p in conn.execute(q, {"app": SERVER_APP}).scalars()}
    engine.dispose()
    return pids


def _cpu_by_role(server_pid: int, backends: set[int]) -> dict[str, float]:
    """CPU seconds used so far by the API server (its workers), the PostgreSQL backends
    of its connections (``backends``), PostgreSQL's other processes (its own writers and
    checkpointer, and any other session's backends), and this client (Linux /proc), to
    report CPU per settlement."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"server": 0.0, "postgres": 0.0, "postgres_other": 0.0, "others": 0.0}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            cmd = (
                Path(f"/proc/{d}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ppid, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if int(d) == server_pid or ppid == server_pid:
            out["server"] += cpu
        elif int(d) in backends:
            out["postgres"] += cpu
        elif "postgres" in cmd:
            out["postgres_other"] += cpu
        elif int(d) != os.getpid():
            out["others"] += cpu
    t = os.times()
    out["client"] = t.user + t.system
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    served = make_url(url).update_query_dict({"application_name": SERVER_APP})
    env = {
        **os.environ,
        "YIBAO_DATABASE_URL": served.render_as_string(hide_password=False),
        "YIBAO_POOL_SIZE": "12",
        "YIBAO_POOL_OVERFLOW": "4",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yibao",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(q * 1000) - 1] if len(xs) > 2 else max(xs)


def _report(
    name: str, done: int, took: float, lat: list[float], errors: dict[int, int]
) -> dict[str, Any]:
    rate = done / took if took else 0.0
    row = {
        "phase": name,
        "count": done,
        "seconds": round(took, 1),
        "rate": round(rate, 1),
        "p50_ms": round(_pct(lat, 0.5) * 1000, 1),
        "p95_ms": round(_pct(lat, 0.95) * 1000, 1),
        "p99_ms": round(_pct(lat, 0.99) * 1000, 1),
        "errors": errors,
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


async def settle_phase(
    base: str, world: World, stays: list[tuple[str, str]], seconds: float, concurrency: int
) -> dict[str, Any]:
    queue = list(reversed(stays))
    lat: list[float] = []
    errors: dict[int, int] = {}
    t0 = time.perf_counter()
    deadline = t0 + seconds

    async def worker() -> None:
        conn = Connection(base)
        try:
            while queue and time.perf_counter() < deadline:
                p, eid = queue.pop()
                t = time.perf_counter()
                status, _ = await conn.post(
                    f"/v1/encounters/{eid}/settlement",
                    {"discharge_date": DISCHARGE},
                    {"Authorization": f"Bearer {world.keys[p]}"},
                )
                lat.append(time.perf_counter() - t)
                if status != 201:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - t0
    return _report("settle", len(lat) - sum(errors.values()), took, lat, errors)


async def lifecycle_phase(
    base: str, world: World, seconds: float, concurrency: int, seed: int
) -> dict[str, Any]:
    rnd = random.Random(seed)
    lat: dict[str, list[float]] = {"admit": [], "fees": [], "settle": []}
    errors: dict[int, int] = {}
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds

    async def call(conn: Connection, kind: str, path: str, body: Any, key: str, want: int) -> Any:
        t = time.perf_counter()
        status, raw = await conn.post(path, body, {"Authorization": f"Bearer {key}"})
        lat[kind].append(time.perf_counter() - t)
        if status != want:
            errors[status] = errors.get(status, 0) + 1
            return None
        return json.loads(raw)

    async def worker(n: int) -> None:
        nonlocal done
        conn, i = Connection(base), n
        try:
            while time.perf_counter() < deadline:
                p = PROVIDERS[i % len(PROVIDERS)]
                i += concurrency
                key = world.keys[p]
                psn = world.insurees[rnd.randrange(len(world.insurees))]
                admit = {
                    "insuree_id": psn,
                    "admit_time": ADMIT.isoformat(),
                    "diagnoses": _diagnoses(rnd, p),
                }
                e = await call(conn, "admit", "/v1/encounters", admit, key, 201)
                if e is None:
                    continue
                lines = [
                    {"sn": str(k), "code": c, "price_e6": pr, "qty_e4": q}
                    for k, (c, pr, q) in enumerate(_lines(rnd, world.codes[p]))
                ]
                path = f"/v1/encounters/{e['id']}"
                if await call(conn, "fees", f"{path}/fees", {"lines": lines}, key, 200) is None:
                    continue
                body = {"discharge_date": DISCHARGE}
                if await call(conn, "settle", f"{path}/settlement", body, key, 201) is not None:
                    done += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    took = time.perf_counter() - t0
    every = [x for xs in lat.values() for x in xs]
    row = _report("lifecycle", done, took, every, errors)
    for kind, xs in lat.items():
        if xs:
            p50, p99 = _pct(xs, 0.5) * 1000, _pct(xs, 0.99) * 1000
            print(f"  {kind:<7} p50 {p50:.1f} ms  p99 {p99:.1f} ms", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--url",
        default=os.environ.get("YIBAO_TEST_PG"),
        help="PostgreSQL URL (default: YIBAO_TEST_PG)",
    )
    ap.add_argument("--insurees", type=int, default=20_000)
    ap.add_argument("--encounters", type=int, default=20_000, help="prepared per run")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--lifecycle-seconds", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.url or not args.url.startswith("postgresql"):
        raise SystemExit("needs PostgreSQL: set YIBAO_TEST_PG or --url")
    url = schema_url(args.url, f"bench_service_{os.getpid()}")
    world = setup(url, args.insurees)
    batches = [prepare(world, args.encounters, seed) for seed in range(args.repeat)]
    proc, base = start_server(url, args.workers)
    try:
        rows = []
        for b in batches:
            backends = _server_backends(url)
            before = _cpu_by_role(proc.pid, backends)
            row = asyncio.run(settle_phase(base, world, b, args.seconds, args.concurrency))
            opened = _server_backends(url) - backends  # counted whole: new in this run
            after = _cpu_by_role(proc.pid, backends | opened)
            n = max(row["count"], 1)
            row["cpu_ms_per_settlement"] = {
                k: round((after[k] - before[k]) / n * 1000, 2) for k in after
            }
            print(f"  CPU ms per settlement: {row['cpu_ms_per_settlement']}", flush=True)
            rows.append(row)
        life = [
            asyncio.run(
                lifecycle_phase(base, world, args.lifecycle_seconds, args.concurrency, seed)
            )
            for seed in range(args.repeat)
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name, rs in (("settle", rows), ("lifecycle", life)):
        med = sorted(rs, key=lambda r: r["rate"])[len(rs) // 2]
        print(
            f"MEDIAN {name}: {med['rate']} /s, p99 {med['p99_ms']} ms "
            f"(runs: {', '.join(str(r['rate']) for r in rs)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
