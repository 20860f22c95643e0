"""`make demo`'s out-of-area care, both databases: filings from two townships (approved,
refused with its reason, one left overdue) and an inbound Hubei patient deferred "no pack
for region", settled once the example pack is loaded, the receivable booked; the books
still check."""

from __future__ import annotations

import datetime as dt

from yibao.core.ledger.accounts import INTER_REGION_RECEIVABLE
from yibao.packs import shipped_pack
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.services.filings import workflow as fs
from yibao.services.reports import reads
from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.epidemic import live_through_epidemic
from yibao.services.tools.demo.filings import WUHAN_PATIENT
from yibao.store.uow import UnitOfWork

CLERK = Principal("k-clerk", "clerk", None)


def test_the_demo_files_and_clears(uow: UnitOfWork) -> None:
    load_demo(uow, insurees=700)
    ctx = Context.from_folder(shipped_pack("cq-2020"))  # no Hubei pack in the directory
    e = live_through_epidemic(uow, ctx, insurees=700, scale=0.1)
    assert e.refused == []
    later = Context(ctx.packs, clock=lambda: dt.datetime(2020, 3, 16, tzinfo=dt.UTC))
    every = fs.queue(uow, later, CLERK, states=tuple(fs.STATE_NAMES))
    assert len({f.township for f in every}) == 2
    assert sorted(f.state for f in every) == ["accepted", "approved", "refused"]
    assert [f.state for f in fs.queue(uow, later, CLERK, overdue=True)] == ["accepted"]
    with uow:
        (enc,) = uow.hospital.encounters(provider_code=None, psn_no=WUHAN_PATIENT, status=None,
                                         limit=5, offset=0)  # fmt: skip
        assert enc.status == "settled"
        (s,) = uow.hospital.settlements(encounter_id=enc.id)
        assert s.psn_cash_pay == 0
        got = uow.funds.balances(INTER_REGION_RECEIVABLE.code)
        assert sum(v for (k, _), v in got.items() if k == "420100") == s.fund_pay_sumamt
        assert [d.reason for d in uow.deferrals.open(psn_nos=[WUHAN_PATIENT])] == []
    assert reads.ledger_problems(uow, ctx.packs) == []
