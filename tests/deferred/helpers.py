"""Shared set-up for the deferred-queue tests: a clock, a hospital, stays."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.registry_data import CENTRE, put
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.services.stays.deferred.queue import deferral_problems
from yibao.store.uow import UnitOfWork

T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
OTHER = Principal("k-other", "hospital", "H50010200002")
CLERK = Principal("k-clerk", "clerk", None)
COVID = (uc.Diagnosis("B99.900", True),)
PLAIN = (uc.Diagnosis("J18.900", True),)
FEES = (  # national codes: every hospital's catalog has them
    # 克力芝 丙, on the protocol
    uc.FeeIn("1", "XL04AXX999T000000000001", price_e6=50_000_000, qty_e4=20_000),
    uc.FeeIn("2", "001204000010000", price_e6=15_000_000, qty_e4=30_000),  # 静脉输液 甲
    uc.FeeIn("3", "XJ05AXA159A001010101445", price_e6=120_000_000, qty_e4=10_000),  # 干扰素 乙
)
NEWCOMER = "500102199501010061"  # not in the example registry


class Clock:
    """A settable clock, a minute further on each reading (distinct ids and times)."""

    def __init__(self, start: dt.datetime = NOW) -> None:
        self.t = start

    def __call__(self) -> dt.datetime:
        self.t += dt.timedelta(minutes=1)
        return self.t


def context(clock: Clock | None = None) -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=clock or Clock())


def stay(uow: UnitOfWork, ctx: Context, psn: str, day: dt.date, *, fees: Any = FEES,
         caller: Principal = HOSPITAL, diagnoses: Any = PLAIN, admitted: dt.date | None = None,
         **kw: Any) -> uc.EncounterState:  # fmt: skip
    """Admit ``psn`` at T0 (or 9:00 on ``admitted``), upload ``fees``, discharge on ``day``."""
    when = T0 if admitted is None else dt.datetime.combine(admitted, dt.time(9), CST)
    cmd = uc.Admit(psn, "21", when, diagnoses, **kw)
    enc = uc.admit(uow, ctx, caller, cmd, msgid=None)
    if fees:
        uc.upload_fees(uow, ctx, caller, enc.id, fees, msgid=None)
    return uc.discharge(uow, ctx, caller, enc.id, dt.datetime.combine(day, dt.time(10), CST),
                        msgid=None)  # fmt: skip


def enrol(uow: UnitOfWork, psn: str, *, valid_from: str = "2020-01-01") -> None:
    """Import ``psn``'s enrolment (an employee of 500102)."""
    put(uow, "insurees", {"psn_no": psn, "name": "新参保", "scheme": "employee",
                          "insured_region": "500102", "township": "500102001",
                          "assistance_category": "none", "account_opening_fen": "100000",
                          "enrolled": "true", "valid_from": valid_from})  # fmt: skip


def books_ok(uow: UnitOfWork, ctx: Context) -> None:
    problems = reports.ledger_problems(uow, ctx.packs) + deferral_problems(uow)
    assert problems == []
