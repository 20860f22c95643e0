"""The monthly statements as a workbook (openpyxl): one sheet with a row per hospital
and fund book, amounts in yuan as exact Decimals (fen in the books)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from yibao.core.engine.funds import FUND_NAMES
from yibao.core.ledger.accounts import book_name
from yibao.services.funds.clearing import STATE_NAMES, StatementView

__all__ = ["write_statements"]

_HEAD = ("结算单号", "定点医疗机构", "月份", "状态", "基金", "普通结算（元）", "新冠单列（元）",
         "违规扣款（元）", "预付冲抵（元）", "应拨付（元）")  # fmt: skip


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def write_statements(path: Path, statements: Sequence[StatementView]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "月度结算单"
    ws.append(_HEAD)
    for s in statements:
        for ln in s.lines:
            ws.append((s.id, s.provider_code, s.month.strftime("%Y-%m"), STATE_NAMES[s.state],
                       FUND_NAMES.get(ln.book) or book_name(ln.book), _yuan(ln.owed_ordinary_fen),
                       _yuan(ln.owed_covid_fen), _yuan(ln.deduction_fen), _yuan(ln.offset_fen),
                       _yuan(ln.net_fen)))  # fmt: skip
        ws.append((s.id, s.provider_code, s.month.strftime("%Y-%m"), STATE_NAMES[s.state], "合计",
                   _yuan(s.owed_ordinary_fen), _yuan(s.owed_covid_fen), _yuan(s.deduction_fen),
                   _yuan(s.offset_fen), _yuan(s.net_fen)))  # fmt: skip
    for col in "FGHIJ":
        for cell in ws[col][1:]:
            cell.number_format = "#,##0.00"
    wb.save(path)
