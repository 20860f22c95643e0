"""The drug report for the provincial bureau (药品价格和供应监测情况报表): an Excel
workbook of the watch list, the signals of a period with their state and who moved
them, the emergency purchases filed, and each watched drug's daily median price,
quantity and delivery rate. Prices are yuan written from exact ``Decimal`` (price_e6
scaled by 10^-6), quantities units (qty_e4 by 10^-4), rates percent (bp by 10^-2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from yibao.services.access.rights import Principal, require
from yibao.services.drugs.charts import series_frame
from yibao.services.drugs.emergency import FILING_STATE_NAMES, filings
from yibao.services.drugs.monitoring import KIND_NAMES, STATE_NAMES, signals
from yibao.services.drugs.procurement import orders_frame
from yibao.services.drugs.rules import monitoring_rules
from yibao.services.drugs.watchlist import watch_list
from yibao.store.uow import UnitOfWork

__all__ = ["shown", "write_report"]

_SCALE = {"price_e6": -6, "qty_e4": -4, "rate_bp": -2, "days_e2": -2}


def shown(value: int | None, measure: str) -> Decimal | None:
    """An integer in ``measure`` as the exact number a person reads (yuan, units, %)."""
    return None if value is None else Decimal(int(value)).scaleb(_SCALE[measure])


def write_report(uow: UnitOfWork, caller: Principal, start: dt.date, end: dt.date,
                 path: Path) -> Path:  # fmt: skip
    """Write the report of ``start`` … ``end`` to ``path`` (.xlsx)."""
    from openpyxl import Workbook

    require(caller, "drugs.read")
    rules = monitoring_rules(end)
    watched = watch_list(uow, end, rules)
    found = signals(uow, caller, first=start, last=end, limit=100_000)
    filed = filings(uow, caller, limit=100_000)
    with uow:
        rows = uow.drugs.orders(start, end, [w.code for w in watched])
    daily = series_frame(orders_frame(rows), start, end, rules.signals.delivery.due_days)
    wb = Workbook(write_only=True)
    unit = {"price_e6": "元", "rate_bp": "%", "days_e2": "天",
            "qty_e4": f"数量（{rules.signals.quantity.window_days} 天合计）"}  # fmt: skip
    _sheet(wb, "监测药品", ["药品编码", "诊疗方案名称", "通用名", "剂型", "版次", "限价(元)"],
           [[w.code, w.name, w.generic, w.form or "", w.edition,
             shown(w.listed_price_e6, "price_e6")] for w in watched])  # fmt: skip
    _sheet(wb, "信号", ["编号", "类型", "药品编码", "医疗机构", "配送企业", "首次触发",
                      "最近触发", "触发天数", "数值", "参照", "单位", "状态", "条款"],
           [[s.id, KIND_NAMES[s.kind], s.code, s.provider, s.supplier, s.first_day,
             s.last_day, s.days, shown(s.value, s.measure), shown(s.reference, s.measure),
             unit[s.measure], STATE_NAMES[s.state], s.clause] for s in found])  # fmt: skip
    _sheet(wb, "应急采购备案", ["备案号", "医疗机构", "药品编码", "供应企业", "采购单价(元)",
                          "数量", "采购日期", "理由", "状态"],
           [[f.id, f.provider, f.code, f.supplier, shown(f.price_e6, "price_e6"),
             shown(f.qty_e4, "qty_e4"), f.purchased_on, f.reason,
             FILING_STATE_NAMES[f.state]] for f in filed])  # fmt: skip
    _sheet(wb, "逐日价格与配送", ["药品编码", "日期", "采购价中位数(元)", "采购数量", "配送率(%)"],
           [[r["code"], r["day"], shown(r["price_e6"], "price_e6"), shown(r["qty_e4"], "qty_e4"),
             shown(r["rate_bp"], "rate_bp")] for r in daily.iter_rows(named=True)])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _sheet(wb: Any, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    ws.append(header)
    for r in rows:
        ws.append(r)
