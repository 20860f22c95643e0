"""异地就医备案 pages (issue 18, docs/FILINGS.md): the queue with each filing's due time
and the overdue ones marked, the intake form (受理: a township clerk for its own
township's insurees), a filing with its history and the forms of the next step (报送;
核准 / 不予备案 with a reason; 撤销 with a reason). Thin pages over
``yibao.services.filings``; every refusal beside its field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

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
from yibao.core.workdays import BEIJING
from yibao.services import filings as fs
from yibao.services.access.rights import require
from yibao.services.filings.workflow import OPEN

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
__all__ = ["router"]

_ID = re.compile(r"^[A-Za-z0-9]{1,30}$")
_FIELDS = ("kind", "insuree_id", "dest_region", "dest_providers", "valid_from", "valid_to",
           "covid", "submitted_at")  # fmt: skip
ACTIONS = {"forward": "报送区医保局", "approve": "核准", "refuse": "不予备案", "revoke": "撤销"}
STEPS = {"submitted": "申请", "accepted": "受理", "forwarded": "报送", "approved": "核准",
         "refused": "不予备案", "revoked": "撤销"}  # fmt: skip


def _text(form: Any, name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


def _ctx(visit: Visit) -> Any:
    return visit.request.app.state.ctx


@router.get("/filings")
async def queue(visit: Signed, state: str = "open", overdue: str = "") -> Response:
    caller = visit.caller
    require(caller, "filing.read")
    states = tuple(fs.STATE_NAMES) if state == "all" else (
        (state,) if state in fs.STATE_NAMES else OPEN)  # fmt: skip
    late = overdue == "1"
    found = await run_in_threadpool(lambda: fs.queue(
        visit.uow, _ctx(visit), caller, states=states, overdue=late, limit=500))  # fmt: skip
    return page(visit, "filings.html", {
        "nav": "filings", "filings": found, "kinds": fs.KIND_NAMES, "states": fs.STATE_NAMES,
        "asked": {"state": state, "overdue": overdue},
        "may_intake": caller.may("filing.intake"),
    })  # fmt: skip


def _new_page(visit: Visit, *, status: int = 200, errors: dict[str, str] | None = None,
              asked: dict[str, str] | None = None) -> Response:  # fmt: skip
    return page(visit, "filing_new.html", {
        "nav": "filings", "kinds": fs.KIND_NAMES, "errors": errors or {},
        "asked": asked or {"valid_from": visit.now().astimezone(BEIJING).date().isoformat()},
    }, status=status)  # fmt: skip


@router.get("/filings/new")
async def new(visit: Signed) -> Response:
    require(visit.caller, "filing.intake")
    return _new_page(visit)


def _day(text: str, name: str, errors: dict[str, str]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None


@router.post("/filings/new")
async def take_in(visit: Signed, form: Form) -> Response:
    caller = visit.caller
    require(caller, "filing.intake")
    asked = {k: _text(form, k) for k in _FIELDS}
    errors: dict[str, str] = {}
    valid_from = _day(asked["valid_from"], "valid_from", errors)
    valid_to = _day(asked["valid_to"], "valid_to", errors)
    if valid_from is None and "valid_from" not in errors:
        errors["valid_from"] = "请填写开始日期"
    if errors:
        return _new_page(visit, status=422, errors=errors, asked=asked)
    assert valid_from is not None
    providers = tuple(p for p in re.split(r"[;；,，\s]+", asked["dest_providers"]) if p)
    cmd = fs.FilingIn(asked["kind"], asked["insuree_id"], asked["dest_region"], valid_from,
                      valid_to, providers, asked["covid"] == "1")  # fmt: skip
    try:
        f = await run_in_threadpool(lambda: fs.take_in(visit.uow, _ctx(visit), caller, cmd))
    except InvalidRequest as exc:
        return _new_page(visit, status=422, errors=errors_of(exc), asked=asked)
    return redirect(visit, f"{PREFIX}/filings/{f.id}")


async def _filing_page(visit: Visit, filing_id: str, *, status: int = 200,
                       errors: dict[str, str] | None = None,
                       asked: dict[str, str] | None = None) -> Response:  # fmt: skip
    caller = visit.caller
    require(caller, "filing.read")
    if not _ID.match(filing_id):
        raise NotFound(f"备案 {filing_id[:40]} 不存在")
    f = await run_in_threadpool(lambda: fs.filing(visit.uow, _ctx(visit), caller, filing_id))
    can = []
    if caller.may("filing.intake") and f.state == "accepted" and f.channel == "township":
        can.append("forward")
    if caller.may("filing.decide") and f.state in ("accepted", "forwarded"):
        can += ["approve", "refuse"]
    if caller.may("filing.decide") and f.state == "approved":
        can.append("revoke")
    return page(visit, "filing.html", {
        "nav": "filings", "f": f, "kinds": fs.KIND_NAMES, "states": fs.STATE_NAMES,
        "can": can, "actions": ACTIONS, "steps": STEPS, "errors": errors or {},
        "asked": asked or {},
    }, status=status)  # fmt: skip


@router.get("/filings/{filing_id}")
async def one(visit: Signed, filing_id: str) -> Response:
    return await _filing_page(visit, filing_id)


@router.post("/filings/{filing_id}/{action}")
async def act(visit: Signed, form: Form, filing_id: str, action: str) -> Response:
    caller = visit.caller
    if action not in ACTIONS:
        raise NotFound(f"操作 {action[:20]} 不存在")
    asked = {"reason": _text(form, "reason")}
    version_text = _text(form, "version")
    version = int(version_text) if version_text.isdigit() else None
    uow, ctx, reason = visit.uow, _ctx(visit), asked["reason"] or None

    def run() -> Any:
        if action == "forward":
            return fs.forward(uow, ctx, caller, filing_id, version=version)
        if action == "revoke":
            return fs.revoke(uow, ctx, caller, filing_id, reason=reason or "", version=version)
        return fs.decide(uow, ctx, caller, filing_id, approve=action == "approve",
                         reason=reason, version=version)  # fmt: skip

    try:
        await run_in_threadpool(run)
    except InvalidRequest as exc:
        return await _filing_page(visit, filing_id, status=422, errors=errors_of(exc),
                                  asked=asked)  # fmt: skip
    except Conflict as exc:
        return await _filing_page(visit, filing_id, status=409,
                                  errors={"_form": exc.one_line()}, asked=asked)  # fmt: skip
    return redirect(visit, f"{PREFIX}/filings/{filing_id}")
