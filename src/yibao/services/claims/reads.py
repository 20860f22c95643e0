"""Reads: a claim with its invoices, fee lines, attachments, events and clock; the list
and the overdue list; the printable statement (结算单) — each amount with the clause of
the settlement's trace — as HTML or XLSX."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.core.engine.model import Settlement
from yibao.core.errors import Conflict
from yibao.core.money import yuan_from_fen
from yibao.core.privacy import mask_account, mask_name, mask_psn_no
from yibao.services.access.rights import Principal
from yibao.services.claims.booking import compute, payable_of, stored_settlement
from yibao.services.claims.model import ClaimView, load, may, view_of
from yibao.services.encounters.context import Context
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = [
    "ClaimDetail",
    "EngineResult",
    "claim_detail",
    "engine_result",
    "list_claims",
    "overdue",
    "statement_html",
    "statement_rows",
    "write_statement_xlsx",
]


@dataclass(frozen=True, slots=True)
class ClaimDetail:
    claim: ClaimView
    invoices: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    events: list[dict[str, Any]]
    settlements: list[dict[str, Any]]


def _name(uow: UnitOfWork, row: Any) -> str | None:
    found = catalog.insuree_snapshots(uow, [row.psn_no], row.discharge_date)
    return found[row.psn_no].name if row.psn_no in found else None


def claim_detail(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> ClaimDetail:
    may(caller, "claim.read")
    with uow:
        row = load(uow, caller, claim_id)
        view = view_of(row, caller, ctx.now(), _name(uow, row))
        inv = [
            {
                "code": i.code,
                "number": i.number,
                "issued_on": i.issued_on,
                "amount_fen": i.amount_fen,
            }
            for i in uow.claims.invoices(claim_id)
        ]
        lines = [
            {
                k: getattr(ln, k)
                for k in (
                    "sn",
                    "item_code",
                    "item_name",
                    "service_date",
                    "price_e6",
                    "qty_e4",
                    "amount_fen",
                    "status",
                    "code",
                    "item_class",
                    "note",
                )
            }
            for ln in uow.claims.lines(claim_id)
        ]
        att = [
            {
                "sha256": a.sha256,
                "name": a.name,
                "doc_type": a.doc_type,
                "kind": a.kind,
                "size": a.size,
            }
            for a in uow.claims.attachments(claim_id)
        ]
        ev = [
            {
                "seq": e.seq,
                "kind": e.kind,
                "from": e.status_from,
                "to": e.status_to,
                "at": e.at,
                "actor": e.actor,
                "detail": e.detail,
            }
            for e in uow.claims.events(claim_id)
        ]
        st = [
            {
                "id": s.id,
                "kind": s.kind,
                "reverses": s.reverses,
                "booked_on": s.booked_on,
                "medfee_sumamt": s.medfee_sumamt,
                "payable_fen": s.payable_fen,
            }
            for s in uow.claims.settlements(claim_id)
        ]
    return ClaimDetail(view, inv, lines, att, ev, st)


def list_claims(
    uow: UnitOfWork,
    ctx: Context,
    caller: Principal,
    *,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ClaimView]:
    may(caller, "claim.read")
    town = caller.township_code if caller.role == "township_clerk" else None
    with uow:
        rows = uow.claims.claims(
            status=[status] if status else None, township=town, limit=limit, offset=offset
        )
    now = ctx.now()
    return [view_of(r, caller, now) for r in rows]


def overdue(uow: UnitOfWork, ctx: Context, caller: Principal) -> list[ClaimView]:
    """Claims whose running step is past its due time (a paused claim is not)."""
    may(caller, "claim.read")
    now = ctx.now()
    with uow:
        rows = uow.claims.overdue(now)
    town = caller.township_code if caller.role == "township_clerk" else None
    return [view_of(r, caller, now) for r in rows if town is None or r.township == town]


_FIELDS = (
    ("medfee_sumamt", "医疗费用总额"),
    ("fulamt_ownpay_amt", "全自费金额"),
    ("overlmt_selfpay", "超限价自费"),
    ("preselfpay_amt", "先行自付金额"),
    ("inscp_scp_amt", "符合政策范围金额"),
    ("act_pay_dedc", "起付标准"),
    ("hifp_pay", "统筹基金支付"),
    ("hifmi_pay", "大病保险支付"),
    ("hifob_pay", "大额医疗补助"),
    ("maf_pay", "医疗救助支付"),
    ("fiscal_pay", "新冠财政补助"),
    ("psn_cash_pay", "个人自付"),
)


def statement_rows(
    uow: UnitOfWork, caller: Principal, claim_id: str, *, masked: bool = False
) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """结算单: the head (masked as the role sees it, or always with ``masked``; the
    account always masked) and one row per amount: name, yuan, the rule, the clause
    from the settlement's trace."""
    may(caller, "claim.read")
    with uow:
        row = load(uow, caller, claim_id)
        if row.settlement_id is None:
            raise Conflict(f"报销申请 {claim_id} 尚未结算，没有结算单")
        s = stored_settlement(uow, row.settlement_id)
        name = _name(uow, row) or ""
    sees = caller.role in ("township_clerk", "clerk", "district_clerk") and not masked
    head = {
        "报销单号": row.id,
        "结算号": row.settlement_id,
        "参保人": name if sees else mask_name(name),
        "身份证号": row.psn_no if sees else mask_psn_no(row.psn_no),
        "就诊机构": f"{row.provider_name}（{row.provider_code}）",
        "就诊日期": f"{row.admit_date} 至 {row.discharge_date}",
        "收款人": row.payee_name if sees else mask_name(row.payee_name),
        "收款账号": f"{row.payee_bank} {mask_account(row.payee_account)}",
        "政策": s.pack_id,
    }
    trace = {t.field: t for t in s.trace}
    i = s.setlinfo._asdict()
    out = []
    for field, title in _FIELDS:
        t = trace.get(field)
        fen = int(i.get(field, t.amount if t else 0))
        if fen == 0 and field not in ("medfee_sumamt", "psn_cash_pay"):
            continue
        out.append((title, yuan_from_fen(fen), t.rule if t else "", t.clause if t else ""))
    payable = i["fund_pay_sumamt"] + i["fiscal_pay"]
    out.append(
        (
            "应付参保人",
            yuan_from_fen(payable),
            "基金支付 + 财政补助",
            "渝医保发〔2020〕3号 四（二）",
        )
    )
    return head, out


