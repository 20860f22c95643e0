"""Hostile strings — quotes, ``$$``, backslashes, ``%s``/``%(p)s``, braces, newlines, tabs,
SQL — through every write path (settle, reverse, defer one, defer many, the deferred
queue's bulk booking, an audit entry's detail, a registry import) come back byte-exact:
parameters are bound, never inlined, and COPY's CSV quotes them (both strategies of the
store's writer: COPY, and the pipelined multi-row INSERTs). A NUL, which PostgreSQL's text
cannot hold, is refused with the driver's error as SQLAlchemy's, its text without the
values, and nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import DBAPIError

from tests.deferred.helpers import CLERK, HOSPITAL, NEWCOMER, books_ok, context, enrol, stay
from tests.registry_data import EMPLOYEE, load_examples, put
from yibao.services.access.rights import audit
from yibao.services.encounters import lifecycle as uc
from yibao.services.stays.deferred import deferring, queue
from yibao.store import writes
from yibao.store.uow import UnitOfWork

HOSTILE = 'it\'s "q" $$x$$ $tag$ \\b\\\\s %s %(p)s {0} \n\r\n\t; DROP TABLE x; -- 中文'
DAY = dt.date(2020, 2, 12)
SECOND = "50010219950101007X"  # not in the example registry either


@pytest.mark.parametrize("copy_from", [0, writes.COPY_FROM])
def test_hostile_strings_come_back_byte_exact(uow: UnitOfWork, copy_from: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(writes, "COPY_FROM", copy_from)
    load_examples(uow)
    ctx = context()
    name = "王'\"$$\\%s%(p)s{0};--"  # a name: 50 characters at most, no control characters
    put(uow, "insurees", {"psn_no": SECOND, "name": name, "scheme": "employee",
                          "insured_region": "500102", "township": "500102001",
                          "assistance_category": "none", "account_opening_fen": "100",
                          "enrolled": "true", "valid_from": "2020-01-01"})  # fmt: skip
    a = stay(uow, ctx, EMPLOYEE, DAY)
    s = uc.settle(uow, ctx, HOSPITAL, a.id, msgid=HOSTILE + "1")
    assert s.settlement_id is not None
    r = uc.reverse(uow, ctx, HOSPITAL, s.settlement_id, msgid=HOSTILE + "2")
    b = stay(uow, ctx, NEWCOMER, DAY, insured_region="500102")  # deferred, then booked
    d = queue.defer(uow, ctx, HOSPITAL, b.id, reason="not_enrolled", msgid=HOSTILE + "3")
    c = stay(uow, ctx, EMPLOYEE, DAY)
    with uow(write=True):
        (many,) = deferring.record_deferrals(uow, ctx, HOSPITAL, [c], reason="offline",
                                             msgid=HOSTILE + "4")  # fmt: skip
        audit(
            uow,
            CLERK,
            "test.hostile",
            "encounter",
            a.id,
            before=None,
            after=None,
            at=ctx.now(),
            msgid=HOSTILE + "5",
            detail={"note": HOSTILE, HOSTILE: [HOSTILE]},
        )
        uow.commit()
    enrol(uow, NEWCOMER)
    run = queue.settle_ready(uow, ctx, CLERK, insuree_ids=[NEWCOMER])
    assert run.batch == 1  # the bulk booking
    assert [e for e, _ in run.settled] == [b.id]
    with uow:
        hosp = uow.hospital
        assert uow.insurees.where(psn_no=SECOND)[0].name == name
        assert (
            hosp.settlement(s.settlement_id).msgid,  # type: ignore[union-attr]
            hosp.settlement(r.settlement_id).msgid,
        ) == (HOSTILE + "1", HOSTILE + "2")  # type: ignore[union-attr, arg-type]
        assert [e.msgid for e in hosp.events(a.id)][-2:] == [HOSTILE + "1", HOSTILE + "2"]
        assert [x.msgid for x in uow.deferrals.of_encounter(b.id)] == [HOSTILE + "3"]
        assert d.msgid == HOSTILE + "3"
        cleared = [e for e in hosp.events(b.id) if e.kind == "deferral_cleared"]
        assert [e.msgid for e in cleared] == [HOSTILE + "3"]
        assert uow.deferrals.open_for(c.id).id == many  # type: ignore[union-attr]
        assert [x.msgid for x in uow.deferrals.of_encounter(c.id)] == [HOSTILE + "4"]
        entries = hosp.audit_entries(entity="encounter", entity_id=None, limit=1000)
        msgids = {e.msgid for e in entries}
        assert {HOSTILE + n for n in "12345"} <= msgids
        mine = [e for e in entries if e.action == "test.hostile"]
        assert [e.detail for e in mine] == [{"note": HOSTILE, HOSTILE: [HOSTILE]}]
    books_ok(uow, ctx)


@pytest.mark.parametrize("copy_from", [0, writes.COPY_FROM])
def test_a_nul_is_refused_cleanly(uow: UnitOfWork, copy_from: int,
                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    if uow.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's text holds a NUL")
    monkeypatch.setattr(writes, "COPY_FROM", copy_from)
    load_examples(uow)
    ctx = context()
    a = stay(uow, ctx, EMPLOYEE, DAY)
    with pytest.raises(DBAPIError) as got:
        uc.settle(uow, ctx, HOSPITAL, a.id, msgid="hush\x00hush")
    assert EMPLOYEE not in str(got.value)
    assert "hush" not in str(got.value)
    with uow:
        assert uow.hospital.encounter(a.id).status == "discharged"  # type: ignore[union-attr]
        assert uow.hospital.settlements(encounter_id=a.id) == []
    books_ok(uow, ctx)
