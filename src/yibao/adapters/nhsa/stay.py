"""Decoders of the stay-change and stay-query transactions (2403 admission change, 2405
discharge cancel, 5203 settlement query, 5303 in-hospital query, 5304 transfer query):
merged into ``DECODERS`` (this package's ``__init__``); later entries replace earlier
ones.

- 2403 ``{"adminfo": {mdtrt_id, psn_no, begntime, med_type, …}, "diseinfo": [...]}``
  (diseinfo as a list or one object, as 2401);
- 2405 ``{"data": {mdtrt_id, psn_no}}``;
- 5203 ``{"data": {psn_no, setl_id, mdtrt_id}}`` (``mdtrt_id`` optional);
- 5303 ``{"data": {psn_no}}`` (``begntime``/``endtime`` read when sent, not required);
- 5304 ``{"data": {psn_no, begntime, endtime}}`` (either bound may be left out).

Field lists: the 2403/2405/5203/5304 input classes of a public HIS adapter
(newtouch-cloud/openhis ``WinServiceAPI/YiBaoInterface/Models/Input/Input_2403.cs`` …,
ffa7e66) and binzhe12123/Medical ``SYB/XXCX/ZY5303.cs``, ``ZY5304.cs`` (b351f2b).
docs/NHSA.md, "Stay changes and queries".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from yibao.adapters.nhsa.fields import (
    Code,
    Decoded,
    OptDateTime,
    OptText,
    Text,
    Wire,
    unknown_fields,
    validate,
)
from yibao.adapters.nhsa.inputs import DiseList, decode_2304
from yibao.adapters.nhsa.records import Diagnosis, SettlementRequest
from yibao.core.errors import InvalidRequest

__all__ = [
    "STAY_DECODERS",
    "AdmissionChangeRequest",
    "DischargeCancel",
    "SettlementQuery",
    "StayQuery",
    "TransferQuery",
    "decode_2304_whole",
    "decode_2403",
    "decode_2405",
    "decode_5203",
    "decode_5303",
    "decode_5304",
]


@dataclass(frozen=True, slots=True)
class AdmissionChangeRequest:
    """2403 入院信息变更: the stay's admission as the hospital now records it."""

    encounter_id: str  # mdtrt_id
    insuree_id: str  # psn_no
    admit_time: dt.datetime | None  # begntime (must be the admission's day)
    med_type: str | None
    cert_type: str | None  # mdtrt_cert_type
    diagnoses: tuple[Diagnosis, ...]  # diseinfo; empty: unchanged


@dataclass(frozen=True, slots=True)
class DischargeCancel:
    """2405 出院撤销."""

    encounter_id: str
    insuree_id: str


@dataclass(frozen=True, slots=True)
class SettlementQuery:
    """5203 结算信息查询."""

    insuree_id: str  # psn_no
    settlement_id: str  # setl_id
    encounter_id: str | None  # mdtrt_id


@dataclass(frozen=True, slots=True)
class StayQuery:
    """5303 在院信息查询."""

    insuree_id: str
    begin: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TransferQuery:
    """5304 转院信息查询: filings whose transfer date lies in [begin, end]."""

    insuree_id: str
    begin: dt.datetime | None
    end: dt.datetime | None


