"""药品监测 (issue 21, docs/DRUGS.md): each watched drug's price, volume and delivery-rate
charts (server-rendered SVG), the signal list, a signal with its evidence and the state
change forms (调查 / 上报 / 排除 with a reason), and the emergency-purchase filings with
the agency's accept/refuse forms. Thin pages over ``yibao.services.drugs``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from markupsafe import Markup

from yibao.adapters.web import charts
from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    errors_of,
    page,
    redirect,
)
from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.services import drugs
from yibao.services.access.rights import Principal, require

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
__all__ = ["router"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_DAYS = 35
ACTIONS = {"investigate": "开始调查", "report": "上报", "dismiss": "排除"}
UNITS = {"price_e6": "元", "qty_e4": "（数量）", "rate_bp": "%", "days_e2": "天"}


def _reader(visit: Visit) -> Principal:
    caller = visit.caller
    require(caller, "drugs.read")
    return caller


def _text(form: Any, name: str) -> str:
    v = form.get(name)
    return v if isinstance(v, str) else ""


def _filled(values: tuple[int | None, ...]) -> list[int]:
    """Days without a value carry the day before's (the charts draw a step, not a dip)."""
    out: list[int] = []
    last = 0
    for v in values:
        last = last if v is None else v
        out.append(last)
    return out


def _scaled(value: int | None, measure: str) -> str:
    """An integer in ``measure`` as text (exact decimal places, no float)."""
    if value is None:
        return "—"
    places = {"price_e6": 6, "qty_e4": 4, "rate_bp": 2, "days_e2": 2}[measure]
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    text = f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")
    return f"{sign}{text}"


