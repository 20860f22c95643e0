"""The daily report (日报) as files: an Excel workbook and a plain-text summary
(每日联系) a clerk pastes into a message.

The workbook has a 汇总 sheet (every section's key figures, in section order) and one
sheet per section table (医院, 延迟结算, 待转院, 当日结算, 趋势, and whatever a later
capability's section adds). Amounts are yuan as Excel numbers (``#,##0.00``) written from
exact ``Decimal`` (fen scaled by 10^-2: no float arithmetic here), dates as dates, a
frozen header row, column widths set. ID numbers are as the report holds them: masked
unless it was built ``unmasked`` (the adapter records that disclosure first).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from yibao.services.reports.daily import DailyReport, Figure, Table

__all__ = ["YUAN_FORMAT", "daily_text", "write_daily_workbook", "yuan"]

YUAN_FORMAT = "#,##0.00"
INT_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"
TITLE = "医保日报"


def yuan(fen: int) -> Decimal:
    """Integer fen as exact yuan (``Decimal``: 12345 → 123.45)."""
    return Decimal(int(fen)).scaleb(-2)


def _shown(f: Figure) -> str:
    return f"{yuan(f.value):,.2f} 元" if f.kind == "fen" else f"{f.value:,}"


def daily_text(report: DailyReport) -> str:
    """每日联系: a few lines of Chinese with the key figures (yuan with thousands
    separators), one line per section that has figures for the summary."""
    head = f"{TITLE} {report.day.isoformat()}（累计自 {report.since.isoformat()} 起）"
    lines = [head]
    for s in report.sections:
        shown = [f for f in s.figures if f.brief]
        if shown:
            lines.append(f"{s.title}：" + "，".join(f"{f.label} {_shown(f)}" for f in shown) + "。")
    when = report.generated_at.strftime("%Y-%m-%d %H:%M")
    lines.append(f"（金额取自记账凭证，{when} 北京时间生成）")
    return "\n".join(lines) + "\n"


def write_daily_workbook(report: DailyReport, path: Path | str) -> Path:
    """Write the report's workbook to ``path`` (.xlsx); returns the path."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, NamedStyle

    wb = Workbook(write_only=True)
    styles: dict[str, NamedStyle] = {}
    for name, fmt in (("yuan", YUAN_FORMAT), ("int", INT_FORMAT), ("date", DATE_FORMAT)):
        st = NamedStyle(name=f"yb_{name}", number_format=fmt)
        wb.add_named_style(st)
        styles[name] = st
    bold = NamedStyle(name="yb_head", font=Font(bold=True),
                      alignment=Alignment(horizontal="center", vertical="center"))  # fmt: skip
    wb.add_named_style(bold)
    title_style = NamedStyle(name="yb_title", font=Font(bold=True, size=14))
    wb.add_named_style(title_style)
    section_style = NamedStyle(name="yb_section", font=Font(bold=True))
    wb.add_named_style(section_style)

    def cell(ws: Any, value: Any, style: NamedStyle | None) -> Any:
        c = WriteOnlyCell(ws, value=value)
        if style is not None:
            c.style = style
        return c

    # 汇总
    ws = wb.create_sheet("汇总")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 22
    ws.append([cell(ws, f"{TITLE}（{report.day.isoformat()}）", title_style)])
    ws.append(["报告日期", cell(ws, report.day, styles["date"])])
    ws.append(["累计起始日期", cell(ws, report.since, styles["date"])])
    ws.append(["生成时间（北京时间）", report.generated_at.strftime("%Y-%m-%d %H:%M:%S")])
    ws.append(["身份证号", "完整显示（已记录审计）" if report.unmasked else "已脱敏"])
    for s in report.sections:
        if not s.figures and not s.notes:
            continue
        ws.append([])
        ws.append([cell(ws, s.title, section_style)])
        for f in s.figures:
            if f.kind == "fen":
                ws.append([f.label, cell(ws, yuan(f.value), styles["yuan"]), "元"])
            else:
                ws.append([f.label, cell(ws, f.value, styles["int"])])
        for note in s.notes:
            ws.append([note])

    used = {"汇总"}
    for s in report.sections:
        for t in s.tables:
            _table_sheet(wb, t, used, cell, styles, bold)
    out = Path(path)
    wb.save(out)
    return out


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(c for c in name if c not in "[]:*?/\\")[:31] or "表"
    got, n = base, 2
    while got in used:
        got = f"{base[:28]}({n})"
        n += 1
    used.add(got)
    return got


def _table_sheet(wb: Any, t: Table, used: set[str], cell: Any, styles: dict[str, Any],
                 bold: Any) -> None:  # fmt: skip
    """One table as a sheet. Its cells' styles are copied from one styled cell per kind
    (``_style``, openpyxl's style array): assigning a named style cell by cell costs more
    than the rest of the cell (a 10,000-settlement day has 70,000 amounts)."""
    from copy import copy

    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(_sheet_name(t.name, used))
    ws.freeze_panes = "A2"
    for n, c in enumerate(t.columns, start=1):
        ws.column_dimensions[get_column_letter(n)].width = c.width
    ws.append([cell(ws, c.title, bold) for c in t.columns])
    shape = {kind: cell(ws, None, styles[name]) for kind, name in
             (("fen", "yuan"), ("int", "int"), ("date", "date"))}  # fmt: skip
    kinds = [c.kind for c in t.columns]

    def styled(kind: str, value: Any) -> Any:
        c = WriteOnlyCell(ws, value=value)
        c._style = copy(shape[kind]._style)  # type: ignore[attr-defined]
        return c

    for row in t.rows:
        out: list[Any] = []
        for kind, v in zip(kinds, row, strict=True):
            if kind == "fen" and isinstance(v, int):
                out.append(styled("fen", yuan(v)))
            elif kind == "int" and isinstance(v, int):
                out.append(styled("int", v))
            elif kind == "date" and isinstance(v, dt.date):
                out.append(styled("date", v))
            else:
                out.append("" if v is None else v)
        ws.append(out)
