"""基金监管 (issue 22, docs/SUPERVISION.md): the review queue, a flag with its evidence,
the stay's settlement trace and the hospital's answer, the confirm (the amount typed in
yuan, parsed exactly to fen) and dismiss (a reason) forms, a hospital's profile, and the
workbook. Thin pages over ``yibao.services.supervision``; who may open them is
``supervision.pages`` (a township clerk may not: flags are the district's)."""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    errors_of,
    page,
    personal_read,
    redirect,
)
from yibao.adapters.web.formats import yuan
from yibao.core.engine.funds import ACCOUNT
from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.core.ledger.accounts import FUND_BOOKS, book_name
from yibao.core.money import fen_from_yuan
from yibao.services import supervision as sv
from yibao.services.access.rights import Principal, require
from yibao.services.access.users import ROLE_NAMES
from yibao.services.reports.registers import provider_history
from yibao.services.reports.stays import StayView, stay_view
from yibao.services.supervision.report import CountRow
from yibao.services.supervision.review import OPEN_STATES

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
__all__ = ["evidence_items", "router"]

PAGE_ROWS = 50
MAX_FEN = 10**13  # 1000 亿元: more is a typing mistake, not a deduction
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_PROVIDER = re.compile(r"^[A-Za-z0-9]{1,20}$")

STATES = {
    "": "待处理（待审核与医院已答复）",
    "open": "待审核",
    "answered": "医院已答复",
    "confirmed": "已确认",
    "dismissed": "已排除",
    "all": "全部",
}
BOOKS = {b: book_name(b) for b in sorted(FUND_BOOKS - {ACCOUNT})}
"""The fund books a deduction may be posted in (not the personal account)."""
SEVERITY = {"high": "高", "medium": "中", "low": "低"}
EVIDENCE_NAMES = {
    "diagnoses": "诊断",
    "covid_status": "新冠状态",
    "admit_date": "入院日期",
    "discharge_date": "出院日期",
    "covid_dx_since": "新冠诊断首次记录日",
    "stay_days": "住院天数",
    "line_count": "涉及费用条数",
    "lines": "涉及的费用明细",
    "overlaps": "与之重叠的住院",
    "main_dx": "主诊断",
    "provider_level": "医院等级",
    "measure": "指标",
    "value": "本次",
    "peer_median": "同类中位数",
    "peers": "同类住院数",
    "robust_z": "稳健 z 值",
    "settled_on": "结算日期",
    "days_after_discharge": "出院后结算天数",
    "unmapped_items": "未对码的诊疗方案项目",
    "stays_without_disease_code": "缺少病种编码的确诊住院数",
    "disease_codes": "应有的病种编码",
    "in_force_on": "对照日期",
    "sn": "流水号",
    "code": "项目编码",
    "service_date": "服务日期",
    "n": "当日次数",
    "price_e6": "单价（元）",
    "filed_e6": "备案价（元）",
    "encounter_id": "就诊 ID",
    "provider_code": "医疗机构",
    "overlap_days": "重叠天数",
}
MEASURES = {"cost": "医疗费（元）", "stay_days": "住院天数"}
PROBLEMS = {
    "required": "必填",
    "too long": "最多 500 字",
    "not a fund book": "不是基金账簿",
    "not an integer ≥ 0": "须为不小于 0 的金额",
}
STEP_NAMES = {
    "raised": "发现疑点",
    "answered": "医院答复",
    "confirmed": "确认",
    "dismissed": "排除",
}


# -- who may look -------------------------------------------------------------------


def _reader(visit: Visit) -> Principal:
    caller = visit.caller
    require(caller, "supervision.pages")
    return caller


def _rules() -> dict[str, str]:
    """Every rule id of the rule set (all versions) with its Chinese title."""
    out: dict[str, str] = {}
    for version in sv.rule_set().versions:
        for r in version.rules:
            out.setdefault(r.id, r.title)
    return out


# -- the queue ----------------------------------------------------------------------