def _drug_charts(s: drugs.DrugSeries) -> dict[str, Markup]:
    days = [d.isoformat() for d in s.days]
    price_fen = [v // 10_000 for v in _filled(s.price_e6)]
    qty = [v // 10_000 for v in s.qty_e4]
    rate = [v // 100 for v in _filled(s.rate_bp)]
    return {
        "price": charts.lines(days, [("采购价中位数（分）", price_fen)], f"{s.code} 采购价"),
        "volume": charts.lines(days, [("采购数量", qty)], f"{s.code} 采购数量"),
        "rate": charts.lines(days, [("按时配送率（%）", rate)], f"{s.code} 配送率"),
    }


@router.get("/drugs")
async def overview(visit: Signed, to: str = "") -> Response:
    caller = _reader(visit)

    def read() -> dict[str, Any]:
        uow = visit.uow
        with uow:
            _, last_order = uow.drugs.order_span()
        try:
            end = dt.date.fromisoformat(to) if to else (last_order or visit.now().date())
        except ValueError:
            end = last_order or visit.now().date()
        start = end - dt.timedelta(days=_DAYS - 1)
        watched = drugs.watch_list(uow, end)
        open_ = drugs.signals(uow, caller, states=["new", "investigating"], limit=1000)
        per_code: dict[str, int] = {}
        for s in open_:
            per_code[s.code] = per_code.get(s.code, 0) + 1
        rows = []
        for w in watched:
            series = drugs.drug_series(uow, caller, w.code, start, end)
            rows.append(
                {"drug": w, "charts": _drug_charts(series), "open": per_code.get(w.code, 0)}
            )
        return {"rows": rows, "start": start, "end": end, "open": len(open_)}

    ctx = await run_in_threadpool(read)
    return page(visit, "drugs.html", {"nav": "drugs", **ctx})


@router.get("/drugs/signals")
async def signal_list(visit: Signed, state: str = "", kind: str = "") -> Response:
    caller = _reader(visit)
    states = [state] if state in drugs.STATE_NAMES else None
    kinds = [kind] if kind in drugs.KIND_NAMES else None
    found = await run_in_threadpool(
        lambda: drugs.signals(visit.uow, caller, states=states, kinds=kinds, limit=500)
    )
    return page(visit, "drug_signals.html", {
        "nav": "drugs", "signals": found, "kinds": drugs.KIND_NAMES,
        "states": drugs.STATE_NAMES, "asked": {"state": state, "kind": kind},
        "show": _scaled,
    })  # fmt: skip


async def _signal_page(visit: Visit, signal_id: str, *, status: int = 200,
                       errors: dict[str, str] | None = None,
                       asked: dict[str, str] | None = None) -> Response:  # fmt: skip
    caller = _reader(visit)
    if not _ID.match(signal_id):
        raise NotFound(f"信号 {signal_id[:40]} 不存在")
    s = await run_in_threadpool(lambda: drugs.signal(visit.uow, caller, signal_id))
    days = [e["day"] for e in s.evidence]
    scale = {"price_e6": 10_000, "qty_e4": 10_000, "rate_bp": 100, "days_e2": 100}[s.measure]
    unit = {"price_e6": "分", "qty_e4": "数量", "rate_bp": "%", "days_e2": "天"}[s.measure]
    values = [max(0, (e["value"] or 0) // scale) for e in s.evidence]
    refs = [max(0, (e["reference"] or 0) // scale) for e in s.evidence]
    chart = charts.lines(days, [(f"数值（{unit}）", values), (f"参照（{unit}）", refs)],
                         f"信号 {s.id} 证据")  # fmt: skip
    steps = [{**e, "at": dt.datetime.fromisoformat(e["at"])} for e in s.steps]
    return page(visit, "drug_signal.html", {
        "nav": "drugs", "s": s, "steps": steps, "chart": chart, "kinds": drugs.KIND_NAMES,
        "states": drugs.STATE_NAMES, "actions": ACTIONS, "show": _scaled, "units": UNITS,
        "may_move": caller.may("drugs.signal") and s.state in ("new", "investigating"),
        "errors": errors or {}, "asked": asked or {},
    }, status=status)  # fmt: skip


@router.get("/drugs/signals/{signal_id}")
async def signal_page(visit: Signed, signal_id: str) -> Response:
    return await _signal_page(visit, signal_id)


@router.post("/drugs/signals/{signal_id}/{action}")
async def move(visit: Signed, form: Form, signal_id: str, action: str) -> Response:
    caller = _reader(visit)
    require(caller, "drugs.signal")
    if action not in ACTIONS:
        raise NotFound(f"操作 {action[:20]} 不存在")
    asked = {"reason": _text(form, "reason")}
    version = _text(form, "version")
    try:
        await run_in_threadpool(lambda: drugs.move_signal(
            visit.uow, caller, signal_id, action, now=visit.now(), reason=asked["reason"],
            version=int(version) if version.isdigit() else None))  # fmt: skip
    except InvalidRequest as exc:
        return await _signal_page(visit, signal_id, status=422, errors=errors_of(exc),
                                  asked=asked)  # fmt: skip
    except Conflict as exc:
        return await _signal_page(visit, signal_id, status=409,
                                  errors={"_form": exc.one_line()}, asked=asked)  # fmt: skip
    return redirect(visit, f"{PREFIX}/drugs/signals/{signal_id}")


async def _filings_page(visit: Visit, *, status: int = 200,
                        errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    caller = visit.caller
    if not caller.may("drugs.file"):
        require(caller, "drugs.read")
    found = await run_in_threadpool(lambda: drugs.filings(visit.uow, caller, limit=500))
    return page(visit, "drug_filings.html", {
        "nav": "drugs", "filings": found, "states": drugs.FILING_STATE_NAMES,
        "may_decide": caller.may("drugs.accept"), "show": _scaled, "errors": errors or {},
    }, status=status)  # fmt: skip


@router.get("/drugs/filings")
async def filing_list(visit: Signed) -> Response:
    return await _filings_page(visit)


@router.post("/drugs/filings/{filing_id}/decision")
async def decide(visit: Signed, form: Form, filing_id: str) -> Response:
    caller = visit.caller
    require(caller, "drugs.accept")
    accept = _text(form, "decision") == "accept"
    reason = _text(form, "reason")
    try:
        await run_in_threadpool(lambda: drugs.decide_filing(
            visit.uow, caller, filing_id, accept, now=visit.now(), reason=reason))  # fmt: skip
    except InvalidRequest as exc:
        errs = {f"{filing_id}-{k}": v for k, v in errors_of(exc).items()}
        return await _filings_page(visit, status=422, errors=errs)
    except Conflict as exc:
        return await _filings_page(visit, status=409, errors={"_form": exc.one_line()})
    return redirect(visit, f"{PREFIX}/drugs/filings")