def _decode(model: type[Wire], doc: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
    wire = validate(model, doc, "input")
    return wire, unknown_fields(wire, "input.")


class _Adminfo(Wire):
    known = frozenset({
        "coner_name", "tel", "endtime", "ipt_otp_no", "medrcdno", "atddr_no", "chfpdr_name",
        "adm_diag_dscr", "adm_dept_codg", "adm_dept_name", "adm_bed", "dscg_maindiag_code",
        "dscg_maindiag_name", "main_cond_dscr", "dise_codg", "dise_name", "oprn_oprt_code",
        "oprn_oprt_name", "fpsc_no", "matn_type", "birctrl_type", "latechb_flag", "geso_val",
        "fetts", "fetus_cnt", "pret_flag", "birctrl_matn_date", "dise_type_code", "exp_content",
        "mdtrt_cert_no", "insutype",
    })  # fmt: skip
    mdtrt_id: Text
    psn_no: Text
    begntime: OptDateTime = None
    med_type: OptText = None
    mdtrt_cert_type: OptText = None


class _In2403(Wire):
    adminfo: _Adminfo
    diseinfo: DiseList = Field(default_factory=list)


def decode_2403(doc: Mapping[str, Any]) -> Decoded[AdmissionChangeRequest]:
    """2403 入院信息变更: ``{"adminfo": {...}, "diseinfo": [...] or {...}}``."""
    w, unknown = _decode(_In2403, doc)
    a = w.adminfo
    diags = tuple(Diagnosis(r.diag_code, r.diag_name, r.maindiag_flag, r.diag_srt_no,
                            r.diag_type, r.diag_dept, r.dise_dor_no, r.diag_time)
                  for r in w.diseinfo)  # fmt: skip
    return Decoded(AdmissionChangeRequest(a.mdtrt_id, a.psn_no, a.begntime, a.med_type,
                                          a.mdtrt_cert_type, diags), unknown)  # fmt: skip


class _Visit(Wire):
    known = frozenset({"exp_content"})
    mdtrt_id: Text
    psn_no: Text


class _In2405(Wire):
    data: _Visit


def decode_2405(doc: Mapping[str, Any]) -> Decoded[DischargeCancel]:
    """2405 出院撤销: ``{"data": {mdtrt_id, psn_no}}``."""
    w, unknown = _decode(_In2405, doc)
    return Decoded(DischargeCancel(w.data.mdtrt_id, w.data.psn_no), unknown)


class _Data5203(Wire):
    psn_no: Text
    setl_id: Code
    mdtrt_id: OptText = None


class _In5203(Wire):
    data: _Data5203


def decode_5203(doc: Mapping[str, Any]) -> Decoded[SettlementQuery]:
    """5203 结算信息查询: ``{"data": {psn_no, setl_id, mdtrt_id}}``."""
    w, unknown = _decode(_In5203, doc)
    d = w.data
    return Decoded(SettlementQuery(d.psn_no, d.setl_id, d.mdtrt_id), unknown)


class _Window(Wire):
    psn_no: Text
    begntime: OptDateTime = None
    endtime: OptDateTime = None


class _InWindow(Wire):
    data: _Window


def _window(doc: Mapping[str, Any]) -> tuple[_Window, tuple[str, ...]]:
    w, unknown = _decode(_InWindow, doc)
    d = w.data
    if d.begntime is not None and d.endtime is not None and d.endtime < d.begntime:
        raise InvalidRequest.of([("input.data.endtime", "is before begntime")])
    return d, unknown


def decode_5303(doc: Mapping[str, Any]) -> Decoded[StayQuery]:
    """5303 在院信息查询: ``{"data": {psn_no}}``."""
    d, unknown = _window(doc)
    return Decoded(StayQuery(d.psn_no, d.begntime, d.endtime), unknown)


def decode_5304(doc: Mapping[str, Any]) -> Decoded[TransferQuery]:
    """5304 转院信息查询: ``{"data": {psn_no, begntime, endtime}}``."""
    d, unknown = _window(doc)
    return Decoded(TransferQuery(d.psn_no, d.begntime, d.endtime), unknown)


def decode_2304_whole(doc: Mapping[str, Any]) -> Decoded[SettlementRequest]:
    """2304 as ``inputs.decode_2304``, refusing ``mid_setl_flag`` "1" (中途结算): yibao
    settles a stay whole, on discharge; a mid-stay settlement would discharge the stay
    silently, so it is refused until it is implemented (docs/NHSA.md)."""
    got = decode_2304(doc)
    if got.record.mid_settle:
        raise InvalidRequest.of([("input.data.mid_setl_flag", "中途结算 not supported yet: "
                                  "暂不支持中途结算, settle on discharge with mid_setl_flag 0 "
                                  "(a mid-stay settlement is not supported yet)")])  # fmt: skip
    return got


STAY_DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {
    "2304": decode_2304_whole,
    "2403": decode_2403,
    "2405": decode_2405,
    "5203": decode_5203,
    "5303": decode_5303,
    "5304": decode_5304,
}
"""infno -> input decoder (issue 16: stay changes and queries; 2304 refuses 中途结算)."""