def statement_html(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, *, masked: bool = False
) -> str:
    """The printable 结算单 as one HTML page (escaped; prints on A4)."""
    head, rows = statement_rows(uow, caller, claim_id, masked=masked)
    e = html.escape
    h = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in head.items())
    r = "".join(
        f"<tr><td>{e(a)}</td><td class=n>{e(b)}</td><td>{e(c)}</td><td>{e(d)}</td></tr>"
        for a, b, c, d in rows
    )
    return (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>医疗费用手工报销结算单"
        "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
        "collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:4px 8px;text-align:"
        "left}.n{text-align:right}@media print{body{margin:0}}</style>"
        f"<h1>医疗费用手工报销结算单</h1><table>{h}</table><table><tr><th>项目</th>"
        f"<th>金额（元）</th><th>计算</th><th>依据</th></tr>{r}</table>"
        f"<p>打印时间：{e(ctx.now().strftime('%Y-%m-%d %H:%M'))}</p></html>"
    )


def write_statement_xlsx(
    uow: UnitOfWork, caller: Principal, claim_id: str, out: Path, *, masked: bool = False
) -> None:
    import openpyxl

    head, rows = statement_rows(uow, caller, claim_id, masked=masked)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "结算单"
    ws.append(["医疗费用手工报销结算单"])
    for k, v in head.items():
        ws.append([k, v])
    ws.append([])
    ws.append(["项目", "金额（元）", "计算", "依据"])
    for a, b, c, d in rows:
        ws.append([a, b, c, d])
    wb.save(out)


@dataclass(frozen=True, slots=True)
class EngineResult:
    """The engine's result for a claim as the reviewer sees it beside the fee list: the
    standing settlement once settled, else what settling now would give (``preview``);
    ``None`` with the reason while a line is still unknown."""

    stored: bool
    settlement_id: str | None
    settlement: Settlement | None
    payable_fen: int | None
    filing: str | None
    why_not: str | None


def engine_result(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> EngineResult:
    may(caller, "claim.read")
    with uow:
        row = load(uow, caller, claim_id)
        if row.settlement_id is not None:
            s = stored_settlement(uow, row.settlement_id)
            got = uow.claims.settlement(row.settlement_id)
            pay = int(got.payable_fen) if got is not None else payable_of(s)
            return EngineResult(True, row.settlement_id, s, pay, None, None)
        if row.status in ("paid", "in_batch", "rejected"):
            return EngineResult(False, None, None, None, None, "无结算")
        try:
            acc = uow.hospital.accumulators(row.psn_no, row.discharge_date.year)
            c = compute(uow, ctx, row, acc)
        except Conflict as exc:
            return EngineResult(False, None, None, None, None, exc.one_line())
    return EngineResult(False, None, c.settlement, payable_of(c.settlement), c.filing, None)
