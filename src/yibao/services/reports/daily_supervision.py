"""The 日报's supervision section (基金监管, issue 22): the flags the rules raised on the
day by rule, the day's reviews (confirmed with the amount to recover, dismissed) and the
hospitals' answers, and the queue still to review (渝医保发〔2020〕3号 工作要求（二）:
加强基金监管)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST
from yibao.services.reports.daily import Column, Figure, ReportScope, Section, Table, register
from yibao.services.supervision import rule_set
from yibao.store.uow import UnitOfWork

__all__ = ["SupervisionData", "supervision_section"]


@dataclass(frozen=True, slots=True)
class SupervisionData:
    raised: dict[str, int]  # rule id -> flags raised on the day
    confirmed: int
    recovered_fen: int
    dismissed: int
    answered: int
    waiting: int  # open or answered now


@register("supervision", "基金监管", 900)
def supervision_section(uow: UnitOfWork, caller: Principal, scope: ReportScope) -> Section:
    if not caller.may("supervision.read"):
        return Section("supervision", "基金监管", notes=("本角色无权查看基金监管",))
    begin = dt.datetime.combine(scope.day, dt.time(), CST)
    end = begin + dt.timedelta(days=1)
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        raised = [f for f in uow.supervision.raised_between(begin, end)
                  if provider is None or f.provider_code == provider]  # fmt: skip
        events = uow.supervision.events_between(begin, end)
        waiting = uow.supervision.flags(state=("open", "answered"), provider_code=provider,
                                        limit=100_000)  # fmt: skip
    kinds = Counter(e.kind for e in events)
    recovered = sum(e.amount_fen or 0 for e in events if e.kind == "confirmed")
    by_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for f in raised:
        by_rule[f.rule_id][0] += 1
        by_rule[f.rule_id][1] += f.amount_fen
    rules = rule_set()
    data = SupervisionData({k: v[0] for k, v in by_rule.items()}, kinds["confirmed"], recovered,
                           kinds["dismissed"], kinds["answered"], len(waiting))  # fmt: skip
    figures = (
        Figure("新增疑点", len(raised)),
        Figure("确认违规", kinds["confirmed"]),
        Figure("追回（扣款）金额", recovered, "fen"),
        Figure("排除疑点", kinds["dismissed"], brief=False),
        Figure("医院答复", kinds["answered"], brief=False),
        Figure("待审核疑点", len(waiting)),
    )
    rows = tuple((rid, r.title if (r := rules.rule(rid)) else rid, n, fen)
                 for rid, (n, fen) in sorted(by_rule.items()))  # fmt: skip
    table = Table("基金监管", "当日新增疑点（按规则）", (
        Column("规则", width=28), Column("规则名称", width=36), Column("疑点数", "int", 10),
        Column("涉及金额（元）", "fen", 16)), rows)  # fmt: skip
    return Section("supervision", "基金监管", figures=figures, tables=(table,), data=data)
