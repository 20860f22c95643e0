"""Decoders of the file and document exchange transactions (9101/9102 files, 4101A
settlement lists, 1301–1307 catalog downloads; 3202 keeps ``statements.decode_3202`` and
its handler requires the detail file) and the writers of their answers: merged into
``DECODERS`` (this package's ``__init__``); later entries replace earlier ones.

- 9101 ``{"fsUploadIn": {in, filename, fixmedins_code}}`` (the node may be left out):
  ``in`` is the file's bytes as Base64 text (what Java and .NET clients write for a
  byte array) or as a JSON array of bytes (0–255, or Java's signed −128–127);
- 9102 ``{"fsDownloadIn": {file_qury_no, filename, fixmedins_code}}``;
- 4101A/4101 ``{setlinfo, diseinfo[], opspdiseinfo[], oprninfo[], icuinfo[], bldinfo[]}``;
- 1301/1305/1306/1307 ``{"data": {"ver": …}}``.

docs/NHSA.md, "Files, settlement lists and catalogs".
"""

from __future__ import annotations

import binascii
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from yibao.adapters.nhsa.codes import STMT_BALANCED, STMT_DETAIL, STMT_UNBALANCED
from yibao.adapters.nhsa.fields import (
    CST,
    Code,
    DateTime,
    Decoded,
    OptDateTime,
    OptText,
    Text,
    Wire,
    unknown_fields,
    validate,
)
from yibao.adapters.nhsa.inputs import Flag
from yibao.adapters.nhsa.numbers import yuan
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.reconcile import DetailDiff, DetailRow
from yibao.services.reports.settlement_lists import SettlementListIn

__all__ = [
    "CATALOG_INFNOS",
    "EXCHANGE_DECODERS",
    "MAX_UPLOAD_BYTES",
    "RESULT_COLUMNS",
    "CatalogRequest",
    "FileDownload",
    "FileUpload",
    "decode_4101a",
    "decode_9101",
    "decode_9102",
    "decode_catalog",
    "detail_statement_output",
    "result_file_rows",
    "wire_time",
]

MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # = services.reports.files.MAX_FILE_BYTES (a test holds it)
CATALOG_INFNOS = {"1301": "drugs", "1305": "services", "1306": "consumables", "1307": "diseases"}
"""The catalog downloads served, infno -> what they list (services.registry.downloads)."""


