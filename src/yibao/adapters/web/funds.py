"""资金管理 (issue 20, docs/FUNDS.md): prepayment applications and their steps (初审 with
the pack's baseline beside the amount, 复核 by another finance person — the four-eyes
refusal shown beside the form — 拨付), each hospital's monthly statement (prepare a
month, the list, a printable statement, the hospital's confirmation recorded, the
payment batch, the workbook), the fiscal subsidy's claims and their payment, the
central share, and the trial balance. Thin pages over ``yibao.services.funds``; who may
open them is ``funds.pages`` (finance, the district's clerks, auditors, admins); each
form's own permission is the service's (``funds.approve``, ``funds.pay`` …)."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from yibao.adapters.web.base import PREFIX, ConsoleRoute, Form, Signed, Visit, page, redirect
from yibao.core.engine.funds import FUND_NAMES
from yibao.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from yibao.core.ledger.accounts import book_name
from yibao.core.money import fen_from_yuan
from yibao.services import funds
from yibao.services.access.rights import Principal, require
from yibao.services.funds import clearing, prepayment, subsidy
from yibao.services.funds.files import write_statements

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
__all__ = ["parse_yuan", "router"]

MAX_FEN = 10**13  # 1000 亿元: more is a typing mistake
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_PROVIDER = re.compile(r"^[A-Za-z0-9]{1,20}$")
BASELINE_NAMES = {
    "prior_year_paid_fen": "上年基金支付",
    "months": "预付月数",
    "monthly_fen": "上年月均支付",
    "base_fen": "常规预付",
    "expected_patients": "预计新冠患者",
    "covid_stay_fen": "确诊住院次均基金支付",
    "covid_fen": "新冠增量",
    "total_fen": "基线合计",
}
SOURCES = {"ledger": "账簿", "budget": "预算导入", "none": "无", "pack": "政策包示例值"}


# -- shared ---------------------------------------------------------------------------


def _reader(visit: Visit) -> Principal:
    caller = visit.caller
    require(caller, "funds.pages")
    return caller


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "")


def parse_yuan(text: str, name: str, errors: dict[str, str]) -> int | None:
    """Yuan as typed (``1,234.50``) -> integer fen, exactly (never a float); the
    message beside ``name`` otherwise."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if not cleaned:
        errors[name] = "请输入金额（元）"
        return None
    try:
        fen = fen_from_yuan(cleaned)
    except ValueError:
        errors[name] = "金额以元为单位，最多两位小数，如 1234.50"
        return None
    if fen <= 0:
        errors[name] = "金额须大于 0"
    elif fen >= MAX_FEN:
        errors[name] = "金额过大，请核对"
    return fen if name not in errors else None


def _problems(exc: InvalidRequest, rename: dict[str, str]) -> dict[str, str]:
    """A service's ``name: message; name: message`` beside the page's fields."""
    out: dict[str, str] = {}
    paths = exc.problems or [("", p) for p in str(exc).split("; ")]
    for path, msg in paths:
        name, sep, rest = msg.partition(": ")
        if not path and sep and re.fullmatch(r"[a-z_]+", name):
            path, msg = name, rest
        key = rename.get(path.split(".")[0], path.split(".")[0]) or "_form"
        out[key] = f"{out[key]}；{msg}" if key in out else msg
    return out


def _month(text: str, errors: dict[str, str], name: str = "month") -> dt.date | None:
    if not _MONTH.match(text.strip()):
        errors[name] = "月份格式为 YYYY-MM"
        return None
    return funds.parse_month(text.strip())


