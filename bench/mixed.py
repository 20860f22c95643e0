"""A mixed load on the hospital service over HTTP, then the books proved (issue 15).

On PostgreSQL (``YIBAO_TEST_PG`` or ``--url``), in a schema of its own: the demo district
with a SMALL set of insurees (``--insurees``, default 200), hospital keys and stays
prepared through the service layer with LARGE bills (unit prices × ``--scale``), so the
yearly caps of the basic and serious-illness funds are reached and reversals move
accumulators that sit at the caps (all from bench/service.py). Then ``yibao serve
--workers 2`` on 127.0.0.1 and ``--clients`` keep-alive clients that, for ``--seconds``,
pick at random:

* ``settle``: settle a prepared stay (2304);
* ``reverse``: reverse a standing settlement (2305 结算撤销);
* ``resettle``: settle a reversed stay again;
* ``new``: admit + upload 20 lines + settle a new stay (``admit``, ``fees``,
  ``settle_new``).

Halfway through, ``yibao resettle`` runs on the same database (a corrected pack: the
shipped one with the employee ratios 5 points lower, from bench/resettle.py) over the
stays' discharge date, while the clients go on; after the load and the server's stop it
runs once more, alone (the stays settled meanwhile under the shipped pack differ again).
Then ``yibao ledger check`` proves the books. Printed: calls by kind with their HTTP
status counts, p50/p99 per kind, how many insurees reached the caps, each
re-settlement's line and the ledger check's line. Exit 1 if the ledger check fails, the
re-settlement after the load fails, or any 5xx was answered (a re-settlement refused
DURING the load is reported, not counted as a failure: it books nothing).

Every request goes to 127.0.0.1 only; loops are bounded in count and time.

    .venv/bin/python bench/mixed.py --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from common import YIBAO, schema_url
from loadclient import Connection
from resettle import corrected
from service import (
    ADMIT,
    DISCHARGE,
    PROVIDERS,
    World,
    _diagnoses,
    _lines,
    _pct,
    prepare,
    setup,
    start_server,
)
from sqlalchemy import text

from yibao.packs import PACKS_DIR
from yibao.store.db import make_engine

KINDS = ("settle", "reverse", "resettle", "admit", "fees", "settle_new")
OPS = {"settle": 4, "reverse": 3, "resettle": 3, "new": 1}  # weights of the random pick
MAX_CALLS = 200_000  # a bound on the whole run, whatever the rate


class Load:
    """The pools of stays by state, and what every call answered (one event loop: the
    pools need no lock)."""

    def __init__(self, prepared: list[tuple[str, str]]) -> None:
        self.prepared = list(prepared)
        self.settled: list[tuple[str, str, str]] = []  # (provider, stay, settlement id)
        self.reversed: list[tuple[str, str]] = []
        self.lat: dict[str, list[float]] = {k: [] for k in KINDS}
        self.status: dict[str, Counter[int]] = {k: Counter() for k in KINDS}
        self.calls = 0


async def _call(
    load: Load, conn: Connection, kind: str, path: str, body: Any, key: str
) -> tuple[int, Any]:
    load.calls += 1
    t = time.perf_counter()
    status, raw = await conn.post(path, body, {"Authorization": f"Bearer {key}"})
    load.lat[kind].append(time.perf_counter() - t)
    load.status[kind][status] += 1
    return status, (json.loads(raw) if status in (200, 201) and raw else None)


async def _settle(load: Load, conn: Connection, world: World, kind: str, p: str, eid: str) -> None:
    body = {"discharge_date": DISCHARGE}
    status, doc = await _call(load, conn, kind, f"/v1/encounters/{eid}/settlement", body,
                              world.keys[p])  # fmt: skip
    if status == 201 and doc is not None:
        load.settled.append((p, eid, doc["settlement_id"]))


async def client(load: Load, base: str, world: World, n: int, deadline: float, scale: int) -> None:
    rnd = random.Random(1000 + n)
    conn = Connection(base)
    ops, weights = list(OPS), list(OPS.values())
    try:
        while time.perf_counter() < deadline and load.calls < MAX_CALLS:
            op = rnd.choices(ops, weights)[0]
            if op == "settle" and load.prepared:
                p, eid = load.prepared.pop()
                await _settle(load, conn, world, "settle", p, eid)
            elif op == "reverse" and load.settled:
                p, eid, sid = load.settled.pop(rnd.randrange(len(load.settled)))
                path = f"/v1/settlements/{sid}/reversal"
                status, _ = await _call(load, conn, "reverse", path, {"encounter_id": eid},
                                        world.keys[p])  # fmt: skip
                if status == 201:
                    load.reversed.append((p, eid))
                # refused (e.g. reversed meanwhile by yibao resettle): the stay leaves the pools
            elif op == "resettle" and load.reversed:
                p, eid = load.reversed.pop(rnd.randrange(len(load.reversed)))
                await _settle(load, conn, world, "resettle", p, eid)
            else:  # "new", or the pool picked is empty
                p = PROVIDERS[rnd.randrange(len(PROVIDERS))]
                key = world.keys[p]
                admit = {
                    "insuree_id": world.insurees[rnd.randrange(len(world.insurees))],
                    "admit_time": ADMIT.isoformat(),
                    "diagnoses": _diagnoses(rnd, p),
                }
                status, e = await _call(load, conn, "admit", "/v1/encounters", admit, key)
                if e is None:
                    continue
                lines = [
                    {"sn": str(k), "code": c, "price_e6": pr, "qty_e4": q}
                    for k, (c, pr, q) in enumerate(_lines(rnd, world.codes[p], scale=scale))
                ]
                path = f"/v1/encounters/{e['id']}/fees"
                status, _ = await _call(load, conn, "fees", path, {"lines": lines}, key)
                if status == 200:
                    await _settle(load, conn, world, "settle_new", p, e["id"])
    finally:
        await conn.close()


def _resettle_cmd(url: str) -> tuple[list[str], dict[str, str]]:
    pack = corrected(Path(f"/tmp/yibao-mixed-corrected-{os.getpid()}.yaml"))
    args = [YIBAO, "resettle", "--pack", str(pack), "--from", DISCHARGE, "--to", DISCHARGE,
            "--out", f"/tmp/yibao-mixed-resettle-{os.getpid()}"]  # fmt: skip
    return args, dict(os.environ, YIBAO_DATABASE_URL=url)


def _said(rc: int | None, out: bytes, err: bytes) -> str:
    """The first line of a successful run's output, else the last of its errors."""
    lines = (out.decode() if rc == 0 else err.decode()).strip().splitlines() or [""]
    return (lines[0] if rc == 0 else lines[-1])[:400]