@router.get("/supervision")
async def queue(
    visit: Signed,
    rule: str = "",
    provider: str = "",
    state: str = "",
    month: str = "",
    page_no: int = 1,
    done: str = "",
    did: str = "",
) -> Response:
    asked = {"rule": rule, "provider": provider.strip(), "state": state, "month": month.strip()}
    notice = ""
    if _ID.match(done) and did in ("confirmed", "dismissed"):
        notice = f"疑点 {done} {STATES[did]}，已移出待处理队列。"
    return await _queue_page(visit, asked, page_no, notice=notice)


async def _queue_page(visit: Visit, asked: dict[str, str], page_no: int = 1, *,
                      notice: str = "", errors: dict[str, str] | None = None,
                      status: int = 200) -> Response:  # fmt: skip
    caller = _reader(visit)
    rules = _rules()
    errors = dict(errors or {})
    if asked["rule"] and asked["rule"] not in rules:
        errors["rule"] = "没有这条监管规则"
    if asked["provider"] and not _PROVIDER.match(asked["provider"]):
        errors["provider"] = "医疗机构编码为字母和数字（最多 20 位）"
    if asked["state"] not in STATES:
        errors["state"] = "请选择状态"
    if asked["month"] and not _MONTH.match(asked["month"]):
        errors["month"] = "月份格式为 YYYY-MM"
    page_no = max(1, min(page_no, 10_000))
    rows: list[Any] = []
    if not errors:
        states = {"": OPEN_STATES, "all": None}.get(asked["state"], (asked["state"],))
        rows = await run_in_threadpool(
            lambda: sv.queue(
                visit.uow,
                caller,
                state=states,
                provider_code=asked["provider"] or None,
                rule_id=asked["rule"] or None,
                month=asked["month"] or None,
                limit=PAGE_ROWS,
                offset=PAGE_ROWS * (page_no - 1),
            )
        )
    return page(
        visit,
        "supervision_queue.html",
        {
            "nav": "supervision",
            "rows": rows,
            "asked": asked,
            "errors": errors,
            "rules": rules,
            "states": STATES,
            "severity": SEVERITY,
            "page_no": page_no,
            "page_rows": PAGE_ROWS,
            "notice": notice,
        },
        status=status,
    )


# -- one flag -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    href: str | None = None


@dataclass
class Evidence:
    """One fact of a flag's evidence: a value, or a table (lines, overlapping stays)."""

    label: str
    text: str = ""
    head: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)


def _price(e6: int) -> str:
    """A unit price in millionths of a yuan, exactly (at least two decimals)."""
    sign = "-" if e6 < 0 else ""
    whole, part = divmod(abs(e6), 10**6)
    decimals = f"{part:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole:,}.{decimals}"


def _cell(key: str, value: Any, *, money: bool, stay_link: bool) -> Cell:
    if value is None:
        return Cell("—")
    if isinstance(value, bool):
        return Cell("是" if value else "否")
    if isinstance(value, int) and (key.endswith("_fen") or money):
        return Cell(yuan(value))
    if isinstance(value, int) and key.endswith("_e6"):
        return Cell(_price(value))
    if isinstance(value, list):
        return Cell("、".join(str(v) for v in value) or "—")
    if key == "measure":
        return Cell(MEASURES.get(str(value), str(value)))
    if key == "covid_status":
        return Cell({"confirmed": "确诊", "suspected": "疑似"}.get(str(value), str(value)))
    if key == "encounter_id" and stay_link:
        return Cell(str(value), f"{PREFIX}/stays/{value}")
    return Cell(str(value))


