"""Decoded inputs: plain frozen records in our vocabulary (GLOSSARY.md "ours").

Money is integer fen, ratios basis points, unit prices millionths of a yuan (``pric``
× 10^6) and quantities ten-thousandths (``cnt`` × 10^4); national codes the
engine does not interpret (``med_type``, ``clr_type``, ``mdtrt_cert_type`` …) stay the
national code strings. ``scheme`` is ``employee`` / ``resident`` for insutype 310 / 390
and ``None`` for any other (local) insutype, whose code ``scheme_code`` keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.core.ledger.reconcile import Totals

__all__ = [
    "Admission",
    "AdmissionCancel",
    "Compensate",
    "CumulativeQuery",
    "Diagnosis",
    "Discharge",
    "FeeCancel",
    "FeeLine",
    "PersonQuery",
    "ReversalRequest",
    "SettlementRequest",
    "SignInRequest",
    "SignOutRequest",
    "StatementRequest",
    "TransferCancel",
    "TransferFiling",
]


@dataclass(frozen=True, slots=True)
class PersonQuery:
    """1101 人员信息获取."""

    cert_type: str  # mdtrt_cert_type: 01 电子凭证 02 身份证 03 社保卡
    cert_no: str  # mdtrt_cert_no
    insuree_id: str | None  # psn_no, when the hospital already knows it
    card_sn: str | None  # 卡识别码
    id_cert_type: str | None  # psn_cert_type
    id_no: str | None  # certno
    name: str | None  # psn_name
    at: dt.datetime | None  # begntime: the visit time whose enrolment applies


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One diagnosis of 2401/2402 (diseinfo)."""

    code: str  # diag_code: insurance disease code, e.g. B99.900
    name: str | None  # diag_name
    main: bool  # maindiag_flag = 1
    seq: int | None  # diag_srt_no
    kind: str | None  # diag_type: 1 西医 2 中医主病 3 中医主证
    dept: str | None  # diag_dept
    doctor: str | None  # dise_dor_no
    at: dt.datetime | None  # diag_time


@dataclass(frozen=True, slots=True)
class Admission:
    """2401 入院办理."""

    insuree_id: str  # psn_no
    scheme_code: str  # insutype as sent
    scheme: str | None  # employee | resident | None (a local insutype)
    med_type: str  # 21 普通住院 … (regions extend it: 2101)
    admit_time: dt.datetime  # begntime
    cert_type: str | None  # mdtrt_cert_type
    cert_no: str | None  # mdtrt_cert_no
    inpatient_no: str | None  # ipt_no 住院号
    dept: str | None  # adm_dept_codg
    bed: str | None  # adm_bed
    doctor: str | None  # atddr_no
    insured_region: str | None  # insuplc_admdvs
    treatment_region: str | None  # mdtrtarea_admvs
    diagnoses: tuple[Diagnosis, ...]


