"""The 日报's drug section (药品监测, issue 21): the drug signals by state as of the day
(渝医保发〔2020〕3号 四（四）: 异常变动 及时上报; 短缺线索 及时通报), the open shortage
signals by hospital and drug, and the emergency purchases filed (应急采购备案)."""

from __future__ import annotations

from dataclasses import dataclass

from yibao.services.access.rights import Principal
from yibao.services.drugs import FILING_STATE_NAMES, KIND_NAMES, STATE_NAMES, filings, signals
from yibao.services.reports.daily import Column, Figure, ReportScope, Section, Table, register
from yibao.store.uow import UnitOfWork

__all__ = ["DrugsData", "drugs_section"]

_OPEN = ("new", "investigating")


@dataclass(frozen=True, slots=True)
class DrugsData:
    by_state: dict[str, int]  # signals begun by the day, by state
    new_today: int
    shortages: tuple[tuple[str, str, str], ...]  # open shortage signals: provider, code, since


@register("drugs", "药品监测", 800)
def drugs_section(uow: UnitOfWork, caller: Principal, scope: ReportScope) -> Section:
    if not caller.may("drugs.read"):
        return Section("drugs", "药品监测", notes=("本角色无权查看药品监测",))
    rows = signals(uow, caller, last=scope.day, limit=100_000)
    by_state = {k: sum(1 for s in rows if s.state == k) for k in STATE_NAMES}
    today = sum(1 for s in rows if s.first_day == scope.day)
    short = sorted((s for s in rows if s.kind == "shortage" and s.state in _OPEN),
                   key=lambda s: (s.provider, s.code))  # fmt: skip
    filed = [f for f in filings(uow, caller, limit=100_000) if f.purchased_on <= scope.day]
    figures = (
        Figure("新发现信号", today),
        *(Figure(f"信号（{STATE_NAMES[k]}）", v, brief=k in _OPEN) for k, v in by_state.items()),
        Figure("短缺线索（未结）", len(short)),
        Figure("应急采购备案", len(filed), brief=False),
    )
    signal_rows = tuple(
        (s.first_day, s.last_day, KIND_NAMES[s.kind], s.code, s.provider, s.supplier,
         STATE_NAMES[s.state])
        for s in sorted(rows, key=lambda s: (s.first_day, s.kind, s.code, s.provider))
    )  # fmt: skip
    tables = (
        Table("药品信号", "药品价格与供应信号", (
            Column("首次触发", "date"), Column("最近触发", "date"), Column("类型", width=22),
            Column("药品编码", width=26), Column("医疗机构", width=14),
            Column("配送企业", width=14), Column("状态", width=8)), signal_rows),
        Table("短缺线索", "短缺线索（按医疗机构和药品）", (
            Column("医疗机构", width=14), Column("药品编码", width=26), Column("首次触发", "date"),
            Column("状态", width=8)),
            tuple((s.provider, s.code, s.first_day, STATE_NAMES[s.state]) for s in short)),
        Table("应急采购备案", "应急采购备案", (
            Column("备案号", width=30), Column("医疗机构", width=14), Column("药品编码", width=26),
            Column("供应企业", width=16), Column("采购日期", "date"), Column("状态", width=10)),
            tuple((f.id, f.provider, f.code, f.supplier, f.purchased_on,
                   FILING_STATE_NAMES[f.state]) for f in filed)),
    )  # fmt: skip
    data = DrugsData(by_state, today, tuple((s.provider, s.code, s.first_day.isoformat())
                                            for s in short))  # fmt: skip
    return Section("drugs", "药品监测", figures=figures, tables=tables, data=data)