def evidence_items(evidence: dict[str, Any], *, stay_links: bool) -> list[Evidence]:
    """A flag's evidence as the page shows it: money from integer fen (a peer cost's
    median and value too), prices from millionths, lists of records as tables."""
    money = evidence.get("measure") == "cost"
    out: list[Evidence] = []
    for key, value in evidence.items():
        label = EVIDENCE_NAMES.get(key, key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            rows = [[_cell(k, v.get(k), money=False, stay_link=stay_links) for k in keys]
                    for v in value]  # fmt: skip
            out.append(Evidence(label, head=[EVIDENCE_NAMES.get(k, k) for k in keys], rows=rows))
        else:
            is_money = money and key in ("value", "peer_median")
            out.append(Evidence(label, _cell(key, value, money=is_money, stay_link=False).text))
    return out


async def _flag_page(
    visit: Visit,
    flag_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    asked: dict[str, str] | None = None,
) -> Response:
    caller = _reader(visit)
    if not _ID.match(flag_id):
        raise NotFound(f"疑点 {flag_id[:40]} 不存在")
    view = await run_in_threadpool(sv.flag_view, visit.uow, caller, flag_id)
    f = view.flag
    stay: StayView | None = None
    if f.encounter_id and caller.may("encounter.read"):
        try:
            stay = await run_in_threadpool(stay_view, visit.uow, caller, f.encounter_id)
        except NotFound:
            stay = None
        else:
            await personal_read(visit, "encounter", f.encounter_id)
    answers = [e for e in view.events if e.kind == "answered"]
    return page(
        visit,
        "supervision_flag.html",
        {
            "nav": "supervision",
            "v": view,
            "f": f,
            "stay": stay,
            "evidence": evidence_items(f.evidence or {}, stay_links=caller.may("encounter.read")),
            "answers": answers,
            "severity": SEVERITY,
            "states": STATES,
            "steps": STEP_NAMES,
            "books": BOOKS,
            "roles": {**ROLE_NAMES, "hospital": "定点医院"},
            "may_review": caller.may("supervision.review") and f.state in OPEN_STATES,
            "errors": errors or {},
            "asked": asked or {},
        },
        status=status,
    )


@router.get("/supervision/flags/{flag_id}")
async def flag(visit: Signed, flag_id: str) -> Response:
    return await _flag_page(visit, flag_id)


def _problems(exc: InvalidRequest, rename: dict[str, str]) -> dict[str, str]:
    """The service's problems beside the page's fields, in Chinese."""
    out: dict[str, str] = {}
    for name, msg in errors_of(exc).items():
        out[rename.get(name, name)] = PROBLEMS.get(msg, msg)
    return out


def _amount(text: str, errors: dict[str, str]) -> int | None:
    """The supervisor's yuan (``1,234.50``) as integer fen, exactly — never a float."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if not cleaned:
        errors["amount"] = "请输入追回金额（元）；确认违规但无需追回时填 0"
        return None
    try:
        fen = fen_from_yuan(cleaned)
    except ValueError:
        errors["amount"] = "金额以元为单位，最多两位小数，如 1234.50"
        return None
    if fen < 0:
        errors["amount"] = "金额不能为负数"
    elif fen > MAX_FEN:
        errors["amount"] = "金额过大，请核对"
    return fen if "amount" not in errors else None


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "")


@router.post("/supervision/flags/{flag_id}/confirm")
async def confirm(visit: Signed, form: Form, flag_id: str) -> Response:
    caller = _reader(visit)
    require(caller, "supervision.review")
    asked = {k: _text(form, k) for k in ("amount", "book", "note")}
    errors: dict[str, str] = {}
    fen = _amount(asked["amount"], errors)
    if fen is None:
        return await _flag_page(visit, flag_id, status=422, errors=errors, asked=asked)
    ctx = visit.request.app.state.ctx
    try:
        await run_in_threadpool(
            lambda: sv.confirm(
                visit.uow,
                ctx,
                caller,
                flag_id,
                fen,
                book=asked["book"].strip() or None,
                note=asked["note"],
            )
        )
    except InvalidRequest as exc:
        errors = _problems(exc, {"amount_fen": "amount"})
        if "amount" in errors and errors["amount"] == "more than the fund paid":
            errors["amount"] = "追回金额超过所选基金为本次住院支付的金额"
        return await _flag_page(visit, flag_id, status=422, errors=errors, asked=asked)
    except Conflict as exc:
        errors = {"_form": f"未能确认（疑点已处理、刚被他人修改或无基金支付）：{exc.one_line()}"}
        return await _flag_page(visit, flag_id, status=409, errors=errors, asked=asked)
    return redirect(visit, f"{PREFIX}/supervision?done={flag_id}&did=confirmed")


@router.post("/supervision/flags/{flag_id}/dismiss")
async def dismiss(visit: Signed, form: Form, flag_id: str) -> Response:
    caller = _reader(visit)
    require(caller, "supervision.review")
    asked = {"reason": _text(form, "reason")}
    if not asked["reason"].strip():
        errors = {"reason": "请填写排除理由"}
        return await _flag_page(visit, flag_id, status=422, errors=errors, asked=asked)
    ctx = visit.request.app.state.ctx
    try:
        await run_in_threadpool(
            lambda: sv.dismiss(visit.uow, ctx, caller, flag_id, asked["reason"])
        )
    except InvalidRequest as exc:
        return await _flag_page(visit, flag_id, status=422, errors=_problems(exc, {}), asked=asked)
    except Conflict as exc:
        errors = {"_form": f"未能排除（疑点已处理或刚被他人修改）：{exc.one_line()}"}
        return await _flag_page(visit, flag_id, status=409, errors=errors, asked=asked)
    return redirect(visit, f"{PREFIX}/supervision?done={flag_id}&did=dismissed")


# -- a hospital's profile -----------------------------------------------------------


@dataclass
class Profile:
    months: list[str]
    by_rule: list[tuple[str, dict[str, int], int]]  # rule id, flags per month, total
    by_state: dict[str, int]  # flags per state
    at_risk_open_fen: int
    recovered_fen: int
    flags: int


def _profile(counts: list[CountRow]) -> Profile:
    months = sorted({c.month for c in counts})
    per_rule: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_state: dict[str, int] = defaultdict(int)
    at_risk = recovered = 0
    for c in counts:
        per_rule[c.rule_id][c.month] += c.flags
        by_state[c.state] += c.flags
        recovered += c.recovered_fen
        if c.state in OPEN_STATES:
            at_risk += c.amount_fen
    by_rule = sorted(((r, dict(m), sum(m.values())) for r, m in per_rule.items()),
                     key=lambda t: (-t[2], t[0]))  # fmt: skip
    return Profile(months, by_rule, dict(by_state), at_risk, recovered, sum(by_state.values()))


@router.get("/supervision/hospitals/{code}")
async def hospital(visit: Signed, code: str) -> Response:
    caller = _reader(visit)
    if not _PROVIDER.match(code):
        raise NotFound(f"医疗机构 {code[:40]} 不存在")

    def read() -> tuple[list[CountRow], list[Any], str]:
        counts = [c for c in sv.flag_counts(visit.uow, caller) if c.provider_code == code]
        confirmed = sv.queue(visit.uow, caller, state=("confirmed",), provider_code=code,
                             limit=200)  # fmt: skip
        try:
            name = provider_history(visit.uow, caller, code).name
        except NotFound:
            name = ""
        return counts, confirmed, name

    counts, confirmed, name = await run_in_threadpool(read)
    if not counts and not name:
        raise NotFound(f"医疗机构 {code} 不存在")
    return page(
        visit,
        "supervision_hospital.html",
        {
            "nav": "supervision",
            "code": code,
            "name": name,
            "p": _profile(counts),
            "confirmed": confirmed,
            "rules": _rules(),
            "states": STATES,
        },
    )


# -- the workbook -------------------------------------------------------------------


@router.get("/supervision/workbook")
async def workbook(visit: Signed, month_from: str = "", month_to: str = "") -> Response:
    caller = _reader(visit)
    errors: dict[str, str] = {}
    for name, text in (("month_from", month_from), ("month_to", month_to)):
        if text and not _MONTH.match(text):
            errors[name] = "月份格式为 YYYY-MM"
    if errors:
        asked = {"rule": "", "provider": "", "state": "", "month": "",
                 "month_from": month_from, "month_to": month_to}  # fmt: skip
        return await _queue_page(visit, asked, errors=errors, status=422)
    begin, end = month_from or None, month_to or None

    def write() -> bytes:
        counts = sv.flag_counts(visit.uow, caller, begin=begin, end=end)
        flags = [f for f in sv.queue(visit.uow, caller, state=None, limit=1000)
                 if (begin or "") <= f.month <= (end or "9999-99")]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="yibao-supervision-") as tmp:
            return sv.write_workbook(Path(tmp) / "supervision.xlsx", counts, flags).read_bytes()

    body = await run_in_threadpool(write)
    stamp = visit.now().date().isoformat() if not (begin or end) else f"{begin}_{end}"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="supervision-{stamp}.xlsx"'},
    )
