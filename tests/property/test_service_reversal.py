"""Property, through the service and the store (both databases): settle + reverse nets
to zero in every ledger account and gives back the accumulators and the account
(SETTLEMENT.md §8), whatever the lines, the diagnosis and the account flag."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE, TEKUN, load_examples
from yibao.core.ledger import balances
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.store.uow import UnitOfWork

WHO = Principal("k1", "hospital", CENTRE)
CODES = ["YP-0001", "YP-0002", "JC-0001", "ZL-0001", "HC-0001", "CW-0001"]
CTX = Context(Context.from_folder(PACKS_DIR).packs,
              clock=lambda: dt.datetime(2020, 3, 30, 10, tzinfo=CST))  # fmt: skip
_n = itertools.count()

lines = st.lists(st.tuples(st.sampled_from(CODES), st.integers(0, 20_000_000_000),
                           st.integers(0, 200_000)), min_size=1, max_size=6)  # fmt: skip
"""(code, price_e6, qty_e4): up to 20,000 yuan × 20 units, sub-fen prices included."""


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=lines, psn=st.sampled_from([EMPLOYEE, DIBAO, TEKUN]),
       covid=st.booleans(), acct_used=st.booleans())  # fmt: skip
def test_settle_then_reverse_nets_to_zero(
    uow: UnitOfWork, lines: list[tuple[str, int, int]], psn: str, covid: bool, acct_used: bool
) -> None:
    with uow:
        empty = uow.hospital.counts()["encounters"] == 0
    if empty:
        load_examples(uow)
    diag = uc.Diagnosis("B99.900" if covid else "J18.900", True)
    t = dt.datetime(2020, 2, 1, 8, tzinfo=CST) + dt.timedelta(minutes=next(_n))
    enc = uc.admit(uow, CTX, WHO, uc.Admit(psn, "21", t, (diag,)), msgid=None)
    fees = [uc.FeeIn(str(i), c, price_e6=p, qty_e4=q) for i, (c, p, q) in enumerate(lines)]
    uc.upload_fees(uow, CTX, WHO, enc.id, fees, msgid=None)
    with uow:
        acc0, moved0 = uow.hospital.accumulators(psn, 2020), uow.hospital.account_moved(psn)
    s = uc.settle(uow, CTX, WHO, enc.id, discharge_date=dt.date(2020, 2, 12), acct_used=acct_used)
    r = uc.reverse(uow, CTX, WHO, s.settlement_id or "")
    with uow:
        txs = uow.hospital.transactions([s.settlement_id or "", r.settlement_id or ""])
        assert uow.hospital.accumulators(psn, 2020) == acc0
        assert uow.hospital.account_moved(psn) == moved0
    assert len(txs) == 2
    assert all(v == 0 for v in balances(txs).values())
    assert r.accumulators_after == s.accumulators_before
    assert reports.ledger_problems(uow, CTX.packs) == []
