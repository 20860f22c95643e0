"""The daily report (日报) on both databases: on the demo district after a small
simulated epidemic, the workbook's figures equal the ledger's to the fen (summed here
from the journal's postings, independently of the report's own reads); sections come
from a registry; ID numbers are masked unless a role that may see them asks."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from yibao.core.errors import Forbidden, InvalidRequest
from yibao.core.ledger import post
from yibao.core.ledger.accounts import ADVANCE, ADVANCE_RECEIVABLE
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.services.reports import daily as d
from yibao.services.reports.daily_files import daily_text, write_daily_workbook
from yibao.services.reports.reads import ledger_problems
from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.epidemic import live_through_epidemic
from yibao.store.uow import UnitOfWork

CLERK = Principal("k-clerk", "clerk", None)
AUDITOR = Principal("k-auditor", "auditor", None)
HOSPITAL = Principal("k-h", "hospital", "H50010200001")
INSUREES = 700
SCALE = 0.1
SINCE = dt.date(2020, 1, 23)
ID18 = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
MASKED = re.compile(r"^\d{6}\*{8}[\dX*]{4}$")


def _ctx() -> Context:
    return Context.from_folder(PACKS_DIR)


@pytest.fixture
def demo(uow: UnitOfWork) -> UnitOfWork:
    load_demo(uow, insurees=INSUREES)
    e = live_through_epidemic(uow, _ctx(), insurees=INSUREES, scale=SCALE)
    assert e.refused == []
    assert e.settled > 20
    assert e.transfers > 0
    return uow


def _fen(v: Any) -> int:
    """A workbook number (yuan) back to fen, exactly."""
    got = Decimal(str(v)) * 100
    assert got == got.to_integral_value(), v
    return int(got)


def _summary(ws: Any) -> dict[str, Any]:
    return {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0] and len(r) > 1}


def test_the_daily_report_on_the_demo_epidemic(demo: UnitOfWork, tmp_path: Path) -> None:
    """One demo load per database (the slow part), three checks on it."""
    _the_workbook_equals_the_ledger_on_the_busiest_day(demo, tmp_path)
    _patients_count_what_the_stays_say(demo)
    _roles_and_unmasked(demo)


def _the_workbook_equals_the_ledger_on_the_busiest_day(demo: UnitOfWork, tmp_path: Path) -> None:
    ctx = _ctx()
    with demo:
        txs = demo.hospital.transactions()
    paid = [t for t in txs if t.kind in ("settlement", "reversal")]
    day = Counter(t.booked_on for t in paid).most_common(1)[0][0]

    def sums(chosen: list[Any]) -> dict[str, int]:
        out = dict.fromkeys(("basic", "serious", "assistance", "fiscal", "account", "cash"), 0)
        for t in chosen:
            p = post.posted_amounts(t)  # the core's reading of each transaction
            out["basic"] += p.hifp_pay
            out["serious"] += p.serious_pay
            out["assistance"] += p.maf_pay
            out["fiscal"] += p.fiscal_pay
            out["account"] += p.acct_pay
            out["cash"] += p.psn_cash_pay
        return out

    today = sums([t for t in paid if t.booked_on == day])
    since = sums([t for t in paid if SINCE <= t.booked_on <= day])
    book = (ADVANCE_RECEIVABLE.code, ADVANCE)
    advance = sum(p.amount_fen for t in txs if t.booked_on <= day for p in t.postings
                  if (p.account.code, p.account.book) == book)  # fmt: skip
    assert sum(today.values()) > 0

    report = d.daily_report(demo, ctx, CLERK, day, since=SINCE)
    path = write_daily_workbook(report, tmp_path / "daily.xlsx")
    wb = openpyxl.load_workbook(path)
    summary = _summary(wb["汇总"])
    for key, zh in d.FUNDS:
        assert _fen(summary[f"当日{zh}"]) == today[key], zh
        assert _fen(summary[f"累计{zh}"]) == since[key], zh
    assert _fen(summary["当日合计"]) == sum(today.values())
    assert _fen(summary["医院垫付余额"]) == advance
    n = Counter(t.kind for t in paid if t.booked_on == day)
    assert (summary["当日结算笔数"], summary["当日撤销笔数"]) == (n["settlement"], n["reversal"])

    # the hospitals' sheet: its total row, and the day's settlements: their sum
    rows = list(wb["医院"].iter_rows(values_only=True))
    head, total = rows[0], rows[-1]
    assert total[0] == "合计"
    for key, zh in d.FUNDS:
        assert _fen(total[head.index(f"{zh}（元）")]) == today[key]
    lines = list(wb["当日结算"].iter_rows(values_only=True))
    assert len(lines) - 1 == n["settlement"] + n["reversal"]
    col = lines[0].index("合计（元）")
    assert sum(_fen(r[col]) for r in lines[1:]) == sum(today.values())

    # the deferred queue's open advances agree with the ledger's balance
    assert report.queue.queued_fen == report.queue.advance_fen == advance
    # the trend's last day is the day's spending; the text names the day's total
    assert report.trend[-1].spent == report.funds.day
    assert f"{Decimal(sum(today.values())).scaleb(-2):,.2f}" in daily_text(report)

    # ID numbers masked everywhere in the workbook
    ids = [r[lines[0].index("身份证号")] for r in lines[1:]]
    assert ids
    assert all(MASKED.match(v) for v in ids)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and ID18.search(v) for v in row), ws.title
    assert ledger_problems(demo, ctx.packs) == []


def _patients_count_what_the_stays_say(demo: UnitOfWork) -> None:
    day = dt.date(2020, 2, 10)
    report = d.daily_report(demo, _ctx(), CLERK, day, since=SINCE)
    with demo:
        rows = demo.hospital.stays_between(dt.date(2000, 1, 1), day)
    codes = frozenset(c for p in _ctx().packs for v in p.overlay for c in v.disease_codes)
    for status, _ in d.STATUSES:
        mine = [r for r in rows if d.covid_status(r.covid_status, r.diagnoses, codes) == status]
        inside = [r for r in mine if r.discharge_date is None or r.discharge_date > day]
        got = report.patients.total[status]
        assert got.admitted == sum(r.admit_date == day for r in mine)
        assert got.in_hospital == len(inside) == report.trend[-1].in_hospital[status]
        assert got.discharged == sum(r.discharge_date == day for r in mine)
    assert sum(p.in_hospital["confirmed"] for p in report.trend) > 0


def _roles_and_unmasked(demo: UnitOfWork) -> None:
    ctx, day = _ctx(), dt.date(2020, 2, 12)
    with pytest.raises(Forbidden):
        d.daily_report(demo, ctx, HOSPITAL, day)
    with pytest.raises(Forbidden):
        d.daily_report(demo, ctx, AUDITOR, day, unmasked=True)
    masked = d.daily_report(demo, ctx, AUDITOR, day)
    full = d.daily_report(demo, ctx, CLERK, day, unmasked=True)
    assert [s.insuree for s in masked.settlements] != [s.insuree for s in full.settlements]
    assert all(ID18.fullmatch(s.insuree) for s in full.settlements)
    assert all(MASKED.match(s.insuree) for s in masked.settlements)


def test_sections_come_from_the_registry(uow: UnitOfWork, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(d, "SECTIONS", dict(d.SECTIONS))

    @d.register("flags", "监管提示", 650)
    def flags(_uow: UnitOfWork, _caller: Principal, scope: d.ReportScope) -> d.Section:
        table = d.Table("监管提示", "监管提示", (d.Column("日期", "date"), d.Column("金额", "fen")),
                        ((scope.day, 12345),))  # fmt: skip
        return d.Section("flags", "监管提示", (d.Figure("提示条数", 1),), (table,))

    with pytest.raises(ValueError, match="twice"):
        d.register("flags", "again", 1)(flags)
    day = dt.date(2020, 2, 1)
    report = d.daily_report(uow, _ctx(), CLERK, day)
    names = [s.name for s in report.sections]
    core = ["patients", "funds", "hospitals", "deferred", "transfers", "settlements"]
    assert names[:6] == core  # the core sections first, in their order
    assert names.index("flags") == 6  # registered at 650: after settlements, before trend
    assert names[7] == "trend"
    # every registered section, in its order: the capabilities' own ones (手工报销, 药品监测 …)
    assert names == [p.name for p in sorted(d.SECTIONS.values(), key=lambda p: p.order)]
    assert {"claims", "drugs"} <= set(names)
    assert report.since == dt.date(2020, 1, 23)  # the packs' first overlay day
    assert "监管提示：提示条数 1。" in daily_text(report)
    wb = openpyxl.load_workbook(write_daily_workbook(report, tmp_path / "r.xlsx"))
    ws = wb["监管提示"]
    assert ws.freeze_panes == "A2"
    cell = ws["B2"]
    assert (cell.value, cell.number_format) == (123.45, "#,##0.00")
    assert ws["A2"].value.date() == day
    assert ws["A2"].number_format == "yyyy-mm-dd"
    only = d.daily_report(uow, _ctx(), CLERK, day, sections=["flags"])
    assert [s.name for s in only.sections] == ["flags"]
    with pytest.raises(InvalidRequest):
        d.daily_report(uow, _ctx(), CLERK, day, sections=["nope"])
