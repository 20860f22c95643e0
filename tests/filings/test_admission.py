"""Settlement reads the filing registry: at admission the service decides ``filing`` from
the registry on the admission date and the stay's region; a hospital's wrong claim is
corrected, kept in the stay's history and flagged (an encounter event and an audit
entry), on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from tests.deferred.helpers import CST, HOSPITAL, PLAIN
from tests.filings.test_workflow import DISTRICT, SetClock
from tests.registry_data import EMPLOYEE, load_examples, put
from yibao.core.errors import InvalidRequest
from yibao.packs import shipped_pack
from yibao.services import filings as fs
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import transfers
from yibao.services.encounters.context import Context
from yibao.store.uow import UnitOfWork

WUHAN = Principal("k-wh", "hospital", "H42010200001")  # a hospital outside the pooling area


@pytest.fixture
def env(uow: UnitOfWork) -> tuple[UnitOfWork, Context]:
    load_examples(uow)
    put(uow, "providers", {"code": "H42010200001", "name": "武汉某医院（示例）",
                           "region": "420102", "level": "3", "designated_from": "2015-01-01",
                           "valid_from": "2015-01-01"})  # fmt: skip
    clock = SetClock(dt.datetime(2020, 1, 24, 10, tzinfo=CST))
    return uow, Context(Context.from_folder(shipped_pack("cq-2020")).packs, clock=clock)


def _admit(uow: UnitOfWork, ctx: Context, who: Principal, claim: str) -> uc.EncounterState:
    when = dt.datetime(2020, 1, 24, 9, tzinfo=CST)
    return uc.admit(uow, ctx, who, uc.Admit(EMPLOYEE, "21", when, PLAIN, filing=claim),
                    msgid=None)  # fmt: skip


def _flags(uow: UnitOfWork, enc_id: str) -> tuple[list[dict], list[str]]:
    with uow:
        events = uow.session.execute(text(
            "SELECT detail FROM encounter_events WHERE encounter_id = :e AND kind = "
            "'filing_corrected'"), {"e": enc_id}).scalars().all()  # fmt: skip
        audits = uow.session.execute(text(
            "SELECT action FROM audit_log WHERE entity_id = :e ORDER BY id"),
            {"e": enc_id}).scalars().all()  # fmt: skip
    return [e if isinstance(e, dict) else __import__("json").loads(e) for e in events], audits


def test_in_area_claim_corrected_to_not_needed(env) -> None:
    uow, ctx = env
    enc = _admit(uow, ctx, HOSPITAL, "unregistered")
    assert enc.filing == "not_needed"
    events, audits = _flags(uow, enc.id)
    assert events[0]["claimed"] == "unregistered"
    assert events[0]["decided"] == "not_needed"
    assert audits == ["encounter.admitted", "encounter.filing_corrected"]
    right = _admit(uow, ctx, HOSPITAL, "not_needed")
    assert _flags(uow, right.id) == ([], ["encounter.admitted"])  # a right claim: no flag


def test_out_of_area_registered_only_with_an_approved_filing(env) -> None:
    uow, ctx = env
    enc = _admit(uow, ctx, WUHAN, "registered")  # no filing yet: the claim is wrong
    assert enc.filing == "unregistered"
    assert _flags(uow, enc.id)[0][0]["decided"] == "unregistered"
    uc.cancel_admission(uow, ctx, WUHAN, enc.id, msgid=None)
    f = fs.take_in(uow, ctx, DISTRICT, fs.FilingIn("temporary", EMPLOYEE, "420100",
                                                   dt.date(2020, 1, 20), covid=True))  # fmt: skip
    fs.decide(uow, ctx, DISTRICT, f.id, approve=True)
    enc = _admit(uow, ctx, WUHAN, "unregistered")
    assert enc.filing == "registered"
    (event,), _ = _flags(uow, enc.id)
    assert (event["claimed"], event["filing_id"]) == ("unregistered", f.id)


def test_a_2501_transfer_filing_links_an_approved_filing(env) -> None:
    uow, ctx = env
    enc = _admit(uow, ctx, HOSPITAL, "not_needed")
    f = fs.take_in(uow, ctx, DISTRICT, fs.FilingIn("referral", EMPLOYEE, "420000",
                                                   dt.date(2020, 1, 24)))  # fmt: skip
    with pytest.raises(InvalidRequest):  # not approved yet
        transfers.file_transfer(uow, ctx, HOSPITAL, insuree_id=EMPLOYEE, encounter_id=enc.id,
                                to_provider="H42010200001", out_of_area_filing=f.id)  # fmt: skip
    fs.decide(uow, ctx, DISTRICT, f.id, approve=True)
    t = transfers.file_transfer(uow, ctx, HOSPITAL, insuree_id=EMPLOYEE, encounter_id=enc.id,
                                to_provider="H42010200001", out_of_area_filing=f.id)  # fmt: skip
    assert t.out_of_area_filing == f.id
    with uow:
        assert uow.deferrals.filing(t.id).filing_id == f.id
