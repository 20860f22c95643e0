"""今日/日报, 就诊查询, 延迟结算: each calls one service use case and renders it."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from yibao.adapters.web import charts
from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    errors_of,
    page,
    parse_date,
    personal_read,
    redirect,
)
from yibao.adapters.web.formats import BEIJING
from yibao.core.errors import InvalidRequest
from yibao.services.reports.daily import FUNDS, STATUSES, DailyReport, daily_report
from yibao.services.reports.daily_files import daily_text, write_daily_workbook
from yibao.services.reports.stays import STATUSES as STAY_STATUSES
from yibao.services.reports.stays import search_stays, stay_view
from yibao.services.stays.deferred import queue_status, settle_ready

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

MAX_TABLE_ROWS = 200  # on screen; the workbook has them all


def _day(visit: Visit, text: str | None, errors: dict[str, str]) -> dt.date:
    today = visit.now().astimezone(BEIJING).date()
    return parse_date(text, "date", errors) or today


async def _report(visit: Visit, day: dt.date) -> DailyReport:
    ctx = visit.request.app.state.ctx
    return await run_in_threadpool(daily_report, visit.uow, ctx, visit.caller, day)


def _charts(report: DailyReport) -> dict[str, Any]:
    trend = report.trend
    days = [p.day.isoformat() for p in trend]
    status_names = dict(STATUSES)
    patients = charts.lines(
        days,
        [(f"{status_names[s]}在院", [p.in_hospital.get(s, 0) for p in trend]) for s, _ in STATUSES],
        "在院患者趋势",
    )
    spending = charts.bars(
        days,
        [(name, [getattr(p.spent, key) for p in trend]) for key, name in FUNDS],
        "每日基金支出",
    )
    cumulative = report.funds.cumulative
    by_fund = charts.split(
        [(name, getattr(cumulative, key)) for key, name in FUNDS], "累计支出构成"
    )
    return {"chart_patients": patients, "chart_spending": spending, "chart_split": by_fund}


@router.get("/today")
async def today(visit: Signed, date: str | None = None) -> Response:
    errors: dict[str, str] = {}
    day = _day(visit, date, errors)
    report = await _report(visit, day)
    return page(
        visit,
        "today.html",
        {
            "nav": "today",
            "day": day,
            "report": report,
            "errors": errors,
            "text": daily_text(report),
            "max_rows": MAX_TABLE_ROWS,
            "funds": FUNDS,
            **_charts(report),
        },
    )


@router.get("/today/workbook")
async def today_workbook(visit: Signed, date: str | None = None) -> Response:
    errors: dict[str, str] = {}
    day = _day(visit, date, errors)
    report = await _report(visit, day)

    def write() -> bytes:
        with tempfile.TemporaryDirectory(prefix="yibao-daily-") as tmp:
            path = write_daily_workbook(report, Path(tmp) / "daily.xlsx")
            return path.read_bytes()

    body = await run_in_threadpool(write)
    name = f"daily-{day.isoformat()}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/today/text")
async def today_text(visit: Signed, date: str | None = None) -> Response:
    day = _day(visit, date, {})
    report = await _report(visit, day)
    return Response(daily_text(report), media_type="text/plain; charset=utf-8")


# -- 就诊查询 -------------------------------------------------------------------------


@router.get("/stays")
async def stays(
    visit: Signed,
    insuree: str = "",
    provider_code: str = "",
    status: str = "",
    admitted_from: str = "",
    admitted_to: str = "",
    page_no: int = 1,
) -> Response:
    errors: dict[str, str] = {}
    begin = parse_date(admitted_from, "admitted_from", errors)
    end = parse_date(admitted_to, "admitted_to", errors)
    asked = {
        "insuree": insuree,
        "provider_code": provider_code,
        "status": status,
        "admitted_from": admitted_from,
        "admitted_to": admitted_to,
    }
    rows: list[Any] = []
    page_no = max(1, min(page_no, 10_000))
    if not errors:
        try:
            rows = await run_in_threadpool(
                lambda: search_stays(
                    visit.uow,
                    visit.caller,
                    insuree=insuree,
                    provider_code=provider_code,
                    status=status,
                    admitted_from=begin,
                    admitted_to=end,
                    limit=50,
                    offset=50 * (page_no - 1),
                )
            )
        except InvalidRequest as exc:
            errors = errors_of(exc)
    if rows and insuree.strip():
        await personal_read(visit, "insuree", "search", query=f"insuree={insuree}")
    return page(
        visit,
        "stays.html",
        {
            "nav": "stays",
            "rows": rows,
            "asked": asked,
            "errors": errors,
            "statuses": STAY_STATUSES,
            "page_no": page_no,
        },
    )


@router.get("/stays/{encounter_id}")
async def stay(visit: Signed, encounter_id: str) -> Response:
    view = await run_in_threadpool(stay_view, visit.uow, visit.caller, encounter_id)
    await personal_read(visit, "encounter", encounter_id)
    return page(visit, "stay.html", {"nav": "stays", "v": view})


# -- 延迟结算 -------------------------------------------------------------------------


@router.get("/deferred")
async def deferred(visit: Signed) -> Response:
    ctx = visit.request.app.state.ctx
    status = await run_in_threadpool(queue_status, visit.uow, ctx, visit.caller)
    return page(
        visit,
        "deferred.html",
        {"nav": "deferred", "status": status, "may_settle": visit.caller.may("deferred.settle")},
    )


@router.post("/deferred/settle")
async def deferred_settle(visit: Signed, _csrf: Form) -> Response:
    ctx = visit.request.app.state.ctx
    run = await run_in_threadpool(lambda: settle_ready(visit.uow, ctx, visit.caller))
    status = await run_in_threadpool(queue_status, visit.uow, ctx, visit.caller)
    return page(
        visit,
        "deferred.html",
        {"nav": "deferred", "status": status, "run": run, "may_settle": True},
    )


@router.get("/deferred/settle")
async def deferred_settle_get(visit: Signed) -> Response:
    return redirect(visit, f"{PREFIX}/deferred")
