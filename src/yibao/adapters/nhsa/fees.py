"""2301 fee upload, 2302 fee cancel, and the 2301 ``result`` rows.

The wire's units are ours (SETTLEMENT.md §1): ``pric`` (16,6) is ``price_e6`` and
``cnt`` (16,4) is ``qty_e4``, 1:1, parsed exactly from the JSON text (never through a
float). A value with more decimals than its unit, a negative ``pric``, or a line whose
``pric × |cnt|`` exceeds 2^63 − 1 (in those units) is refused — never rounded — with
its national key path and ``feedetl_sn`` in the message, and so is a line whose
``det_item_fee_sumamt`` is not ``pric × cnt`` rounded half up to the fen
(``line_amount``; a refund line's negative ``cnt`` rounds symmetrically, so a refund
exactly negates its line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator

from yibao.adapters.nhsa.codes import chrgitm_type_of
from yibao.adapters.nhsa.fields import Decoded, OptDateTime, OptText, Text, Wire, unknown_fields
from yibao.adapters.nhsa.fields import validate as validate_wire
from yibao.adapters.nhsa.numbers import Fen, Price6, Qty4, fen_text, ratio, yuan
from yibao.adapters.nhsa.records import FeeCancel, FeeLine
from yibao.core.engine.lines import RULE_COVERED
from yibao.core.engine.model import Line, LineResult
from yibao.core.errors import InvalidRequest, Problem
from yibao.core.money import BP_ONE, MAX_I64, line_amount

__all__ = ["ALL_LINES", "decode_2301", "decode_2302", "fee_results"]

ALL_LINES = "0000"  # 2302: feedetl_sn "0000" cancels every unsettled line


def _listify(value: object) -> object:
    return [value] if isinstance(value, Mapping) else value


class _Fee(Wire):
    known = frozenset({
        "bilg_dept_name", "bilg_dr_name", "acord_dept_codg", "acord_dept_name",
        "orders_dr_code", "orders_dr_name", "hosp_appr_flag", "tcmdrug_used_way", "etip_flag",
        "etip_hosp_code", "dscg_tkdrug_flag", "matn_fee_flag", "memo", "chrg_bchno",
        "dise_codg", "rxno", "rx_circ_flag", "sin_dos_dscr", "used_frqu_dscr", "prd_days",
        "medc_way_dscr",
    })  # fmt: skip
    feedetl_sn: Text
    init_feedetl_sn: OptText = None
    mdtrt_id: Text
    psn_no: OptText = None
    drord_no: OptText = None
    fee_ocur_time: OptDateTime = None
    med_list_codg: Text
    medins_list_codg: OptText = None
    det_item_fee_sumamt: Fen
    cnt: Qty4
    pric: Price6
    bilg_dept_codg: OptText = None
    bilg_dr_codg: OptText = None
    med_type: OptText = None


class _In2301(Wire):
    feedetail: Annotated[list[_Fee], BeforeValidator(_listify)]


def _sn_of(doc: Mapping[str, Any], index: int) -> str:
    rows = doc.get("feedetail")
    rows = [rows] if isinstance(rows, Mapping) else rows
    if isinstance(rows, list) and index < len(rows) and isinstance(rows[index], Mapping):
        sn = rows[index].get("feedetl_sn")
        if sn not in (None, ""):
            return str(sn)
    return f"#{index + 1} (no feedetl_sn)"


_ROW = re.compile(r"^input\.feedetail\[(\d+)\]")


def _explain(doc: Mapping[str, Any]) -> Any:
    def explain(problem: Problem) -> Problem:
        path, message = problem
        m = _ROW.match(path)
        if m is not None:
            return path, f"feedetl_sn {_sn_of(doc, int(m.group(1)))}: {message}"
        return problem

    return explain


def _line_problems(f: _Fee, at: str) -> list[Problem]:
    sn, out = f.feedetl_sn, []
    if f.pric < 0:
        out.append((f"{at}.pric", f"feedetl_sn {sn}: pric may not be negative"))
    elif f.pric > MAX_I64:
        out.append((f"{at}.pric", f"feedetl_sn {sn}: pric {fen_text(f.pric, 6)} is too large"))
    if abs(f.cnt) > MAX_I64:
        out.append((f"{at}.cnt", f"feedetl_sn {sn}: cnt {fen_text(f.cnt, 4)} is too large"))
    elif not out and f.pric * abs(f.cnt) > MAX_I64:
        out.append((f"{at}.cnt", f"feedetl_sn {sn}: pric × cnt = {fen_text(f.pric, 6)} × "
                    f"{fen_text(f.cnt, 4)} is too large (at most 2^63 − 1 in 10^-6 yuan × "
                    f"10^-4, a line of about 922 million yuan)"))  # fmt: skip
    if out:
        return out
    want = line_amount(f.pric, abs(f.cnt)) * (-1 if f.cnt < 0 else 1)
    if f.det_item_fee_sumamt != want:
        return [(f"{at}.det_item_fee_sumamt",
                 f"feedetl_sn {sn}: det_item_fee_sumamt {yuan(f.det_item_fee_sumamt)} is not "
                 f"pric × cnt = {yuan(want)} (rounded half up to the fen)")]  # fmt: skip
    return []


def decode_2301(doc: Mapping[str, Any]) -> Decoded[tuple[FeeLine, ...]]:
    """2301 住院费用明细上传: ``{"feedetail": [...]}`` -> exact ``FeeLine``s, or one
    ``InvalidRequest`` listing every refused line by ``feedetl_sn``."""
    w = validate_wire(_In2301, doc, "input", _explain(doc))
    problems: list[Problem] = []
    seen: set[str] = set()
    for n, f in enumerate(w.feedetail):
        problems += _line_problems(f, f"input.feedetail[{n}]")
        if f.feedetl_sn in seen:
            problems.append((f"input.feedetail[{n}].feedetl_sn",
                             f"feedetl_sn {f.feedetl_sn} appears twice in the upload"))  # fmt: skip
        seen.add(f.feedetl_sn)
    if problems:
        raise InvalidRequest.of(problems)
    lines = tuple(FeeLine(
        sn=f.feedetl_sn, reverses_sn=f.init_feedetl_sn, encounter_id=f.mdtrt_id,
        insuree_id=f.psn_no, code=f.med_list_codg, hospital_code=f.medins_list_codg,
        amount_fen=f.det_item_fee_sumamt, price_e6=f.pric, qty_e4=f.cnt,
        service_time=f.fee_ocur_time, order_no=f.drord_no, dept=f.bilg_dept_codg,
        doctor=f.bilg_dr_codg, med_type=f.med_type) for f in w.feedetail)  # fmt: skip
    return Decoded(lines, unknown_fields(w, "input."))


class _Data2302(Wire):
    feedetl_sn: Text
    mdtrt_id: Text
    psn_no: OptText = None


class _In2302(Wire):
    data: Annotated[list[_Data2302], BeforeValidator(_listify)]


def decode_2302(doc: Mapping[str, Any]) -> Decoded[tuple[FeeCancel, ...]]:
    """2302 住院费用明细撤销: ``{"data": {feedetl_sn, mdtrt_id, psn_no}}``, or ``data``
    as a list of such rows (real HIS send several lines at once); ``feedetl_sn`` "0000"
    cancels every unsettled line (``sn`` None). Every row names one ``mdtrt_id``."""
    w = validate_wire(_In2302, doc, "input")
    if not w.data:
        raise InvalidRequest.of([("input.data", "names no line to cancel")])
    if len({d.mdtrt_id for d in w.data}) != 1:
        raise InvalidRequest.of([("input.data", "every row must name one mdtrt_id")])
    out = tuple(FeeCancel(d.mdtrt_id, d.psn_no, None if d.feedetl_sn == ALL_LINES
                          else d.feedetl_sn) for d in w.data)  # fmt: skip
    return Decoded(out, unknown_fields(w, "input."))


def _selfpay_bp(line: Line, result: LineResult) -> int:
    """The self-pay share the line was split with (selfpay_prop)."""
    if result.rule == RULE_COVERED or result.chrgitm_lv == "01":
        return 0
    return BP_ONE if result.chrgitm_lv == "03" else line.selfpay_bp


def fee_results(
    lines: Sequence[Line],
    results: Sequence[LineResult],
    *,
    chrgitm_types: Mapping[str, str] | None = None,
    restricted: Mapping[str, bool] | None = None,
) -> dict[str, list[dict[str, object]]]:
    """2301's output ``{"result": [...]}``: one row per line, in our split.

    ``chrgitm_types`` (sn -> 医疗收费项目类别) and ``restricted`` (sn -> 限制使用) come
    from the catalog when the service has them; otherwise ``med_chrgitm_type`` is a
    drug's by its national code (X 09, Z 11, T 10) or our coarse category's code
    (codes.chrgitm_type_of) and ``lmt_used_flag`` is null. ``pric_uplmt_amt`` is the
    line's price cap, or its own ``pric`` where the catalog sets none (nothing is over
    the limit)."""
    rows: list[dict[str, object]] = []
    for line, r in zip(lines, results, strict=True):
        if line.sn != r.feedetl_sn:
            raise ValueError(f"line {line.sn} is paired with result {r.feedetl_sn}")
        flag = (restricted or {}).get(line.sn)
        cap = line.price_cap_e6
        rows.append({
            "feedetl_sn": line.sn,
            "det_item_fee_sumamt": yuan(r.det_item_fee_sumamt),
            "cnt": fen_text(line.qty_e4, 4),
            "pric": fen_text(line.price_e6, 6),
            "pric_uplmt_amt": fen_text(line.price_e6 if cap is None else cap, 6),
            "selfpay_prop": ratio(_selfpay_bp(line, r)),
            "fulamt_ownpay_amt": yuan(r.fulamt_ownpay_amt),
            "overlmt_amt": yuan(r.overlmt_amt),
            "preselfpay_amt": yuan(r.preselfpay_amt),
            "inscp_scp_amt": yuan(r.inscp_scp_amt),
            "chrgitm_lv": r.chrgitm_lv,
            "med_chrgitm_type": (chrgitm_types or {}).get(line.sn)
            or chrgitm_type_of(line.code, line.category),
            "lmt_used_flag": None if flag is None else ("1" if flag else "0"),
            "bas_medn_flag": None,
            "hi_nego_drug_flag": None,
            "chld_medc_flag": None,
            "list_sp_item_flag": None,
            "drt_reim_flag": None,
            "memo": None,
        })  # fmt: skip
    return {"result": rows}