async def run_load(
    load: Load, base: str, world: World, url: str, a: argparse.Namespace
) -> tuple[int | None, str, float]:
    """The clients for ``a.seconds``, and ``yibao resettle`` started halfway (unless
    ``--no-resettle``): its exit code, what it said and seconds."""
    t0 = time.perf_counter()
    deadline = t0 + a.seconds
    clients = [
        asyncio.create_task(client(load, base, world, n, deadline, a.scale))
        for n in range(a.clients)
    ]
    rc, said, took = None, "skipped (--no-resettle)", 0.0
    if not a.no_resettle:
        await asyncio.sleep(a.seconds / 2)
        args, env = _resettle_cmd(url)
        standing = len(load.settled)
        t = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            out, err = b"", b"timed out after 120 s"
        took = time.perf_counter() - t
        rc = proc.returncode
        said = f"{_said(rc, out, err)} [{standing} standing in the clients' pool at start]"
    await asyncio.gather(*clients)
    return rc, said, took


def resettle_after(url: str) -> tuple[int, str, float]:
    """``yibao resettle`` alone on the same database: exit code, what it said, seconds."""
    args, env = _resettle_cmd(url)
    t = time.perf_counter()
    try:
        p = subprocess.run(args, env=env, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return -1, "timed out after 120 s", time.perf_counter() - t
    return p.returncode, _said(p.returncode, p.stdout, p.stderr), time.perf_counter() - t


def at_caps(url: str) -> str:
    """How many insurees' 2020 accumulators reached the basic and serious caps of the
    shipped pack (the load is meant to reach them)."""
    doc = yaml.safe_load((PACKS_DIR / "cq-2020.yaml").read_text(encoding="utf-8"))
    basic, serious = doc["basic_cap"]["fen"], doc["serious"]
    q = text(
        "SELECT i.scheme, count(*), "
        "count(*) FILTER (WHERE a.basic_entitled_fen >= :be AND i.scheme = 'employee' "
        "  OR a.basic_entitled_fen >= :br AND i.scheme = 'resident'), "
        "count(*) FILTER (WHERE a.serious_paid_fen >= :se AND i.scheme = 'employee' "
        "  OR a.serious_paid_fen >= :sr AND i.scheme = 'resident') "
        "FROM accumulators a JOIN insurees i ON i.psn_no = a.psn_no "
        "AND i.superseded_by IS NULL AND i.valid_to IS NULL "
        "WHERE a.year = 2020 GROUP BY i.scheme ORDER BY i.scheme"
    )
    binds = {
        "be": basic["employee"],
        "br": basic["resident"],
        "se": serious["employee"]["cap_fen"],
        "sr": serious["resident"]["cap_fen"],
    }
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(q, binds).all()
    engine.dispose()
    return "; ".join(f"{s}: {n} with accumulators, {b} at the basic cap, {v} at the serious cap"
                     for s, n, b, v in rows)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("YIBAO_TEST_PG"),
                    help="PostgreSQL URL (default: YIBAO_TEST_PG)")  # fmt: skip
    ap.add_argument("--insurees", type=int, default=200)
    ap.add_argument("--prepared", type=int, default=4000, help="stays prepared to settle")
    ap.add_argument("--scale", type=int, default=10, help="unit prices × this (large bills)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-resettle", action="store_true")
    a = ap.parse_args()
    if not a.url or not a.url.startswith("postgresql"):
        raise SystemExit("needs PostgreSQL: set YIBAO_TEST_PG or --url")
    a.seconds = min(a.seconds, 120.0)
    url = schema_url(a.url, f"bench_mixed_{os.getpid()}")
    world = setup(url, a.insurees)
    print(f"{len(world.insurees)} insurees; bills × {a.scale}", flush=True)
    load = Load(prepare(world, a.prepared, seed=0, scale=a.scale))
    proc, base = start_server(url, a.workers)
    t = time.perf_counter()
    try:
        rc, out, rtook = asyncio.run(run_load(load, base, world, url, a))
    finally:
        took = time.perf_counter() - t
        proc.terminate()
        proc.wait(timeout=30)
    arc, asaid, atook = (None, "skipped", 0.0) if a.no_resettle else resettle_after(url)
    t = time.perf_counter()
    chk = subprocess.run([YIBAO, "ledger", "check"], capture_output=True, text=True,
                         env=dict(os.environ, YIBAO_DATABASE_URL=url))  # fmt: skip
    ctook = time.perf_counter() - t
    caps = at_caps(url)
    check = (chk.stdout or chk.stderr).strip()

    print(f"\nmixed load: {load.calls} calls in {took:.1f} s ({load.calls / took:.0f}/s), "
          f"{a.clients} clients, {len(world.insurees)} insurees")  # fmt: skip
    print(f"{'kind':<11}{'calls':>7}  {'p50 ms':>7}  {'p99 ms':>7}  HTTP statuses")
    fives = 0
    for k in KINDS:
        xs = load.lat[k]
        if not xs:
            print(f"{k:<11}{0:>7}")
            continue
        st = load.status[k]
        fives += sum(n for s, n in st.items() if s >= 500)
        sts = " ".join(f"{s}×{n}" for s, n in sorted(st.items()))
        print(f"{k:<11}{len(xs):>7}  {_pct(xs, 0.5) * 1000:>7.1f}  {_pct(xs, 0.99) * 1000:>7.1f}"
              f"  {sts}")  # fmt: skip
    print(f"left: {len(load.prepared)} prepared, {len(load.settled)} standing, "
          f"{len(load.reversed)} reversed")  # fmt: skip
    print(f"caps: {caps}")
    print(f"yibao resettle during the load ({rtook:.1f} s, exit {rc}): {out}")
    print(f"yibao resettle after the load ({atook:.1f} s, exit {arc}): {asaid}")
    lines = check.splitlines()
    print(f"yibao ledger check ({ctook:.1f} s, exit {chk.returncode}): "
          f"{lines[-1] if lines else ''}")  # fmt: skip
    if chk.returncode != 0:
        print("\n".join(lines[:20]), file=sys.stderr)
    print(f"5xx answers: {fives}")
    return 1 if chk.returncode != 0 or fives or (arc not in (None, 0)) else 0


if __name__ == "__main__":
    sys.exit(main())
