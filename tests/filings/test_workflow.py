"""异地就医备案 through both channels, on both databases, with each step's clock over the
2020 Spring Festival (extended to 2020-02-02): a COVID filing is due 24 hours later,
holidays included (渝医保发〔2020〕3号 四（一）); another one at the close of the fifth
working day."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.deferred.helpers import Clock
from tests.registry_data import DIBAO, EMPLOYEE, load_examples
from yibao.core.errors import Conflict, Forbidden, InvalidRequest
from yibao.core.workdays import BEIJING
from yibao.packs import shipped_pack
from yibao.services import filings as fs
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.services.reports.daily import ReportScope
from yibao.services.reports.daily_filings import filings_section
from yibao.store.uow import UnitOfWork

TOWNSHIP = Principal("t1", "township_clerk", None, "500102001", "user")  # 张三丰's township
OTHER_TOWNSHIP = Principal("t9", "township_clerk", None, "500102009", "user")  # 李秀英's
DISTRICT = Principal("d1", "district_clerk", None, None, "user")
AUDITOR = Principal("a1", "auditor", None, None, "user")


def at(month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(2020, month, day, hour, 0, tzinfo=BEIJING)


class SetClock(Clock):
    """A clock that stands where it is set."""

    def __call__(self) -> dt.datetime:
        return self.t

    def set(self, t: dt.datetime) -> None:
        self.t = t


@pytest.fixture
def env(uow: UnitOfWork) -> tuple[UnitOfWork, Context, SetClock]:
    load_examples(uow, "providers", "insurees")
    clock = SetClock(at(1, 24, 10))
    return uow, Context(Context.from_folder(shipped_pack("cq-2020")).packs, clock=clock), clock


def test_township_channel_covid_filing_due_in_24_hours_over_the_holiday(env) -> None:
    uow, ctx, clock = env
    clock.set(at(1, 24, 10))  # 除夕, a holiday
    cmd = fs.FilingIn("temporary", EMPLOYEE, "420100", dt.date(2020, 1, 24), covid=True,
                      submitted_at=at(1, 24, 9))  # fmt: skip
    f = fs.take_in(uow, ctx, TOWNSHIP, cmd)
    assert (f.state, f.channel, f.township) == ("accepted", "township", "500102001")
    assert f.due_at == at(1, 25, 10)  # holidays included
    assert [s.kind for s in f.steps] == ["submitted", "accepted"]
    assert f.steps[1].clause == "渝医保发〔2020〕3号 四（一）"
    assert f.insuree_id == EMPLOYEE  # a township clerk sees its own insurees
    with pytest.raises(Forbidden):  # another township's clerk neither sees nor acts
        fs.filing(uow, ctx, OTHER_TOWNSHIP, f.id)
    with pytest.raises(Forbidden):
        fs.forward(uow, ctx, OTHER_TOWNSHIP, f.id)
    with pytest.raises(Forbidden):  # a township does not decide
        fs.decide(uow, ctx, TOWNSHIP, f.id, approve=True)
    clock.set(at(1, 26, 11))  # 初二: forwarded after its due time
    assert [q.id for q in fs.queue(uow, ctx, DISTRICT, overdue=True)] == [f.id]
    f = fs.forward(uow, ctx, TOWNSHIP, f.id)
    assert (f.state, f.due_at) == ("forwarded", at(1, 27, 11))
    assert fs.queue(uow, ctx, DISTRICT, overdue=True) == []
    with pytest.raises(InvalidRequest):  # a refusal says why
        fs.decide(uow, ctx, DISTRICT, f.id, approve=False, reason=" ")
    clock.set(at(1, 26, 20))
    f = fs.decide(uow, ctx, DISTRICT, f.id, approve=True)
    assert (f.state, f.due_at, f.overdue) == ("approved", None, False)
    assert [(s.state_from, s.state_to, s.actor) for s in f.steps] == [
        (None, "submitted", "user:t1"), ("submitted", "accepted", "user:t1"),
        ("accepted", "forwarded", "user:t1"), ("forwarded", "approved", "user:d1"),
    ]  # fmt: skip
    assert fs.decide(uow, ctx, DISTRICT, f.id, approve=True).version == f.version  # a retry
    with pytest.raises(Conflict):
        fs.decide(uow, ctx, DISTRICT, f.id, approve=False, reason="迟到")
    f = fs.revoke(uow, ctx, DISTRICT, f.id, reason="参保人申请撤销")
    assert f.state == "revoked"
    assert f.steps[-1].reason == "参保人申请撤销"
    assert fs.filing(uow, ctx, AUDITOR, f.id).insuree_id != EMPLOYEE  # masked
    with uow, pytest.raises(DBAPIError, match="append-only"):  # the history is never rewritten
        uow.session.execute(text("UPDATE filing_events SET actor = 'x'"))


def test_district_channel_other_filing_due_on_the_fifth_working_day(env) -> None:
    uow, ctx, clock = env
    clock.set(at(1, 23, 15))  # the last working day before the Spring Festival
    cmd = fs.FilingIn("resettled", DIBAO, "440300", dt.date(2020, 2, 1),
                      dest_providers=("H44030000001",))  # fmt: skip
    f = fs.take_in(uow, ctx, DISTRICT, cmd)
    assert f.channel == "district"
    assert f.steps[1].clause == "示例"
    # working days after 01-23: 02-03, 02-04, 02-05, 02-06, 02-07 (holiday to 02-02)
    assert f.due_at == dt.datetime(2020, 2, 7, 23, 59, 59, tzinfo=BEIJING)
    with pytest.raises(Conflict):  # the district's own intake is not forwarded
        fs.forward(uow, ctx, DISTRICT, f.id)
    clock.set(at(2, 8, 9))
    assert [q.id for q in fs.queue(uow, ctx, DISTRICT, overdue=True)] == [f.id]
    assert fs.queue(uow, ctx, TOWNSHIP) == []  # not its township's
    f = fs.decide(uow, ctx, DISTRICT, f.id, approve=False, reason="材料不全")
    assert f.state == "refused"
    assert f.steps[-1].reason == "材料不全"
    with pytest.raises(InvalidRequest):  # not ours: filed at the insured place
        fs.take_in(uow, ctx, DISTRICT, fs.FilingIn("temporary", "420102198001010018",
                                                   "500102", dt.date(2020, 2, 1)))  # fmt: skip


def test_the_daily_report_counts_filings_by_township(env) -> None:
    uow, ctx, clock = env
    clock.set(at(1, 24, 10))
    a = fs.take_in(uow, ctx, TOWNSHIP, fs.FilingIn("temporary", EMPLOYEE, "420100",
                                                  dt.date(2020, 1, 24), covid=True))  # fmt: skip
    fs.take_in(uow, ctx, DISTRICT, fs.FilingIn("resettled", DIBAO, "440300", dt.date(2020, 2, 1)))
    clock.set(at(1, 25, 12))
    fs.forward(uow, ctx, TOWNSHIP, a.id)

    def figures(day: dt.date, who: Principal = DISTRICT) -> dict[str, int]:
        scope = ReportScope(day, dt.date(2020, 1, 23), ctx.packs)
        return {f.label: f.value for f in filings_section(uow, who, scope).figures}

    assert figures(dt.date(2020, 1, 24)) == {"当日受理": 2, "当日报送": 0, "当日核准": 0,
                                            "当日不予备案": 0, "办理中": 2, "超期": 0}  # fmt: skip
    assert figures(dt.date(2020, 1, 25))["当日报送"] == 1
    assert figures(dt.date(2020, 1, 26))["超期"] == 1  # the forwarded one, due 01-26 12:00
    assert figures(dt.date(2020, 1, 26), TOWNSHIP)["办理中"] == 1  # its own township only
