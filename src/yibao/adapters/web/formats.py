"""The console's filters, defined once (STYLE §7): money as yuan from integer fen with
two decimals and thousands separators (integer arithmetic, never a float), ratios from
basis points, dates YYYY-MM-DD, times in Beijing time, the Chinese names of statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["BEIJING", "FILTERS", "beijing", "bp", "day", "label", "yuan"]

BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


def yuan(fen: int | None) -> str:
    """``123456789`` fen -> ``1,234,567.89``; a negative amount keeps its sign."""
    if fen is None:
        return "—"
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"yuan() takes integer fen, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def bp(value: int | None) -> str:
    """Basis points as a percentage: ``8500`` -> ``85.00%``."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value), 100)
    return f"{sign}{whole}.{rest:02d}%"


def beijing(t: dt.datetime | None) -> str:
    """A time in Beijing time, ``YYYY-MM-DD HH:MM`` (a time without a zone is UTC)."""
    if t is None:
        return "—"
    aware = t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def day(d: dt.date | None) -> str:
    """A date as ``YYYY-MM-DD``."""
    return "—" if d is None else d.strftime("%Y-%m-%d")


LABELS = {
    "admitted": "在院",
    "discharged": "已出院",
    "settled": "已结算",
    "cancelled": "已撤销",
    "deferred": "延迟结算",
    "confirmed": "确诊",
    "suspected": "疑似",
    "none": "—",
    "settlement": "结算",
    "reversal": "冲销",
    "presettlement": "预结算",
    "not_enrolled": "参保信息未导入",
    "offline": "系统中断",
    "awaiting_transfer": "等待转出医院结算",
    "drug": "药品",
    "service": "诊疗项目",
    "consumable": "耗材",
    "bed": "床位",
    "other": "其他",
    "discharge_undone": "撤销出院",
    "admission_cancelled": "撤销入院",
    "fees_uploaded": "上传费用",
    "fees_cancelled": "撤销费用",
    "reversed": "结算冲销",
    "employee": "职工",
    "resident": "居民",
}


def label(value: Any) -> str:
    """The Chinese name of a status, kind or reason (the value itself when unknown)."""
    if value is None:
        return "—"
    return LABELS.get(str(value), str(value))


FILTERS = {"yuan": yuan, "bp": bp, "bj": beijing, "day": day, "label": label}
