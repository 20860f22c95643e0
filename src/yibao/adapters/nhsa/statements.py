"""Reconciliation with hospitals on the wire: 3201 对总账 and 3202 对明细账.

The arithmetic is the ledger's (``yibao.core.ledger.reconcile``); this module decodes
the hospital's declared totals and detail rows and encodes the result:
``{"stmtinfo": {setl_optins, stmt_rslt, stmt_rslt_dscr}}`` and 3202's result rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yibao.adapters.nhsa.codes import STMT_BALANCED, STMT_DETAIL, STMT_UNBALANCED, scheme_of
from yibao.adapters.nhsa.fields import Date, Decoded, OptText, Text, Wire, unknown_fields, validate
from yibao.adapters.nhsa.inputs import Flag
from yibao.adapters.nhsa.numbers import Fen, OptFen, yuan
from yibao.adapters.nhsa.records import StatementRequest
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.reconcile import DetailDiff, DetailRow, Reconciliation, Totals

__all__ = [
    "decode_3201",
    "decode_3202",
    "decode_3202_details",
    "detail_result_rows",
    "statement_output",
]


class _Data3201(Wire):
    known = frozenset({"refd_setl_flag"})
    insutype: OptText = None
    clr_type: OptText = None
    setl_optins: OptText = None
    stmt_begndate: Date
    stmt_enddate: Date
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen = 0
    cash_payamt: Fen = 0
    fixmedins_setl_cnt: int
    file_qury_no: OptText = None


class _In3201(Wire):
    data: _Data3201


def _statement(doc: Mapping[str, Any]) -> Decoded[StatementRequest]:
    w = validate(_In3201, doc, "input")
    unknown = unknown_fields(w, "input.")
    d = w.data
    if d.stmt_enddate < d.stmt_begndate:
        raise InvalidRequest.of([("input.data.stmt_enddate", "ends before stmt_begndate")])
    declared = Totals(d.medfee_sumamt, d.fund_pay_sumamt, d.acct_pay, d.cash_payamt,
                      d.fixmedins_setl_cnt)  # fmt: skip
    return Decoded(StatementRequest(d.insutype, scheme_of(d.insutype), d.clr_type,
                                    d.setl_optins, d.stmt_begndate, d.stmt_enddate, declared,
                                    d.file_qury_no), unknown)  # fmt: skip


def decode_3201(doc: Mapping[str, Any]) -> Decoded[StatementRequest]:
    """3201 对总账: ``{"data": {insutype, clr_type, setl_optins, stmt_begndate, …}}``."""
    return _statement(doc)


def decode_3202(doc: Mapping[str, Any]) -> Decoded[StatementRequest]:
    """3202 对明细账 (header; the rows come in the uploaded file: decode_3202_details)."""
    return _statement(doc)


class _DetailRow(Wire):
    known = frozenset({"msgid", "memo", "stmt_rslt"})
    psn_no: Text
    mdtrt_id: Text
    setl_id: Text
    refd_setl_flag: Flag = False
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: OptFen = None


class _Details(Wire):
    rows: list[_DetailRow]


def decode_3202_details(rows: list[Mapping[str, Any]]) -> Decoded[tuple[DetailRow, ...]]:
    """The 3202 detail file's rows (psn_no, mdtrt_id, setl_id, msgid, medfee_sumamt,
    fund_pay_sumamt, acct_pay, refd_setl_flag), read by the service from the file."""
    wire = validate(_Details, {"rows": rows}, "file")
    out = tuple(DetailRow(r.setl_id, r.mdtrt_id, r.psn_no, r.refd_setl_flag, r.medfee_sumamt,
                          r.fund_pay_sumamt, r.acct_pay or 0) for r in wire.rows)  # fmt: skip
    return Decoded(out, unknown_fields(wire, "file."))


_LABELS = {"medfee_sumamt": "医疗费总额", "fund_pay_sumamt": "基金支付总额",
           "acct_pay": "个人账户支付", "psn_cash_pay": "现金支付",
           "settlement_count": "结算笔数"}  # fmt: skip


def _shown(field: str, fen: int) -> str:
    return str(fen) if field == "settlement_count" else f"{yuan(fen)}元"


def statement_output(result: Reconciliation, *, clearing_agency: str | None) -> dict[str, object]:
    """3201/3202 ``{"stmtinfo": {setl_optins, stmt_rslt, stmt_rslt_dscr}}``."""
    if result.balanced:
        text = "对账平"
    else:
        parts = (f"{_LABELS[d.field]} 中心 {_shown(d.field, d.ours)} / 机构 "
                 f"{_shown(d.field, d.declared)}" for d in result.differences)  # fmt: skip
        text = "不平: " + "; ".join(parts)
    text = text if len(text) <= 200 else text[:199] + "…"
    code = STMT_BALANCED if result.balanced else STMT_UNBALANCED
    return {"stmtinfo": {"setl_optins": clearing_agency, "stmt_rslt": code, "stmt_rslt_dscr": text}}


def detail_result_rows(
    ours: Mapping[tuple[str, bool], DetailRow], diffs: Sequence[DetailDiff],
    declared: Sequence[DetailRow],
) -> list[dict[str, object]]:  # fmt: skip
    """3202's result file rows: every settlement on either side with its stmt_rslt."""
    status = {(d.settlement_id, d.refund): d for d in diffs}
    theirs = {(r.settlement_id, r.refund): r for r in declared}
    rows: list[dict[str, object]] = []
    for key in sorted(set(ours) | set(theirs)):
        row = ours.get(key) or theirs[key]
        diff = status.get(key)
        rows.append({
            "psn_no": row.insuree_id, "mdtrt_id": row.encounter_id, "setl_id": row.settlement_id,
            "refd_setl_flag": "1" if row.refund else "0",
            "stmt_rslt": STMT_DETAIL[diff.status if diff else "match"],
            "memo": None if diff is None else ",".join(x.field for x in diff.differences) or None,
            "medfee_sumamt": yuan(row.medfee_sumamt), "fund_pay_sumamt": yuan(row.fund_pay_sumamt),
            "acct_pay": yuan(row.acct_pay),
        })  # fmt: skip
    return rows
