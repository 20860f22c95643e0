"""The 日报's filings section (异地就医备案, issue 18; docs/FILINGS.md): filings received,
forwarded and decided on the day, open and overdue at its end — in total and by township
(涪医保发〔2020〕6号 三: the townships take filings in and forward them, the district
decides; 渝医保发〔2020〕3号 四（一）: answered at once, holidays included)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST
from yibao.services.reports.daily import Column, Figure, ReportScope, Section, Table, register
from yibao.store.uow import UnitOfWork

__all__ = ["filings_section"]

_TITLE = "异地就医备案"
_OPEN = ("submitted", "accepted", "forwarded")


def _utc(t: dt.datetime) -> dt.datetime:
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@register("filings", _TITLE, 720)
def filings_section(uow: UnitOfWork, caller: Principal, scope: ReportScope) -> Section:
    if not caller.may("filing.read"):
        return Section("filings", _TITLE, notes=("本角色无权查看异地就医备案",))
    begin = dt.datetime.combine(scope.day, dt.time(0), CST).astimezone(dt.UTC)
    end = begin + dt.timedelta(days=1)
    town: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    last: dict[str, tuple[str, str, dt.datetime | None]] = {}  # filing -> township, state, due
    with uow:
        for e in uow.filings.events_between(None, end):
            t = e.township or "—"
            last[e.filing_id] = (t, e.state_to, _utc(e.due_at) if e.due_at else None)
            if _utc(e.at) < begin:
                continue
            if e.kind == "submitted":
                town[t][0] += 1
            elif e.kind == "forwarded":
                town[t][1] += 1
            elif e.kind in ("approved", "refused"):
                town[t][2 if e.kind == "approved" else 3] += 1
    for t, state, due_at in last.values():
        if state in _OPEN:
            town[t][4] += 1
            if due_at is not None and due_at < end:
                town[t][5] += 1
    if caller.role == "township_clerk":  # its own township only
        town = defaultdict(lambda: [0] * 6, {k: v for k, v in town.items()
                                             if k == caller.township_code})  # fmt: skip
    tot = [sum(v[k] for v in town.values()) for k in range(6)]
    rows = tuple((t, *v) for t, v in sorted(town.items()))
    cols = (Column("乡镇"), Column("当日受理", "int"), Column("当日报送", "int"),
            Column("当日核准", "int"), Column("当日不予备案", "int"), Column("办理中", "int"),
            Column("超期", "int"))  # fmt: skip
    return Section(
        "filings",
        _TITLE,
        figures=(
            Figure("当日受理", tot[0]),
            Figure("当日报送", tot[1]),
            Figure("当日核准", tot[2]),
            Figure("当日不予备案", tot[3]),
            Figure("办理中", tot[4]),
            Figure("超期", tot[5]),
        ),
        tables=(Table(_TITLE, "异地就医备案（按乡镇）", cols, rows),),
        notes=(
            "超期：当日结束时仍在办理且已过该环节办理时限（政策包 filing_limits；新冠备案 24 小时，"
            "节假日照常）的备案",
        ),
    )