@dataclass(frozen=True, slots=True)
class AdmissionCancel:
    """2404 入院办理撤销."""

    encounter_id: str  # mdtrt_id
    insuree_id: str  # psn_no


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One 2301 fee line (feedetail), exact in our units (or refused by the decoder)."""

    sn: str  # feedetl_sn
    reverses_sn: str | None  # init_feedetl_sn: the line a refund reverses
    encounter_id: str  # mdtrt_id
    insuree_id: str | None  # psn_no
    code: str  # med_list_codg 医保目录编码
    hospital_code: str | None  # medins_list_codg (对码 maps it to code)
    amount_fen: int  # det_item_fee_sumamt (negative on a refund)
    price_e6: int  # pric × 10^6 (millionths of a yuan), exactly
    qty_e4: int  # cnt × 10^4 (ten-thousandths), exactly; negative on a refund
    service_time: dt.datetime | None  # fee_ocur_time
    order_no: str | None  # drord_no
    dept: str | None  # bilg_dept_codg
    doctor: str | None  # bilg_dr_codg
    med_type: str | None

    @property
    def refund(self) -> bool:
        """A refund line (退费): negative ``cnt`` ("退单时数量填写负数")."""
        return self.qty_e4 < 0


@dataclass(frozen=True, slots=True)
class FeeCancel:
    """2302 费用明细撤销: one line, or every unsettled line when ``sn`` is None."""

    encounter_id: str
    insuree_id: str | None
    sn: str | None  # feedetl_sn; "0000" on the wire = all unsettled lines


@dataclass(frozen=True, slots=True)
class SettlementRequest:
    """2303 预结算 / 2304 结算."""

    pre: bool  # 2303: compute and answer, book nothing
    insuree_id: str  # psn_no
    encounter_id: str  # mdtrt_id
    medfee_sumamt: int  # the hospital's total, fen (checked against the uploaded lines)
    acct_used: bool  # acct_used_flag: may the personal account pay
    scheme_code: str | None  # insutype
    scheme: str | None
    cert_type: str | None  # mdtrt_cert_type
    cert_no: str | None
    settle_way: str | None  # psn_setlway 个人结算方式
    mid_settle: bool  # mid_setl_flag 中途结算
    invoice_no: str | None  # invono


@dataclass(frozen=True, slots=True)
class ReversalRequest:
    """2305 住院结算撤销."""

    encounter_id: str  # mdtrt_id
    settlement_id: str  # setl_id
    insuree_id: str  # psn_no


@dataclass(frozen=True, slots=True)
class Discharge:
    """2402 出院办理."""

    encounter_id: str  # mdtrt_id
    insuree_id: str  # psn_no
    scheme_code: str | None  # insutype
    discharge_time: dt.datetime  # endtime
    discharge_way: str | None  # dscg_way 离院方式
    dept: str | None  # dscg_dept_codg
    diagnoses: tuple[Diagnosis, ...]


@dataclass(frozen=True, slots=True)
class TransferFiling:
    """2501 转院备案 (refmedin; field list from public clients, see docs/NHSA.md)."""

    insuree_id: str  # psn_no
    scheme_code: str | None  # insutype
    diagnosis_code: str | None  # diag_code
    diagnosis_name: str | None
    to_provider_code: str | None  # reflin_medins_no 转往定点医药机构编号
    to_provider_name: str | None
    to_region: str | None  # mdtrtarea_admdvs 就医地医保区划
    transfer_type: str | None  # refl_type
    transfer_date: dt.date | None  # refl_date
    reason: str | None  # refl_rea
    valid_from: dt.date | None  # begndate
    valid_to: dt.date | None  # enddate


@dataclass(frozen=True, slots=True)
class TransferCancel:
    """2502 转院备案撤销: the filing 2501 answered with ``trt_dcla_detl_sn``."""

    insuree_id: str  # psn_no
    filing_id: str  # trt_dcla_detl_sn 待遇申报明细流水号
    memo: str | None


@dataclass(frozen=True, slots=True)
class Compensate:
    """2601 冲正交易: undo a transaction of unknown outcome by its msgid."""

    insuree_id: str  # psn_no
    original_msgid: str  # omsgid
    original_infno: str  # oinfno


@dataclass(frozen=True, slots=True)
class CumulativeQuery:
    """5206 人员累计信息查询."""

    insuree_id: str  # psn_no
    year: int  # from cum_ym (yyyyMM)
    month: int


@dataclass(frozen=True, slots=True)
class StatementRequest:
    """3201 对总账 / 3202 对明细账: the hospital's declared totals for a period.

    3201 declares ``acct_pay`` (``psn_cash_pay`` is 0), 3202 ``psn_cash_pay`` (its
    ``cash_payamt``; ``acct_pay`` is 0): compare with ``TOTALS_3201`` / ``TOTALS_3202``."""

    scheme_code: str | None  # insutype (3201)
    scheme: str | None
    clr_type: str | None  # 清算类别 (3201)
    clearing_agency: str | None  # setl_optins 结算经办机构
    begin: dt.date  # stmt_begndate
    end: dt.date  # stmt_enddate
    declared: Totals
    file_query_no: str | None  # file_qury_no (3202: the uploaded detail file)


@dataclass(frozen=True, slots=True)
class SignInRequest:
    """9001 签到: an operator of the hospital signs in; the answer is a ``sign_no``."""

    operator: str  # opter_no 操作员编号
    mac: str | None  # 签到MAC地址
    ip: str | None  # 签到IP地址


@dataclass(frozen=True, slots=True)
class SignOutRequest:
    """9002 签退: close the sign-in ``sign_no``."""

    sign_no: str
    operator: str | None  # opter_no