def _day(text: str, errors: dict[str, str], name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        errors[name] = "日期格式为 YYYY-MM-DD"
        return None


async def _call(fn: Callable[[], Any]) -> Any:
    return await run_in_threadpool(fn)


def _ctx(visit: Visit) -> Any:
    return visit.request.app.state.ctx


# -- prepayments ----------------------------------------------------------------------


@router.get("/funds")
async def home(visit: Signed) -> Response:
    _reader(visit)
    return redirect(visit, f"{PREFIX}/funds/prepayments")


async def _prepayments_page(visit: Visit, *, errors: dict[str, str] | None = None,
                            asked: dict[str, str] | None = None, notice: str = "",
                            status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)
    rows = await _call(lambda: prepayment.prepayments(visit.uow, caller))
    rows.sort(key=lambda p: p.id, reverse=True)
    return page(visit, "funds_prepayments.html", {
        "nav": "funds", "sub": "prepayments", "rows": rows, "states": prepayment.STATE_NAMES,
        "may_apply": caller.may("funds.apply"), "errors": errors or {}, "asked": asked or {},
        "notice": notice}, status=status)  # fmt: skip


@router.get("/funds/prepayments")
async def prepayments(visit: Signed) -> Response:
    return await _prepayments_page(visit)


@router.post("/funds/prepayments")
async def apply(visit: Signed, form: Form) -> Response:
    caller = _reader(visit)
    require(caller, "funds.apply")
    asked = {k: _text(form, k) for k in ("provider", "amount", "reason", "patients")}
    errors: dict[str, str] = {}
    if not _PROVIDER.match(asked["provider"].strip()):
        errors["provider"] = "请填写医疗机构编码（字母和数字，最多 20 位）"
    fen = parse_yuan(asked["amount"], "amount", errors)
    patients = 0
    if asked["patients"].strip():
        if not asked["patients"].strip().isdigit() or int(asked["patients"]) > 100_000:
            errors["patients"] = "预计收治新冠患者人数须为 0 至 100000 的整数"
        else:
            patients = int(asked["patients"])
    if not asked["reason"].strip():
        errors["reason"] = "请填写申请理由"
    if errors or fen is None:
        return await _prepayments_page(visit, errors=errors, asked=asked, status=422)
    cmd = prepayment.PrepaymentIn(asked["provider"].strip(), fen, asked["reason"], patients)
    try:
        got = await _call(lambda: prepayment.apply(visit.uow, _ctx(visit), caller, cmd))
    except InvalidRequest as exc:
        errors = _problems(exc, {"amount_fen": "amount", "expected_patients": "patients"})
        return await _prepayments_page(visit, errors=errors, asked=asked, status=422)
    except NotFound:
        errors = {"provider": f"医疗机构 {asked['provider'].strip()} 不存在或未在有效期内"}
        return await _prepayments_page(visit, errors=errors, asked=asked, status=422)
    return redirect(visit, f"{PREFIX}/funds/prepayments/{got.id}")


async def _prepayment_page(visit: Visit, pid: str, *, errors: dict[str, str] | None = None,
                           asked: dict[str, str] | None = None,
                           status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)
    if not _ID.match(pid):
        raise NotFound(f"预付申请 {pid[:40]} 不存在")
    found = [p for p in await _call(lambda: prepayment.prepayments(visit.uow, caller))
             if p.id == pid]  # fmt: skip
    if not found:
        raise NotFound(f"预付申请 {pid} 不存在")
    p = found[0]
    base = p.baseline or {}
    return page(visit, "funds_prepayment.html", {
        "nav": "funds", "sub": "prepayments", "p": p, "states": prepayment.STATE_NAMES,
        "baseline": [(BASELINE_NAMES[k], k, base[k]) for k in BASELINE_NAMES if k in base],
        "prior_source": SOURCES.get(str(base.get("prior_source")), base.get("prior_source")),
        "stay_source": base.get("covid_stay_source", ""), "clause": base.get("clause", ""),
        "by_book": {FUND_NAMES.get(b) or book_name(b): f for b, f in (p.by_book or {}).items()},
        "may_approve": caller.may("funds.approve"), "may_pay": caller.may("funds.pay"),
        "errors": errors or {}, "asked": asked or {}}, status=status)  # fmt: skip


@router.get("/funds/prepayments/{pid}")
async def prepayment_page(visit: Signed, pid: str) -> Response:
    return await _prepayment_page(visit, pid)


def _step_refused(exc: Forbidden | Conflict, what: str, field: str) -> tuple[dict[str, str], int]:
    """The four-eyes refusal beside the step's form; a stale step above the forms."""
    if isinstance(exc, Forbidden):
        return {field: exc.one_line()}, 403
    return {"_form": f"未能{what}（申请已处理或刚被他人修改）：{exc.one_line()}"}, 409


@router.post("/funds/prepayments/{pid}/propose")
async def propose(visit: Signed, form: Form, pid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.approve")
    asked = {"amount": _text(form, "amount")}
    errors: dict[str, str] = {}
    fen = parse_yuan(asked["amount"], "amount", errors)
    if fen is None:
        return await _prepayment_page(visit, pid, errors=errors, asked=asked, status=422)
    try:
        await _call(lambda: prepayment.propose(visit.uow, _ctx(visit), caller, pid, fen))
    except InvalidRequest as exc:
        errors = _problems(exc, {"amount_fen": "amount"})
        return await _prepayment_page(visit, pid, errors=errors, asked=asked, status=422)
    except Conflict as exc:
        errors, status = _step_refused(exc, "初审", "amount")
        return await _prepayment_page(visit, pid, errors=errors, asked=asked, status=status)
    return redirect(visit, f"{PREFIX}/funds/prepayments/{pid}")


@router.post("/funds/prepayments/{pid}/approve")
async def approve(visit: Signed, _csrf: Form, pid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.approve")
    try:
        await _call(lambda: prepayment.approve(visit.uow, _ctx(visit), caller, pid))
    except (Forbidden, Conflict) as exc:
        errors, status = _step_refused(exc, "复核", "approve")
        return await _prepayment_page(visit, pid, errors=errors, status=status)
    return redirect(visit, f"{PREFIX}/funds/prepayments/{pid}")


@router.post("/funds/prepayments/{pid}/reject")
async def reject(visit: Signed, form: Form, pid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.approve")
    asked = {"reason": _text(form, "reason")}
    if not asked["reason"].strip():
        return await _prepayment_page(visit, pid, errors={"reason": "请填写不予预付的理由"},
                                      asked=asked, status=422)  # fmt: skip
    try:
        await _call(lambda: prepayment.reject(visit.uow, _ctx(visit), caller, pid,
                                              asked["reason"]))  # fmt: skip
    except InvalidRequest as exc:
        return await _prepayment_page(visit, pid, errors=_problems(exc, {}), asked=asked,
                                      status=422)  # fmt: skip
    except Conflict as exc:
        errors, status = _step_refused(exc, "驳回", "reason")
        return await _prepayment_page(visit, pid, errors=errors, asked=asked, status=status)
    return redirect(visit, f"{PREFIX}/funds/prepayments/{pid}")


@router.post("/funds/prepayments/{pid}/disburse")
async def disburse(visit: Signed, _csrf: Form, pid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.pay")
    try:
        await _call(lambda: prepayment.disburse(visit.uow, _ctx(visit), caller, pid))
    except Conflict as exc:
        errors, status = _step_refused(exc, "拨付", "disburse")
        return await _prepayment_page(visit, pid, errors=errors, status=status)
    return redirect(visit, f"{PREFIX}/funds/prepayments/{pid}")


# -- monthly statements ---------------------------------------------------------------


async def _statements_page(visit: Visit, month: str, *, errors: dict[str, str] | None = None,
                           notice: str = "", status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)
    errors = dict(errors or {})
    chosen = None
    if month and _MONTH.match(month):
        chosen = funds.parse_month(month)
    elif month:
        errors.setdefault("month", "月份格式为 YYYY-MM")
    rows = await _call(lambda: clearing.statements(visit.uow, caller, month=chosen))
    rows.sort(key=lambda s: (s.month, s.provider_code), reverse=False)
    live = [s for s in rows if s.state != "void"]
    return page(visit, "funds_statements.html", {
        "nav": "funds", "sub": "statements", "rows": rows, "month": month,
        "states": clearing.STATE_NAMES, "errors": errors, "notice": notice,
        "confirmed": sum(1 for s in live if s.state == "confirmed"),
        "net_fen": sum(s.net_fen for s in live),
        "may_clear": caller.may("funds.clear"), "may_pay": caller.may("funds.pay")},
        status=status)  # fmt: skip


@router.get("/funds/statements")
async def statements(visit: Signed, month: str = "", done: str = "", n: int = 0) -> Response:
    notice = ""
    if done == "prepared":
        notice = f"已生成 {n} 张结算单（待医院确认）。"
    elif done == "paid":
        notice = f"已拨付 {n} 张结算单（一个支付批次）。"
    return await _statements_page(visit, month.strip(), notice=notice)


@router.post("/funds/statements/prepare")
async def prepare(visit: Signed, form: Form) -> Response:
    caller = _reader(visit)
    require(caller, "funds.clear")
    text = _text(form, "month").strip()
    errors: dict[str, str] = {}
    month = _month(text, errors)
    if month is None:
        return await _statements_page(visit, "", errors=errors, status=422)
    try:
        made = await _call(lambda: clearing.prepare(visit.uow, _ctx(visit), caller, month))
    except InvalidRequest as exc:
        return await _statements_page(visit, text, errors=_problems(exc, {}), status=422)
    except Conflict as exc:
        return await _statements_page(visit, text, errors={"month": exc.one_line()}, status=409)
    return redirect(visit, f"{PREFIX}/funds/statements?month={text}&done=prepared&n={len(made)}")


@router.post("/funds/payments")
async def pay(visit: Signed, form: Form) -> Response:
    caller = _reader(visit)
    require(caller, "funds.pay")
    text = _text(form, "month").strip()
    errors: dict[str, str] = {}
    month = _month(text, errors, "pay")
    if month is None:
        return await _statements_page(visit, "", errors=errors, status=422)
    try:
        batch = await _call(lambda: clearing.pay(visit.uow, _ctx(visit), caller, month))
    except Conflict as exc:
        return await _statements_page(visit, text, errors={"pay": exc.one_line()}, status=409)
    n = len(batch.statements)
    return redirect(visit, f"{PREFIX}/funds/statements?month={text}&done=paid&n={n}")


@router.get("/funds/statements.xlsx")
async def workbook(visit: Signed, month: str = "") -> Response:
    caller = _reader(visit)
    if month and not _MONTH.match(month):
        return await _statements_page(visit, month, status=422)
    chosen = funds.parse_month(month) if month else None

    def write() -> bytes:
        rows = clearing.statements(visit.uow, caller, month=chosen)
        with tempfile.TemporaryDirectory(prefix="yibao-funds-") as tmp:
            out = Path(tmp) / "statements.xlsx"
            write_statements(out, rows)
            return out.read_bytes()

    body = await run_in_threadpool(write)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition":
                 f'attachment; filename="statements-{month or "all"}.xlsx"'},
    )  # fmt: skip


async def _statement_page(visit: Visit, sid: str, *, template: str = "funds_statement.html",
                          errors: dict[str, str] | None = None,
                          asked: dict[str, str] | None = None,
                          status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)
    if not _ID.match(sid):
        raise NotFound(f"结算单 {sid[:40]} 不存在")
    s = await _call(lambda: clearing.statement(visit.uow, caller, sid))
    return page(visit, template, {
        "nav": "funds", "sub": "statements", "s": s, "states": clearing.STATE_NAMES,
        "books": {ln.book: FUND_NAMES.get(ln.book) or book_name(ln.book) for ln in s.lines},
        "may_confirm": caller.may("funds.confirm"), "may_clear": caller.may("funds.clear"),
        "errors": errors or {}, "asked": asked or {}}, status=status)  # fmt: skip


@router.get("/funds/statements/{sid}")
async def statement(visit: Signed, sid: str) -> Response:
    return await _statement_page(visit, sid)


@router.get("/funds/statements/{sid}/print")
async def statement_print(visit: Signed, sid: str) -> Response:
    return await _statement_page(visit, sid, template="funds_statement_print.html")


@router.post("/funds/statements/{sid}/confirm")
async def confirm(visit: Signed, form: Form, sid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.confirm")
    asked = {"ref": _text(form, "ref")}
    if not asked["ref"].strip():
        errors = {"ref": "请填写医院确认的依据（来函或回执编号）"}
        return await _statement_page(visit, sid, errors=errors, asked=asked, status=422)
    try:
        await _call(lambda: clearing.confirm(visit.uow, _ctx(visit), caller, sid,
                                             ref=asked["ref"].strip()))  # fmt: skip
    except Conflict as exc:
        return await _statement_page(visit, sid, errors={"ref": exc.one_line()}, asked=asked,
                                     status=409)  # fmt: skip
    return redirect(visit, f"{PREFIX}/funds/statements/{sid}")


@router.post("/funds/statements/{sid}/void")
async def void(visit: Signed, form: Form, sid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.clear")
    asked = {"reason": _text(form, "reason")}
    if not asked["reason"].strip():
        return await _statement_page(visit, sid, errors={"reason": "请填写作废理由"},
                                     asked=asked, status=422)  # fmt: skip
    try:
        await _call(lambda: clearing.void(visit.uow, _ctx(visit), caller, sid, asked["reason"]))
    except Conflict as exc:
        return await _statement_page(visit, sid, errors={"reason": exc.one_line()},
                                     asked=asked, status=409)  # fmt: skip
    return redirect(visit, f"{PREFIX}/funds/statements/{sid}")


# -- the fiscal subsidy ---------------------------------------------------------------


async def _subsidy_page(visit: Visit, *, errors: dict[str, str] | None = None,
                        asked: dict[str, str] | None = None, notice: str = "",
                        status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)

    def read() -> tuple[list[subsidy.ClaimView], list[subsidy.CentralView]]:
        return (subsidy.claims(visit.uow, caller, with_items=True),
                subsidy.central_claims(visit.uow, caller))  # fmt: skip

    claims, central = await _call(read)
    claims.sort(key=lambda c: c.id, reverse=True)
    return page(visit, "funds_subsidy.html", {
        "nav": "funds", "sub": "subsidy", "claims": claims, "central": central,
        "claimed_fen": sum(c.fiscal_fen for c in claims if c.state == "claimed"),
        "may_apply": caller.may("funds.apply"), "may_pay": caller.may("funds.pay"),
        "errors": errors or {}, "asked": asked or {}, "notice": notice},
        status=status)  # fmt: skip


@router.get("/funds/subsidy")
async def subsidy_page(visit: Signed) -> Response:
    return await _subsidy_page(visit)


@router.post("/funds/subsidy")
async def claim(visit: Signed, form: Form) -> Response:
    caller = _reader(visit)
    require(caller, "funds.apply")
    asked = {k: _text(form, k) for k in ("provider", "period_end")}
    errors: dict[str, str] = {}
    if not _PROVIDER.match(asked["provider"].strip()):
        errors["provider"] = "请填写医疗机构编码（字母和数字，最多 20 位）"
    end = _day(asked["period_end"], errors, "period_end")
    if errors or end is None:
        return await _subsidy_page(visit, errors=errors, asked=asked, status=422)
    code = asked["provider"].strip()
    try:
        await _call(lambda: subsidy.claim(visit.uow, _ctx(visit), caller, code, end))
    except InvalidRequest as exc:
        return await _subsidy_page(visit, errors=_problems(exc, {}), asked=asked, status=422)
    except Conflict as exc:
        return await _subsidy_page(visit, errors={"provider": exc.one_line()}, asked=asked,
                                   status=409)  # fmt: skip
    return redirect(visit, f"{PREFIX}/funds/subsidy")


@router.post("/funds/subsidy/{cid}/pay")
async def pay_claim(visit: Signed, _csrf: Form, cid: str) -> Response:
    caller = _reader(visit)
    require(caller, "funds.pay")
    try:
        await _call(lambda: subsidy.pay_claim(visit.uow, _ctx(visit), caller, cid))
    except Conflict as exc:
        return await _subsidy_page(visit, errors={f"pay-{cid}": exc.one_line()}, status=409)
    return redirect(visit, f"{PREFIX}/funds/subsidy")


@router.post("/funds/central")
async def central(visit: Signed, form: Form) -> Response:
    caller = _reader(visit)
    require(caller, "funds.pay")
    asked = {"central_end": _text(form, "central_end")}
    errors: dict[str, str] = {}
    end = _day(asked["central_end"], errors, "central_end")
    if end is None:
        return await _subsidy_page(visit, errors=errors, asked=asked, status=422)
    try:
        await _call(lambda: subsidy.central_claim(visit.uow, _ctx(visit), caller, end))
    except InvalidRequest as exc:
        errors = _problems(exc, {"period_end": "central_end"})
        return await _subsidy_page(visit, errors=errors, asked=asked, status=422)
    except Conflict as exc:
        return await _subsidy_page(visit, errors={"central_end": exc.one_line()}, asked=asked,
                                   status=409)  # fmt: skip
    return redirect(visit, f"{PREFIX}/funds/subsidy")


# -- the trial balance ----------------------------------------------------------------


@router.get("/funds/trial")
async def trial(visit: Signed, end: str = "") -> Response:
    caller = _reader(visit)
    errors: dict[str, str] = {}
    day = _day(end, errors, "end") if end.strip() else None
    tb = await _call(lambda: funds.trial.trial_balance(visit.uow, caller, end=day))
    return page(visit, "funds_trial.html", {
        "nav": "funds", "sub": "trial", "tb": tb, "books": tb.books(), "end": end,
        "names": {b: book_name(b) for b in tb.books()}, "errors": errors},
        status=422 if errors else 200)  # fmt: skip
