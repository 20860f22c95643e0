"""Accumulators never race (ARCHITECTURE.md "services own transactions"): twenty
settlements of one insuree at once, from two hospitals, never pay past the yearly cap
and never pay twice; one encounter settled twice at once is settled once.

Threads against the same database: on PostgreSQL the rows are locked FOR UPDATE; on
SQLite the write transactions begin IMMEDIATE and queue on busy_timeout.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.core.errors import Conflict
from yibao.packs import PACKS_DIR, shipped_pack
from yibao.packs.files import load_pack
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 3, 30, 10, 0, tzinfo=CST)
SECOND = "H50010200002"  # 涪陵区人民医院（示例）, level 2
WHO = {CENTRE: Principal("k1", "hospital", CENTRE), SECOND: Principal("k2", "hospital", SECOND)}
# 静脉输液 甲: 3万元 a stay
BIG = (uc.FeeIn("1", "001204000010000", price_e6=15_000_000_000, qty_e4=20_000),)
N = 20


def _stays(uow: UnitOfWork, ctx: Context, n: int) -> list[tuple[Principal, str]]:
    out = []
    for i in range(n):
        who = WHO[CENTRE if i % 2 else SECOND]
        t = dt.datetime(2020, 2, 1, 8, tzinfo=CST) + dt.timedelta(hours=i)
        e = uc.admit(uow, ctx, who, uc.Admit(EMPLOYEE, "21", t, (uc.Diagnosis("J18.900", True),)),
                     msgid=None)  # fmt: skip
        uc.upload_fees(uow, ctx, who, e.id, BIG, msgid=None)
        out.append((who, e.id))
    return out


def _at_once(db_url: str, jobs: list[tuple[Principal, str]], ctx: Context) -> list[Any]:
    engine = make_engine(db_url, pool_size=N + 2) if not db_url.startswith("sqlite") else \
        make_engine(db_url)  # fmt: skip
    start = threading.Barrier(len(jobs))

    def run(job: tuple[Principal, str]) -> Any:
        who, eid = job
        start.wait()
        try:
            return uc.settle(UnitOfWork(engine), ctx, who, eid,
                             discharge_date=dt.date(2020, 3, 1))  # fmt: skip
        except Conflict as exc:
            return exc

    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            return list(pool.map(run, jobs))
    finally:
        engine.dispose()


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


def test_twenty_at_once_from_two_hospitals_stay_within_the_cap(db_url: str, uow: UnitOfWork,
                                                                ctx: Context) -> None:  # fmt: skip
    load_examples(uow)
    got = _at_once(db_url, _stays(uow, ctx, N), ctx)
    assert all(isinstance(s, uc.Settled) for s in got), [s for s in got if isinstance(s, Exception)]
    cap = load_pack(shipped_pack("cq-2020")).basic_cap_fen["employee"]
    paid = sum(s.settlement.setlinfo.hifp_pay for s in got)
    assert paid == cap  # 20 × 3万 entitles far more: the cap binds, exactly, never more
    chain = sorted(got, key=lambda s: s.accumulators_before.basic_entitled_fen)
    for a, b in itertools.pairwise(chain):  # serialised: each starts where one ended
        assert b.accumulators_before == a.accumulators_after
    with uow:
        stored = uow.hospital.accumulators(EMPLOYEE, 2020)
    assert stored == chain[-1].accumulators_after
    assert reports.ledger_problems(uow, ctx.packs) == []


def test_one_encounter_settled_twice_at_once_is_settled_once(db_url: str, uow: UnitOfWork,
                                                             ctx: Context) -> None:  # fmt: skip
    load_examples(uow)
    ((who, eid),) = _stays(uow, ctx, 1)
    got = _at_once(db_url, [(who, eid), (who, eid)], ctx)
    assert sorted(type(x).__name__ for x in got) == ["Conflict", "Settled"]
    with uow:
        rows = uow.hospital.settlements(encounter_id=eid)
    assert len(rows) == 1
    assert reports.ledger_problems(uow, ctx.packs) == []
