"""Supervision reports (issue 22): flags by rule, hospital and month (counts, amounts at
risk, recovered — integer fen), and the workbook (Excel) of the summary and the flags.
Yuan appear only in the workbook's cells."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from yibao.services.access.rights import Principal, require
from yibao.store.uow import UnitOfWork

__all__ = ["CountRow", "flag_counts", "write_workbook"]

STATE_ZH = {
    "open": "待审核",
    "answered": "医院已答复",
    "confirmed": "已确认",
    "dismissed": "已排除",
}


@dataclass(frozen=True, slots=True)
class CountRow:
    rule_id: str
    provider_code: str
    month: str
    state: str
    flags: int
    amount_fen: int
    recovered_fen: int


def flag_counts(uow: UnitOfWork, caller: Principal, *, begin: str | None = None,
                end: str | None = None) -> list[CountRow]:  # fmt: skip
    """Flags per rule, hospital, month (yyyy-mm, inclusive bounds) and state; a hospital
    sees its own."""
    require(caller, "supervision.read")
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        rows = uow.supervision.counts(begin=begin, end=end, provider_code=provider)
    return [CountRow(r.rule_id, r.provider_code, r.month, r.state, r.flags, int(r.amount_fen),
                     int(r.recovered_fen)) for r in rows]  # fmt: skip


def write_workbook(path: Path, counts: list[CountRow], flags: list[Any]) -> Path:
    """汇总 (by rule, hospital, month, state) and 疑点明细 (each flag) as .xlsx."""
    from openpyxl import Workbook

    from yibao.core.money import yuan_from_fen
    from yibao.services.supervision.flags import rule_set

    rules = rule_set()

    def title(rule_id: str) -> str:
        r = rules.rule(rule_id)
        return r.title if r else rule_id

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("汇总")
    ws.append(["规则", "规则名称", "医院编码", "月份", "状态", "疑点数", "涉及金额（元）",
               "追回金额（元）"])  # fmt: skip
    for c in counts:
        ws.append([c.rule_id, title(c.rule_id), c.provider_code, c.month,
                   STATE_ZH.get(c.state, c.state), c.flags, Decimal(yuan_from_fen(c.amount_fen)),
                   Decimal(yuan_from_fen(c.recovered_fen))])  # fmt: skip
    ws = wb.create_sheet("疑点明细")
    ws.append(["疑点编号", "规则", "规则名称", "严重程度", "对象", "就诊号", "医院编码", "日期",
               "涉及金额（元）", "状态", "追回金额（元）", "扣款凭证", "依据"])  # fmt: skip
    for f in flags:
        r = rules.rule(f.rule_id)
        ws.append([f.id, f.rule_id, title(f.rule_id), f.severity,
                   "住院" if f.subject == "stay" else "医院", f.encounter_id or "",
                   f.provider_code, f.on, Decimal(yuan_from_fen(f.amount_fen)),
                   STATE_ZH.get(f.state, f.state),
                   Decimal(yuan_from_fen(f.recovered_fen or 0)), f.deduction_tx_id or "",
                   r.clause if r else ""])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