def wire_time(at: dt.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` on the platform's clock."""
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


# -- 9101 / 9102 -----------------------------------------------------------------------


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("nhsa_file", "{msg}", {"msg": message})


def _file_bytes(value: object) -> bytes:
    if isinstance(value, str):
        text = "".join(value.split())
        if len(text) > (MAX_UPLOAD_BYTES // 3 + 1) * 4:
            raise _fail(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            raise _fail("is neither Base64 text nor an array of bytes") from None
    if isinstance(value, list):
        if len(value) > MAX_UPLOAD_BYTES:
            raise _fail(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        if not all(isinstance(b, int) and not isinstance(b, bool) and -128 <= b <= 255
                   for b in value):  # fmt: skip
            raise _fail("an array of bytes holds integers from -128 to 255 only")
        return bytes(b & 0xFF for b in value)
    raise _fail("the file's bytes are required (Base64 text or an array of bytes)")


FileBytes = Annotated[bytes, BeforeValidator(_file_bytes)]


@dataclass(frozen=True, slots=True)
class FileUpload:
    """9101: a file to store. ``where`` is its node's key path (for errors)."""

    filename: str
    content: bytes
    fixmedins_code: str
    where: str


@dataclass(frozen=True, slots=True)
class FileDownload:
    """9102: the file asked for."""

    file_qury_no: str
    filename: str | None
    fixmedins_code: str | None
    where: str


class _FsUploadIn(Wire):
    content: FileBytes = Field(alias="in")
    filename: str
    fixmedins_code: Code


class _FsDownloadIn(Wire):
    file_qury_no: Code
    filename: OptText = None
    fixmedins_code: OptText = None


def _node(doc: Mapping[str, Any], name: str) -> tuple[object, str]:
    """The transaction's node, or the input itself when a client sends it flat."""
    if name in doc or not doc:
        return doc.get(name), f"input.{name}"
    return doc, "input"


def decode_9101(doc: Mapping[str, Any]) -> Decoded[FileUpload]:
    """9101 文件上传."""
    node, where = _node(doc, "fsUploadIn")
    w = validate(_FsUploadIn, node if node is not None else {}, where)
    unknown = unknown_fields(w, f"{where}.")
    return Decoded(FileUpload(w.filename, w.content, w.fixmedins_code, where), unknown)


def decode_9102(doc: Mapping[str, Any]) -> Decoded[FileDownload]:
    """9102 文件下载."""
    node, where = _node(doc, "fsDownloadIn")
    w = validate(_FsDownloadIn, node if node is not None else {}, where)
    rec = FileDownload(w.file_qury_no, w.filename, w.fixmedins_code, where)
    return Decoded(rec, unknown_fields(w, f"{where}."))


# -- 4101A -----------------------------------------------------------------------------

_SETLINFO_KNOWN = frozenset({
    "hi_no", "medcasno", "dcla_time", "ntly", "prfs", "curr_addr", "emp_name", "emp_addr",
    "emp_tel", "poscode", "coner_name", "patn_rlts", "coner_addr", "coner_tel",
    "nwb_adm_type", "nwb_bir_wt", "nwb_adm_wt", "mul_nwb_bir_wt", "mul_nwb_adm_wt",
    "opsp_diag_caty", "opsp_mdtrt_date", "adm_way", "trt_type", "adm_time", "adm_caty",
    "refldept_dept", "dscg_time", "dscg_caty", "act_ipt_days", "otp_wm_dise", "wm_dise_code",
    "otp_tcm_dise", "tcm_dise_code", "vent_used_dura", "pwcry_bfadm_coma_dura",
    "pwcry_afadm_coma_dura", "spga_nurscare_days", "lv1_nurscare_days", "scd_nurscare_days",
    "lv3_nurscare_days", "dscg_way", "acp_medins_name", "acp_optins_code", "bill_code",
    "bill_no", "biz_sn", "days_rinp_flag_31", "days_rinp_pup_31", "chfpdr_code",
    "chfpdr_name", "setl_begn_date", "setl_end_date", "medins_fill_dept", "medins_fill_psn",
    "resp_nurs_code", "stas_type", "hi_paymtd", "fixmedins_code", "fixmedins_name",
    "psn_name", "gend", "brdy", "age", "naty", "patn_cert_type", "certno", "insutype",
    "psn_ownpay", "psn_selfpay", "acct_pay", "psn_cashpay", "hi_type", "insuplc",
    "psn_no_type", "sp_psn_type", "nwb_flag", "diag_code_cnt", "oprn_oprt_code_cnt",
    "ipt_med_type", "setl_list_id",
})  # fmt: skip
"""setlinfo fields of 4101/4101A besides the three read (stored, not checked)."""


class _Setlinfo(Wire):
    known = _SETLINFO_KNOWN
    setl_id: Code
    mdtrt_id: Code
    psn_no: Code


class _Dise(Wire):
    known = frozenset({"psn_no", "mdtrt_id", "dise_dor_no", "dise_dor_name"})
    diag_type: Code  # 1 西医 2 中医主病 3 中医主证
    diag_code: Code
    diag_name: Text
    adm_cond_type: OptText = None  # 入院病情
    maindiag_flag: Flag = False


class _OpspDise(Wire):
    diag_name: Text
    diag_code: Code
    oprn_oprt_name: OptText = None
    oprn_oprt_code: OptText = None


class _Oprn(Wire):
    known = frozenset({"oper_dr_name", "anst_dr_name", "oprn_oprt_dept", "main_oprn_flag",
                       "anst_way", "oper_dr_code", "anst_dr_code", "anst_begntime",
                       "anst_endtime", "oprn_oprt_type"})  # fmt: skip
    oprn_oprt_name: Text
    oprn_oprt_code: Code
    oprn_oprt_begntime: OptDateTime = None
    oprn_oprt_endtime: OptDateTime = None


class _Icu(Wire):
    scs_cutd_ward_type: Code
    scs_cutd_inpool_time: DateTime
    scs_cutd_exit_time: DateTime
    scs_cutd_sum_dura: Text  # 天数/小时数/分钟数


class _Bld(Wire):
    bld_cat: Code
    bld_amt: OptText = None
    bld_unt: OptText = None


def _rows(value: object) -> object:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, Mapping) else value


Rows = BeforeValidator(_rows)


class _In4101A(Wire):
    known: ClassVar[frozenset[str]] = frozenset({"payinfo", "iteminfo"})  # 4101's nodes
    setlinfo: _Setlinfo
    diseinfo: Annotated[list[_Dise], Rows] = Field(default_factory=list)
    opspdiseinfo: Annotated[list[_OpspDise], Rows] = Field(default_factory=list)
    oprninfo: Annotated[list[_Oprn], Rows] = Field(default_factory=list)
    icuinfo: Annotated[list[_Icu], Rows] = Field(default_factory=list)
    bldinfo: Annotated[list[_Bld], Rows] = Field(default_factory=list)


_WESTERN = ("1", None)  # diag_type 1 西医诊断: checked against the disease registry


def decode_4101a(doc: Mapping[str, Any]) -> Decoded[SettlementListIn]:
    """4101A 医疗保障基金结算清单信息上传 (4101 too: its payinfo/iteminfo are stored)."""
    w = validate(_In4101A, doc, "input")
    problems: list[tuple[str, str]] = []
    if not w.diseinfo and not w.opspdiseinfo:
        problems.append(("input.diseinfo", "a settlement list names its diagnoses (diseinfo, "
                                           "or opspdiseinfo for 门诊慢特病)"))  # fmt: skip
    mains = [i for i, d in enumerate(w.diseinfo) if d.maindiag_flag]
    if w.diseinfo and len(mains) != 1:
        problems.append(("input.diseinfo", f"exactly one row has maindiag_flag 1 ({len(mains)} "
                                           "have)"))  # fmt: skip
    for i, o in enumerate(w.oprninfo):
        if (
            o.oprn_oprt_begntime
            and o.oprn_oprt_endtime
            and (o.oprn_oprt_endtime < o.oprn_oprt_begntime)
        ):
            problems.append((f"input.oprninfo[{i}].oprn_oprt_endtime", "is before its begntime"))
    for i, c in enumerate(w.icuinfo):
        if c.scs_cutd_exit_time < c.scs_cutd_inpool_time:
            problems.append((f"input.icuinfo[{i}].scs_cutd_exit_time", "is before inpool_time"))
    if problems:
        raise InvalidRequest.of(problems)
    codes = [(f"input.diseinfo[{i}].diag_code", d.diag_code) for i, d in enumerate(w.diseinfo)
             if d.diag_type in _WESTERN]  # fmt: skip
    codes += [(f"input.opspdiseinfo[{i}].diag_code", d.diag_code)
              for i, d in enumerate(w.opspdiseinfo)]  # fmt: skip
    s = w.setlinfo
    paths = {n: f"input.setlinfo.{n}" for n in ("setl_id", "mdtrt_id", "psn_no")}
    rec = SettlementListIn(s.setl_id, s.mdtrt_id, s.psn_no, tuple(codes), dict(doc), paths)
    return Decoded(rec, unknown_fields(w, "input."))


# -- 1301–1307 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogRequest:
    """A catalog download from version ``since`` (0: everything)."""

    since: int


def _ver(value: object) -> object:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return 0
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or len(text) > 18:
        raise _fail(f"{value!r} is not a version this platform issued (a whole number; 0 "
                    "for the whole catalog)")  # fmt: skip
    return int(text)


class _CatalogData(Wire):
    ver: Annotated[int, BeforeValidator(_ver)] = 0


class _InCatalog(Wire):
    data: _CatalogData = Field(default_factory=_CatalogData)


def decode_catalog(doc: Mapping[str, Any]) -> Decoded[CatalogRequest]:
    """1301/1305/1306/1307 ``{"data": {"ver": "…"}}`` (``ver`` flat in ``input`` too)."""
    if "data" not in doc and "ver" in doc:
        doc = {"data": doc}
    w = validate(_InCatalog, doc, "input")
    return Decoded(CatalogRequest(w.data.ver), unknown_fields(w, "input."))


# -- 3202's answer and result file -----------------------------------------------------

RESULT_COLUMNS = ("psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag",
                  "memo", "medfee_sumamt", "fund_pay_sumamt", "acct_pay")  # fmt: skip
"""The 3202 result file's columns (result.txt), in the platform's order."""
_WHY = {"ours_only": "中心有, 机构无", "declared_only": "机构有, 中心无",
        "amounts_differ": "金额不符"}  # fmt: skip


def result_file_rows(
    ours: Mapping[tuple[str, bool], DetailRow],
    diffs: Sequence[DetailDiff],
    declared: Sequence[DetailRow],
    msgids: Mapping[tuple[str, bool], str | None],
    show_psn_no: Callable[[str], str],
) -> list[list[object]]:
    """Every settlement on either side with its ``stmt_rslt`` (0 match, 1 only ours,
    2 only the hospital's, 3 amounts differ) and, in ``memo``, what differs."""
    status = {(d.settlement_id, d.refund): d for d in diffs}
    theirs = {(r.settlement_id, r.refund): r for r in declared}
    out: list[list[object]] = []
    for key in sorted(set(ours) | set(theirs)):
        row = ours.get(key) or theirs[key]
        diff = status.get(key)
        memo = None
        if diff is not None:
            parts = [f"{x.field} 中心 {yuan(x.ours)} / 机构 {yuan(x.declared)}"
                     for x in diff.differences]  # fmt: skip
            memo = "; ".join([_WHY[diff.status], *parts])
        out.append([show_psn_no(row.insuree_id), row.encounter_id, row.settlement_id,
                    msgids.get(key), STMT_DETAIL[diff.status if diff else "match"],
                    "1" if row.refund else "0", memo, yuan(row.medfee_sumamt),
                    yuan(row.fund_pay_sumamt), yuan(row.acct_pay)])  # fmt: skip
    return out


def detail_statement_output(
    balanced_totals: bool,
    totals_output: dict[str, Any],
    diffs: Sequence[DetailDiff],
    file_rows: int,
    fileinfo: dict[str, Any],
) -> dict[str, object]:
    """3202's answer: ``stmtinfo`` (the totals' verdict, and the lines') and ``fileinfo``
    (the result file to download with 9102)."""
    info = dict(totals_output["stmtinfo"])
    if diffs:
        counts = {s: sum(1 for d in diffs if d.status == s) for s in _WHY}
        named = ", ".join(f"{d.settlement_id}{'(退)' if d.refund else ''} {_WHY[d.status]}"
                          for d in diffs)  # fmt: skip
        lines = (f"明细 {file_rows} 笔, 不符 {len(diffs)} 笔 (中心有机构无 "
                 f"{counts['ours_only']}, 机构有中心无 {counts['declared_only']}, 金额不符 "
                 f"{counts['amounts_differ']}): {named}")  # fmt: skip
        head = "" if balanced_totals else f"{info['stmt_rslt_dscr']}; "
        text = head + lines
        info["stmt_rslt"] = STMT_UNBALANCED
        info["stmt_rslt_dscr"] = text if len(text) <= 200 else text[:199] + "…"
    elif balanced_totals:
        info["stmt_rslt"] = STMT_BALANCED
        info["stmt_rslt_dscr"] = f"对账平, 明细 {file_rows} 笔相符"
    return {"stmtinfo": info, "fileinfo": fileinfo}


EXCHANGE_DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {
    "9101": decode_9101,
    "9102": decode_9102,
    "4101": decode_4101a,
    "4101A": decode_4101a,
    **dict.fromkeys(CATALOG_INFNOS, decode_catalog),
}
"""infno -> input decoder (issue 16: file exchange)."""
