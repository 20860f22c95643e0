"""Input decoders: a transaction's ``input`` -> a record in our vocabulary (records.py).

One wire model per payload (national names, the spec's other fields in ``known``),
one ``decode_<infno>`` per transaction; errors are one ``InvalidRequest`` naming every
national key path (``input.mdtrtinfo.begntime``). 2301/2302 live in fees.py,
3201/3202 in statements.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

from yibao.adapters.nhsa.codes import scheme_of
from yibao.adapters.nhsa.fields import (
    Code,
    Date,
    DateTime,
    Decoded,
    OptDateTime,
    OptText,
    Text,
    Wire,
    unknown_fields,
    validate,
)
from yibao.adapters.nhsa.numbers import Fen
from yibao.adapters.nhsa.records import (
    Admission,
    AdmissionCancel,
    Compensate,
    CumulativeQuery,
    Diagnosis,
    Discharge,
    PersonQuery,
    ReversalRequest,
    SettlementRequest,
    SignInRequest,
    SignOutRequest,
    TransferCancel,
    TransferFiling,
)
from yibao.core.errors import InvalidRequest

__all__ = [
    "decode_1101",
    "decode_2303",
    "decode_2304",
    "decode_2305",
    "decode_2401",
    "decode_2402",
    "decode_2404",
    "decode_2501",
    "decode_2502",
    "decode_2601",
    "decode_5206",
    "decode_9001",
    "decode_9002",
]


def _listify(value: object) -> object:
    """diseinfo: the spec says a list, real 2401s send one object; ``null`` is none."""
    if value is None or value == "":
        return []
    return [value] if isinstance(value, Mapping) else value


def _flag(value: object) -> object:
    """A 0/1 flag, as "0"/"1" or 0/1."""
    if value in ("1", 1):
        return True
    if value in ("0", 0, None, ""):
        return False
    return value  # pydantic refuses anything else


Flag = Annotated[bool, BeforeValidator(_flag)]
Count = Annotated[int, Field(ge=0)]


def _decode(model: type[Wire], doc: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
    wire = validate(model, doc, "input")
    return wire, unknown_fields(wire, "input.")


class _Data1101(Wire):
    mdtrt_cert_type: Code
    mdtrt_cert_no: Text
    psn_no: OptText = None
    card_sn: OptText = None
    psn_cert_type: OptText = None
    certno: OptText = None
    psn_name: OptText = None
    begntime: OptDateTime = None


class _In1101(Wire):
    data: _Data1101


def decode_1101(doc: Mapping[str, Any]) -> Decoded[PersonQuery]:
    """1101 人员信息获取: ``{"data": {...}}``."""
    w, unknown = _decode(_In1101, doc)
    d = w.data
    query = PersonQuery(d.mdtrt_cert_type, d.mdtrt_cert_no, d.psn_no, d.card_sn,
                        d.psn_cert_type, d.certno, d.psn_name, d.begntime)  # fmt: skip
    return Decoded(query, unknown)


class _Dise(Wire):
    known = frozenset({"psn_no", "mdtrt_id", "adm_cond", "dise_dor_name", "vali_flag"})
    diag_code: Code
    diag_name: OptText = None
    maindiag_flag: Flag = False
    diag_srt_no: Annotated[int | None, BeforeValidator(lambda v: None if v == "" else v)] = None
    diag_type: OptText = None
    diag_dept: OptText = None
    dise_dor_no: OptText = None
    diag_time: OptDateTime = None


DiseList = Annotated[list[_Dise], BeforeValidator(_listify)]


def _diagnoses(rows: list[_Dise]) -> tuple[Diagnosis, ...]:
    return tuple(Diagnosis(r.diag_code, r.diag_name, r.maindiag_flag, r.diag_srt_no, r.diag_type,
                           r.diag_dept, r.dise_dor_no, r.diag_time) for r in rows)  # fmt: skip


_STAY_KNOWN = frozenset({
    "coner_name", "tel", "medrcdno", "chfpdr_name", "adm_diag_dscr", "adm_dept_name",
    "dscg_maindiag_code", "dscg_maindiag_name", "main_cond_dscr", "dise_codg", "dise_name",
    "oprn_oprt_code", "oprn_oprt_name", "fpsc_no", "matn_type", "birctrl_type", "latechb_flag",
    "geso_val", "fetts", "fetus_cnt", "pret_flag", "birctrl_matn_date", "dise_type_code",
    "exp_content", "cop_flag", "dscg_dept_name", "dscg_bed", "die_date",
})  # fmt: skip


class _Mdtrtinfo(Wire):
    known = _STAY_KNOWN
    psn_no: Text
    insutype: Code
    begntime: DateTime
    med_type: Code
    mdtrt_cert_type: OptText = None
    mdtrt_cert_no: OptText = None
    ipt_no: OptText = None
    adm_dept_codg: OptText = None
    adm_bed: OptText = None
    atddr_no: OptText = None
    insuplc_admdvs: OptText = None
    mdtrtarea_admvs: OptText = None


class _In2401(Wire):
    mdtrtinfo: _Mdtrtinfo
    diseinfo: DiseList = Field(default_factory=list)


def decode_2401(doc: Mapping[str, Any]) -> Decoded[Admission]:
    """2401 入院办理: ``{"mdtrtinfo": {...}, "diseinfo": [...] or {...}}``."""
    w, unknown = _decode(_In2401, doc)
    m = w.mdtrtinfo
    return Decoded(Admission(
        m.psn_no, m.insutype, scheme_of(m.insutype), m.med_type, m.begntime, m.mdtrt_cert_type,
        m.mdtrt_cert_no, m.ipt_no, m.adm_dept_codg, m.adm_bed, m.atddr_no, m.insuplc_admdvs,
        m.mdtrtarea_admvs, _diagnoses(w.diseinfo)), unknown)  # fmt: skip


class _Visit(Wire):
    mdtrt_id: Text
    psn_no: Text


class _In2404(Wire):
    data: _Visit


def decode_2404(doc: Mapping[str, Any]) -> Decoded[AdmissionCancel]:
    """2404 入院办理撤销: ``{"data": {mdtrt_id, psn_no}}``."""
    w, unknown = _decode(_In2404, doc)
    return Decoded(AdmissionCancel(w.data.mdtrt_id, w.data.psn_no), unknown)


class _Dscginfo(Wire):
    known = _STAY_KNOWN | {"insuplc_admdvs", "mdtrtarea_admvs"}
    mdtrt_id: Text
    psn_no: Text
    insutype: OptText = None
    endtime: DateTime
    dscg_way: OptText = None
    dscg_dept_codg: OptText = None


class _In2402(Wire):
    dscginfo: _Dscginfo
    diseinfo: DiseList = Field(default_factory=list)


def decode_2402(doc: Mapping[str, Any]) -> Decoded[Discharge]:
    """2402 出院办理: ``{"dscginfo": {...}, "diseinfo": [...] or {...}}``."""
    w, unknown = _decode(_In2402, doc)
    d = w.dscginfo
    return Decoded(Discharge(d.mdtrt_id, d.psn_no, d.insutype, d.endtime, d.dscg_way,
                             d.dscg_dept_codg, _diagnoses(w.diseinfo)), unknown)  # fmt: skip


class _Data2304(Wire):
    known = frozenset({"fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                       "chrg_bchno", "med_type", "pub_hosp_rfom_flag"})  # fmt: skip
    psn_no: Text
    mdtrt_id: Text
    medfee_sumamt: Fen
    acct_used_flag: Flag = False
    insutype: OptText = None
    mdtrt_cert_type: OptText = None
    mdtrt_cert_no: OptText = None
    psn_setlway: OptText = None
    mid_setl_flag: Flag = False
    invono: OptText = None


class _In2304(Wire):
    data: _Data2304


def _settle(doc: Mapping[str, Any], pre: bool) -> Decoded[SettlementRequest]:
    w, unknown = _decode(_In2304, doc)
    d = w.data
    if d.medfee_sumamt < 0:
        raise InvalidRequest.of([("input.data.medfee_sumamt", "a total may not be negative")])
    return Decoded(SettlementRequest(
        pre, d.psn_no, d.mdtrt_id, d.medfee_sumamt, d.acct_used_flag, d.insutype,
        scheme_of(d.insutype), d.mdtrt_cert_type, d.mdtrt_cert_no, d.psn_setlway,
        d.mid_setl_flag, d.invono), unknown)  # fmt: skip


def decode_2303(doc: Mapping[str, Any]) -> Decoded[SettlementRequest]:
    """2303 住院预结算: ``{"data": {...}}``."""
    return _settle(doc, pre=True)


def decode_2304(doc: Mapping[str, Any]) -> Decoded[SettlementRequest]:
    """2304 住院结算: ``{"data": {...}}``."""
    return _settle(doc, pre=False)


class _Data2305(_Visit):
    setl_id: Text


class _In2305(Wire):
    data: _Data2305


def decode_2305(doc: Mapping[str, Any]) -> Decoded[ReversalRequest]:
    """2305 住院结算撤销: ``{"data": {mdtrt_id, setl_id, psn_no}}``."""
    w, unknown = _decode(_In2305, doc)
    return Decoded(ReversalRequest(w.data.mdtrt_id, w.data.setl_id, w.data.psn_no), unknown)


class _Refmedin(Wire):
    known = frozenset({"tel", "addr", "insu_optins", "dise_cond_dscr", "hosp_agre_refl_flag",
                       "refl_opnn", "refl_used_flag", "refl_fil_type"})  # fmt: skip
    psn_no: Text
    insutype: OptText = None
    diag_code: OptText = None
    diag_name: OptText = None
    reflin_medins_no: OptText = None
    reflin_medins_name: OptText = None
    mdtrtarea_admdvs: OptText = None
    refl_type: OptText = None
    refl_date: Annotated[Date | None, BeforeValidator(lambda v: v or None)] = None
    refl_rea: OptText = None
    begndate: Annotated[Date | None, BeforeValidator(lambda v: v or None)] = None
    enddate: Annotated[Date | None, BeforeValidator(lambda v: v or None)] = None


class _In2501(Wire):
    refmedin: _Refmedin


def decode_2501(doc: Mapping[str, Any]) -> Decoded[TransferFiling]:
    """2501 转院备案: ``{"refmedin": {...}}``."""
    w, unknown = _decode(_In2501, doc)
    r = w.refmedin
    return Decoded(TransferFiling(
        r.psn_no, r.insutype, r.diag_code, r.diag_name, r.reflin_medins_no, r.reflin_medins_name,
        r.mdtrtarea_admdvs, r.refl_type, r.refl_date, r.refl_rea, r.begndate, r.enddate),
        unknown)  # fmt: skip


class _Data2502(Wire):
    psn_no: Text
    trt_dcla_detl_sn: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    memo: OptText = None


class _In2502(Wire):
    data: _Data2502


def decode_2502(doc: Mapping[str, Any]) -> Decoded[TransferCancel]:
    """2502 转院备案撤销: ``{"data": {psn_no, trt_dcla_detl_sn, memo}}``."""
    w, unknown = _decode(_In2502, doc)
    d = w.data
    return Decoded(TransferCancel(d.psn_no, d.trt_dcla_detl_sn, d.memo), unknown)


class _Data2601(Wire):
    psn_no: Text
    omsgid: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    oinfno: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class _In2601(Wire):
    data: _Data2601


def decode_2601(doc: Mapping[str, Any]) -> Decoded[Compensate]:
    """2601 冲正交易: ``{"data": {psn_no, omsgid, oinfno}}``."""
    w, unknown = _decode(_In2601, doc)
    return Decoded(Compensate(w.data.psn_no, w.data.omsgid, w.data.oinfno), unknown)


class _Data5206(Wire):
    psn_no: Text
    cum_ym: Annotated[str, StringConstraints(pattern=r"^\d{4}(0[1-9]|1[0-2])$")]


class _In5206(Wire):
    data: _Data5206


def decode_5206(doc: Mapping[str, Any]) -> Decoded[CumulativeQuery]:
    """5206 人员累计信息查询: ``{"data": {psn_no, cum_ym}}`` (cum_ym yyyyMM)."""
    w, unknown = _decode(_In5206, doc)
    ym = w.data.cum_ym
    return Decoded(CumulativeQuery(w.data.psn_no, int(ym[:4]), int(ym[4:])), unknown)


class _SignIn(Wire):
    opter_no: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    mac: OptText = None
    ip: OptText = None


class _In9001(Wire):
    signIn: _SignIn


def decode_9001(doc: Mapping[str, Any]) -> Decoded[SignInRequest]:
    """9001 签到: ``{"signIn": {opter_no, mac, ip}}``."""
    w, unknown = _decode(_In9001, doc)
    return Decoded(SignInRequest(w.signIn.opter_no, w.signIn.mac, w.signIn.ip), unknown)


class _SignOut(Wire):
    sign_no: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    opter_no: OptText = None


class _In9002(Wire):
    signOut: _SignOut


def decode_9002(doc: Mapping[str, Any]) -> Decoded[SignOutRequest]:
    """9002 签退: ``{"signOut": {sign_no, opter_no}}``."""
    w, unknown = _decode(_In9002, doc)
    return Decoded(SignOutRequest(w.signOut.sign_no, w.signOut.opter_no), unknown)


DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {
    "1101": decode_1101,
    "2303": decode_2303,
    "2304": decode_2304,
    "2305": decode_2305,
    "2401": decode_2401,
    "2402": decode_2402,
    "2404": decode_2404,
    "2501": decode_2501,
    "2502": decode_2502,
    "2601": decode_2601,
    "5206": decode_5206,
    "9001": decode_9001,
    "9002": decode_9002,
}
"""infno -> decoder (the package adds 2301/2302 from fees.py, 3201/3202 from
statements.py)."""
