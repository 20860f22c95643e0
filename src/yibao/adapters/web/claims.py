"""手工报销 pages (issue 19, docs/CLAIMS.md): the list (with the overdue claims), intake
(受理: the claim, its fee list and a scanned attachment in one transaction), the claim's
page — the fee list beside the engine's result and trace, the unknown lines classified,
each step's form (移交, 初审, 复核, 结算, 审批, 退回补正, 补正, 不予报销) shown to the roles
that may take it, the clock — payment batches (the bank file, the return file) and the
printable statement. Each form calls one service use case; a refusal is shown beside
its field."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    page,
    parse_date,
    personal_read,
    redirect,
)
from yibao.core.errors import Conflict, Forbidden, InvalidRequest
from yibao.core.money import fen_from_yuan
from yibao.services import claims
from yibao.services.claims.limits import STEP_NAMES
from yibao.services.claims.model import STATUS_NAMES

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

MAX_FEE_LIST = 5 * 1024 * 1024
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def field_errors(exc: InvalidRequest) -> dict[str, str]:
    """A service's problems by form field: ``invoices[0].amount_fen`` -> ``invoices``,
    ``fee_list.row 3`` -> ``fee_list``."""
    out: dict[str, str] = {}
    for path, msg in exc.problems or [("", exc.one_line())]:
        name = re.split(r"[.\[ ]", path, maxsplit=1)[0] or "_form"
        out[name] = f"{out[name]}；{msg}" if name in out else msg
    return out


# -- the list --------------------------------------------------------------------------


@router.get("/claims")
async def claim_list(visit: Signed, status: str = "", overdue: str = "") -> Response:
    ctx = visit.request.app.state.ctx
    caller = visit.caller
    if overdue:
        rows = await run_in_threadpool(claims.overdue, visit.uow, ctx, caller)
    else:
        rows = await run_in_threadpool(
            lambda: claims.list_claims(
                visit.uow, ctx, caller, status=status if status in STATUS_NAMES else None
            )
        )
    late = await run_in_threadpool(claims.overdue, visit.uow, ctx, caller)
    if rows and caller.sees_personal:
        await personal_read(visit, "claim", "list", query=f"status={status}")
    return page(
        visit,
        "claims.html",
        {
            "nav": "claims",
            "rows": rows,
            "late": len(late),
            "status": status,
            "overdue": bool(overdue),
            "statuses": STATUS_NAMES,
            "may_intake": caller.may("claim.intake"),
        },
    )


# -- intake ----------------------------------------------------------------------------

_INTAKE_FIELDS = (
    "psn_no", "provider_code", "provider_name", "provider_region", "provider_level",
    "admit_date", "discharge_date", "diagnoses", "covid_status", "invoice_code",
    "invoice_number", "invoice_date", "invoice_amount", "payee_name", "payee_bank",
    "payee_account", "doc_type",
)  # fmt: skip


@router.get("/claims/new")
async def claim_new(visit: Signed) -> Response:
    visit.caller  # signed in  # noqa: B018
    return page(visit, "claim_new.html", {"nav": "claims", "asked": {}})


def _command(form: FormData, errors: dict[str, str]) -> claims.ClaimIn | None:
    text = {k: str(form.get(k) or "").strip() for k in _INTAKE_FIELDS}
    admit = parse_date(text["admit_date"], "admit_date", errors)
    discharge = parse_date(text["discharge_date"], "discharge_date", errors)
    issued = parse_date(text["invoice_date"], "invoice_date", errors)
    for name, label in (("admit_date", "入院日期"), ("discharge_date", "出院日期"),
                        ("invoice_date", "开票日期")):  # fmt: skip
        if not text[name] and name not in errors:
            errors[name] = f"{label}必填"
    amount = None
    try:
        amount = fen_from_yuan(text["invoice_amount"])
    except ValueError:
        errors["invoice_amount"] = "发票金额应为元，最多两位小数"
    level = None
    if text["provider_level"]:
        if text["provider_level"] in ("1", "2", "3"):
            level = int(text["provider_level"])
        else:
            errors["provider_level"] = "医院等级应为 1、2 或 3"
    codes = [c for c in re.split(r"[\s,，;；]+", text["diagnoses"]) if c]
    if admit is None or discharge is None or issued is None or amount is None or errors:
        return None
    return claims.ClaimIn(
        psn_no=text["psn_no"],
        provider_code=text["provider_code"],
        admit_date=admit,
        discharge_date=discharge,
        diagnoses=tuple(claims.DiagnosisIn(c[:20], n == 0) for n, c in enumerate(codes[:20])),
        invoices=(
            claims.InvoiceIn(
                text["invoice_code"][:20], text["invoice_number"][:20], issued, amount
            ),
        ),
        payee_name=text["payee_name"][:60],
        payee_bank=text["payee_bank"][:60],
        payee_account=text["payee_account"],
        covid_status=text["covid_status"] or None,
        provider_name=text["provider_name"] or None,
        provider_region=text["provider_region"] or None,
        provider_level=level,
    )


async def _upload(form: FormData, name: str, limit: int, errors: dict[str, str]) -> Any:
    up = form.get(name)
    if not isinstance(up, UploadFile):
        return None
    try:
        content = await up.read(limit + 1) if up.filename else b""
    finally:
        await up.close()
    if not up.filename:
        return None
    if len(content) > limit:
        errors[name] = f"文件超过 {limit // (1024 * 1024)} MB"
        return None
    return up.filename, content


@router.post("/claims/new")
async def claim_create(visit: Signed, form: Form) -> Response:
    errors: dict[str, str] = {}
    asked = {k: str(form.get(k) or "") for k in _INTAKE_FIELDS}
    cmd = _command(form, errors)
    fees = await _upload(form, "fee_list", MAX_FEE_LIST, errors)
    scan = await _upload(form, "attachment", claims.intake.MAX_ATTACHMENT, errors)
    if fees is not None and Path(fees[0]).suffix.lower() not in (".csv", ".xlsx"):
        errors["fee_list"] = "费用清单应为 .csv 或 .xlsx 文件"
    if cmd is not None and not errors:
        ctx = visit.request.app.state.ctx
        files = [(scan[0][-100:], scan[1], asked["doc_type"][:20] or "其他")] if scan else []

        def run() -> claims.ClaimView:
            if fees is None:
                return claims.take_in(visit.uow, ctx, visit.caller, cmd, None, files)
            with tempfile.TemporaryDirectory(prefix="yibao-claim-") as tmp:
                path = Path(tmp) / f"fees{Path(fees[0]).suffix.lower()}"
                path.write_bytes(fees[1])
                return claims.take_in(visit.uow, ctx, visit.caller, cmd, path, files)

        try:
            made = await run_in_threadpool(run)
        except InvalidRequest as exc:
            errors.update(field_errors(exc))
        except Conflict as exc:
            errors["_form"] = exc.one_line()
        else:
            return redirect(visit, f"{PREFIX}/claims/{made.id}")
    return page(
        visit, "claim_new.html", {"nav": "claims", "asked": asked, "errors": errors}, status=422
    )


# -- the claim -------------------------------------------------------------------------


async def _claim_page(
    visit: Visit, claim_id: str, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    ctx = visit.request.app.state.ctx
    caller = visit.caller
    detail = await run_in_threadpool(claims.claim_detail, visit.uow, ctx, caller, claim_id)
    result = await run_in_threadpool(claims.engine_result, visit.uow, ctx, caller, claim_id)
    await personal_read(visit, "claim", claim_id)
    c = detail.claim
    me = caller.actor
    return page(
        visit,
        "claim.html",
        {
            "nav": "claims",
            "d": detail,
            "c": c,
            "r": result,
            "s": result.settlement,
            "errors": errors or {},
            "step_names": STEP_NAMES,
            "may_intake": caller.may("claim.intake"),
            "may_review": caller.may("claim.review"),
            "first_reviewer_is_me": c.first_reviewer == me,
        },
        status=status,
    )


@router.get("/claims/{claim_id}")
async def claim_page(visit: Signed, claim_id: str) -> Response:
    return await _claim_page(visit, claim_id)


_ACTIONS: dict[str, tuple[str, Callable[..., Any]]] = {
    "forward": ("", claims.forward),
    "first-review": ("note", claims.first_review),
    "second-review": ("note", claims.second_review),
    "settle": ("", claims.settle),
    "approve": ("", claims.approve),
    "return": ("missing", claims.return_for_correction),
    "resubmit": ("note", claims.resubmit),
    "reject": ("reason", claims.reject),
    "reverse": ("reason", claims.reverse),
}


@router.post("/claims/{claim_id}/act/{action}")
async def claim_act(visit: Signed, form: Form, claim_id: str, action: str) -> Response:
    if action not in _ACTIONS:
        return await _claim_page(visit, claim_id, {"_form": f"未知操作 {action}"}, 404)
    field, call = _ACTIONS[action]
    ctx = visit.request.app.state.ctx
    args = (str(form.get(field) or ""),) if field else ()
    try:
        await run_in_threadpool(call, visit.uow, ctx, visit.caller, claim_id, *args)
    except InvalidRequest as exc:
        return await _claim_page(visit, claim_id, field_errors(exc), 422)
    except (Conflict, Forbidden) as exc:
        return await _claim_page(visit, claim_id, {"_form": exc.one_line()}, exc.status)
    return redirect(visit, f"{PREFIX}/claims/{claim_id}")


@router.post("/claims/{claim_id}/lines/{sn}/classify")
async def claim_classify(visit: Signed, form: Form, claim_id: str, sn: str) -> Response:
    ctx = visit.request.app.state.ctx
    code = str(form.get("code") or "").strip() or None
    try:
        await run_in_threadpool(
            lambda: claims.classify(visit.uow, ctx, visit.caller, claim_id, sn, code=code)
        )
    except InvalidRequest as exc:
        return await _claim_page(visit, claim_id, {f"line-{sn}": exc.one_line()}, 422)
    except Conflict as exc:
        return await _claim_page(visit, claim_id, {"_form": exc.one_line()}, 409)
    return redirect(visit, f"{PREFIX}/claims/{claim_id}")


@router.get("/claims/{claim_id}/statement")
async def claim_statement(visit: Signed, claim_id: str, format: str = "html") -> Response:
    ctx = visit.request.app.state.ctx
    await personal_read(visit, "claim", claim_id, query="statement")
    if format == "xlsx":

        def write() -> bytes:
            with tempfile.TemporaryDirectory(prefix="yibao-statement-") as tmp:
                out = Path(tmp) / "statement.xlsx"
                claims.write_statement_xlsx(visit.uow, visit.caller, claim_id, out)
                return out.read_bytes()

        body = await run_in_threadpool(write)
        disposition = f'attachment; filename="statement-{claim_id}.xlsx"'
        return Response(body, media_type=_MEDIA["xlsx"],
                        headers={"Content-Disposition": disposition})  # fmt: skip
    text = await run_in_threadpool(claims.statement_html, visit.uow, ctx, visit.caller, claim_id)
    return HTMLResponse(text)


# -- payment batches -------------------------------------------------------------------


async def _batches_page(visit: Visit, errors: dict[str, str] | None = None,
                        status: int = 200) -> Response:  # fmt: skip
    ctx = visit.request.app.state.ctx
    caller = visit.caller
    batches = await run_in_threadpool(claims.list_batches, visit.uow, caller)
    waiting = await run_in_threadpool(
        lambda: claims.list_claims(visit.uow, ctx, caller, status="approved", limit=1000)
    )
    return page(
        visit,
        "claim_batches.html",
        {
            "nav": "claim_batches",
            "batches": batches,
            "waiting": waiting,
            "may_pay": caller.may("claim.pay"),
            "errors": errors or {},
        },
        status=status,
    )


@router.get("/claim-batches")
async def batches(visit: Signed) -> Response:
    return await _batches_page(visit)


@router.post("/claim-batches")
async def batch_create(visit: Signed, _csrf: Form) -> Response:
    ctx = visit.request.app.state.ctx
    try:
        b = await run_in_threadpool(claims.make_batch, visit.uow, ctx, visit.caller, None)
    except (Conflict, Forbidden) as exc:
        return await _batches_page(visit, {"_form": exc.one_line()}, exc.status)
    return redirect(visit, f"{PREFIX}/claim-batches/{b.id}")


async def _batch_page(visit: Visit, batch_id: str, errors: dict[str, str] | None = None,
                      status: int = 200) -> Response:  # fmt: skip
    b = await run_in_threadpool(claims.batch_view, visit.uow, visit.caller, batch_id)
    counts = {s: sum(1 for ln in b.lines if ln.status == s) for s in ("queued", "paid", "failed")}
    return page(
        visit,
        "claim_batch.html",
        {
            "nav": "claim_batches",
            "b": b,
            "counts": counts,
            "may_pay": visit.caller.may("claim.pay"),
            "errors": errors or {},
        },
        status=status,
    )


@router.get("/claim-batches/{batch_id}")
async def batch_page(visit: Signed, batch_id: str) -> Response:
    return await _batch_page(visit, batch_id)


@router.get("/claim-batches/{batch_id}/bank-file")
async def bank_file(visit: Signed, batch_id: str, format: str = "xlsx") -> Response:
    fmt = format if format in _MEDIA else "xlsx"
    ctx = visit.request.app.state.ctx

    def write() -> bytes:
        with tempfile.TemporaryDirectory(prefix="yibao-bank-") as tmp:
            out = Path(tmp) / f"bank.{fmt}"
            claims.write_bank_file(visit.uow, ctx, visit.caller, batch_id, out)
            return out.read_bytes()

    body = await run_in_threadpool(write)
    disposition = f'attachment; filename="bank-{batch_id}.{fmt}"'
    return Response(body, media_type=_MEDIA[fmt], headers={"Content-Disposition": disposition})


@router.post("/claim-batches/{batch_id}/return")
async def bank_return(visit: Signed, form: Form, batch_id: str) -> Response:
    errors: dict[str, str] = {}
    got = await _upload(form, "file", MAX_FEE_LIST, errors)
    if got is None and not errors:
        errors["file"] = "请选择银行回盘文件"
    elif got is not None and Path(got[0]).suffix.lower() not in (".csv", ".xlsx"):
        errors["file"] = "回盘文件应为 .csv 或 .xlsx 文件"
    if errors:
        return await _batch_page(visit, batch_id, errors, 422)
    assert got is not None
    ctx = visit.request.app.state.ctx

    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="yibao-return-") as tmp:
            path = Path(tmp) / f"return{Path(got[0]).suffix.lower()}"
            path.write_bytes(got[1])
            claims.apply_return(visit.uow, ctx, visit.caller, batch_id, path)

    try:
        await run_in_threadpool(run)
    except InvalidRequest as exc:
        msgs = "；".join(m for _, m in exc.problems[:10]) or exc.one_line()
        return await _batch_page(visit, batch_id, {"file": msgs}, 422)
    except (Conflict, Forbidden) as exc:
        return await _batch_page(visit, batch_id, {"file": exc.one_line()}, exc.status)
    return redirect(visit, f"{PREFIX}/claim-batches/{batch_id}")
