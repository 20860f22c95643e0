"""The service boundary's input checks, in one place (issue 15): what every adapter's
request must satisfy before anything of it is stored.

Pure helpers return a problem — ``(field, message)`` — or None; ``Checks`` collects
them and raises ONE ``InvalidRequest`` naming every field (STYLE §6). The use cases
(encounters, fees, transfers, deferred) call them, so the REST API, the national
envelope and the CLI all get them; the adapters call the same helpers in their own
models where a field's wire name should be named (docs/API.md, docs/NHSA.md,
"Validation").

- text: no lone surrogate, no C0/C1 control character (free text may hold ``\\t \\n
  \\r``), never longer than its column — the length is read from the SQLAlchemy column
  the value is stored in, never repeated as a literal; a code or an id, besides, holds
  only printable characters and no space (no bidi override, no zero-width character);
- ID numbers (``psn_no``): 18 characters with their check digit (GB 11643,
  ``core.registry.identity``), the reason never repeating the number;
- national enumerations: ``med_type`` (医疗类别) and ``insutype`` (险种类型), a national
  code or a local code extending one by one or two digits (``2101``, ``39999``);
- integers within signed 64 bits, never a bool; dates within ``DATE_WINDOW`` of the
  context's clock;
- registry checks (``unknown_diseases``, ``region_problem``, ``provider_problem``):
  disease codes in force on the date, regions and providers the registry knows.

Messages never repeat a value that failed a text check (it may be unprintable or
personal data).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from yibao.core.errors import InvalidRequest, Problem, ProviderNotFound
from yibao.core.money import MAX_I64
from yibao.core.policy import PackSet
from yibao.core.registry.identity import psn_no_problem
from yibao.core.registry.regions import ancestors, is_region
from yibao.services.registry import catalog
from yibao.store.registry_tables import DiseaseCode
from yibao.store.service_tables import (
    Deferral,
    Encounter,
    FeeLineRow,
    RequestRecord,
    SettlementRow,
    TransferFiling,
)
from yibao.store.uow import UnitOfWork

__all__ = [
    "DATE_WINDOW",
    "INSUTYPES",
    "LENGTH",
    "MAX_I64",
    "MED_TYPES",
    "MIN_I64",
    "Checks",
    "DateWindow",
    "code_problem",
    "column_length",
    "insutype_problem",
    "int_problem",
    "med_type_problem",
    "provider_problem",
    "region_problem",
    "text_problem",
    "unknown_diseases",
]

MIN_I64 = -MAX_I64 - 1


# -- lengths from the columns ---------------------------------------------------------------


def column_length(attr: Any) -> int:
    """The declared length of a mapped ``String`` column (``Encounter.med_type`` -> 8)."""
    length = attr.property.columns[0].type.length
    if not isinstance(length, int):
        raise TypeError(f"{attr} has no declared length")
    return length


LENGTH: dict[str, int] = {
    "insuree_id": column_length(Encounter.psn_no),
    "encounter_id": column_length(Encounter.id),
    "provider_code": column_length(Encounter.provider_code),
    "insured_region": column_length(Encounter.insured_region),
    "scheme_code": column_length(Encounter.scheme_code),
    "med_type": column_length(Encounter.med_type),
    "transfer_from": column_length(Encounter.transfer_from),
    "settlement_id": column_length(Encounter.settlement_id),
    "clr_type": column_length(SettlementRow.clr_type),
    "msgid": column_length(RequestRecord.key),
    "diagnosis": column_length(DiseaseCode.code),
    "sn": column_length(FeeLineRow.sn),
    "code": column_length(FeeLineRow.code),
    "hospital_code": column_length(FeeLineRow.hospital_code),
    "dept": column_length(FeeLineRow.dept),
    "doctor": column_length(FeeLineRow.doctor),
    "order_no": column_length(FeeLineRow.order_no),
    "filing_id": column_length(TransferFiling.id),
    "transfer_reason": column_length(TransferFiling.reason),
    "deferral_reason": column_length(Deferral.reason),
}
"""Field -> the length of the column it is stored in (or looked up by)."""


# -- text -----------------------------------------------------------------------------------

_BAD_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 controls but tab, newline and carriage return; DEL and the C1 controls; lone
surrogates (which UTF-8 and PostgreSQL cannot hold)."""


def _bad_char(ch: str) -> str:
    o = ord(ch)
    if 0xD800 <= o <= 0xDFFF:
        return f"holds a lone surrogate (U+{o:04X}), which is not text"
    return f"holds the control character U+{o:04X}"


def text_problem(value: object, max_len: int) -> str | None:
    """Why ``value`` is not free text that fits ``max_len`` characters, or None."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if (bad := _BAD_IN_TEXT.search(value)) is not None:
        return _bad_char(bad.group())
    if len(value) > max_len:
        return f"is longer than {max_len} characters ({len(value)})"
    return None


def code_problem(value: object, max_len: int) -> str | None:
    """Why ``value`` is not a code or id of at most ``max_len`` characters, or None: one
    or more printable characters, no space, no control, format (bidi override,
    zero-width) or surrogate character."""
    if (why := text_problem(value, max_len)) is not None:
        return why
    assert isinstance(value, str)
    if not value:
        return "may not be empty"
    if not value.isprintable() or any(ch.isspace() for ch in value):
        bad = next(ch for ch in value if not ch.isprintable() or ch.isspace())
        return (f"holds U+{ord(bad):04X}: a code holds no space, control, format "
                "(bidi override, zero-width) or unassigned character")  # fmt: skip
    return None


# -- national enumerations --------------------------------------------------------------------

MED_TYPES: dict[str, str] = {
    "11": "普通门诊",
    "12": "门诊挂号",
    "13": "急诊",
    "14": "门诊慢特病",
    "15": "门诊特检特治",
    "16": "中医特色治疗",
    "19": "门诊两病",
    "21": "普通住院",
    "22": "外伤住院",
    "23": "转外诊治住院",
    "24": "急诊转住院",
    "25": "家庭病床",
    "26": "单病种住院",
    "27": "自主就医",
    "28": "日间手术",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
    "53": "计划生育手术费",
    "71": "异地安置",
    "99": "其他",
}
"""医疗类别 (med_type), the national dictionary's codes as public clients use them
(docs/NHSA.md). A region's local code extends one by one or two digits (2101)."""

INSUTYPES: dict[str, str] = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "350": "一至六级残废军人医疗补助",
    "360": "老红军医疗保障",
    "370": "企业补充医疗保险",
    "380": "新型农村合作医疗",
    "390": "城乡居民基本医疗保险",
    "391": "城镇居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "399": "其他特殊人员医疗保障",
    "410": "长期照护保险",
    "510": "生育保险",
}
"""险种类型 (insutype), the national dictionary; a local code extends one by one or two
digits (39999). ``adapters.nhsa.codes.INSUTYPE`` maps our schemes onto 310 and 390."""

_LOCAL_DIGITS = 2


def _enumerated(value: str, codes: dict[str, str], what: str, example: str) -> str | None:
    if value in codes:
        return None
    base = next((c for c in codes if value.startswith(c)), None)
    extra = len(value) - len(base) if base else 0
    if base is not None and value.isascii() and value.isdigit() and 0 < extra <= _LOCAL_DIGITS:
        return None
    return (f"is not a national {what} code ({', '.join(sorted(codes))}) nor a local code "
            f"extending one by at most {_LOCAL_DIGITS} digits (e.g. {example})")  # fmt: skip


def med_type_problem(value: object) -> str | None:
    """Why ``value`` is not a 医疗类别 (med_type) code, or None."""
    if (why := code_problem(value, LENGTH["med_type"])) is not None:
        return why
    assert isinstance(value, str)
    return _enumerated(value, MED_TYPES, "med_type (医疗类别)", "2101")


def insutype_problem(value: object) -> str | None:
    """Why ``value`` is not a 险种类型 (insutype) code, or None."""
    if (why := code_problem(value, LENGTH["scheme_code"])) is not None:
        return why
    assert isinstance(value, str)
    return _enumerated(value, INSUTYPES, "insutype (险种类型)", "39999")


# -- numbers and dates --------------------------------------------------------------------------


def int_problem(value: object, lo: int = MIN_I64, hi: int = MAX_I64) -> str | None:
    """Why ``value`` is not an integer in ``lo … hi`` (a bool is not one), or None."""
    if type(value) is not int:
        return f"must be an integer, not {type(value).__name__}"
    if not lo <= value <= hi:
        return f"is not in {lo} … {hi}"
    return None


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The business dates a request may carry: from ``earliest`` to the context's today
    (Beijing time) plus ``ahead``. The margin is generous on purpose: what breaks the
    yearly accumulators and the store are dates centuries away (2817, 9663), while a
    replay or a test runs on a clock months behind its stays."""

    earliest: dt.date
    ahead: dt.timedelta

    def latest(self, now: dt.datetime) -> dt.date:
        return now.astimezone(_CST).date() + self.ahead

    def problem(self, day: dt.date, now: dt.datetime) -> str | None:
        """Why ``day`` is outside the window on the clock ``now``, or None."""
        latest = self.latest(now)
        if not self.earliest <= day <= latest:
            return f"{day} is outside {self.earliest} … {latest} (today + {self.ahead.days} days)"
        return None


_CST = dt.timezone(dt.timedelta(hours=8), "CST")
DATE_WINDOW = DateWindow(earliest=dt.date(1900, 1, 1), ahead=dt.timedelta(days=366))
"""The one window every service checks dates against (docs/API.md, "Validation")."""


# -- collecting ---------------------------------------------------------------------------------


@dataclass
class Checks:
    """Problems collected field by field; ``done()`` raises them as one
    ``InvalidRequest``. ``now`` is the context's clock, for the date window."""

    now: dt.datetime | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, why: str | None) -> bool:
        """Record ``why`` under ``path`` when it is a problem; True if it was."""
        if why is not None:
            self.problems.append((path, why))
        return why is not None

    def text(self, path: str, value: str | None, length: int) -> bool:
        return value is not None and self.add(path, text_problem(value, length))

    def code(self, path: str, value: str | None, length: int) -> bool:
        return value is not None and self.add(path, code_problem(value, length))

    def psn_no(self, path: str, value: str | None) -> bool:
        if value is None:
            return False
        if self.code(path, value, LENGTH["insuree_id"]):
            return True
        return self.add(path, None if psn_no_problem(value) is None else
                        f"is not an ID number (公民身份号码): {psn_no_problem(value)}")  # fmt: skip

    def integer(self, path: str, value: int | None, lo: int = MIN_I64, hi: int = MAX_I64) -> bool:
        return value is not None and self.add(path, int_problem(value, lo, hi))

    def day(self, path: str, value: dt.date | None) -> bool:
        if value is None:
            return False
        if not isinstance(value, dt.date):
            return self.add(path, f"must be a date, not {type(value).__name__}")
        return self.add(path, DATE_WINDOW.problem(value, self._clock()))

    def time(self, path: str, value: dt.datetime | None) -> bool:
        """An aware time whose Beijing date is within the window."""
        if value is None:
            return False
        if not isinstance(value, dt.datetime):
            return self.add(path, f"must be a date and time, not {type(value).__name__}")
        if value.tzinfo is None:
            return self.add(path, "needs a time zone")
        return self.add(path, DATE_WINDOW.problem(value.astimezone(_CST).date(), self._clock()))

    def flag(self, path: str, value: object) -> bool:
        return self.add(path, None if type(value) is bool else
                        f"must be true or false, not {type(value).__name__}")  # fmt: skip

    def _clock(self) -> dt.datetime:
        if self.now is None:
            raise TypeError("Checks(now=...) is needed to check a date")
        return self.now

    def done(self) -> None:
        if self.problems:
            raise InvalidRequest.of(self.problems)


# -- registry checks ----------------------------------------------------------------------------


def unknown_diseases(uow: UnitOfWork, codes: Sequence[tuple[str, str]], on: dt.date,
                     now: dt.datetime) -> list[Problem]:  # fmt: skip
    """``(path, code)`` pairs whose code is no insurance disease code (医保病种编码) of
    the disease registry in force on ``on`` or on a day since, up to today: a stay may be
    coded after the fact with a code adopted later (国卫医函〔2020〕58号's U07.100x001,
    Z03.800x001 of 2020-02-13 on a stay admitted before)."""
    if not codes:
        return []
    today = max(on, now.astimezone(_CST).date())
    known = catalog.disease_codes_in_force(uow, sorted({c for _, c in codes}), on, today)
    return [(path, f"{code!r} is not an insurance disease code (医保病种编码) in force "
             f"from {on} to {today}") for path, code in codes if code not in known]  # fmt: skip


def region_problem(uow: UnitOfWork, packs: PackSet, value: str) -> str | None:
    """Why ``value`` is not an insured region (参保地) we could settle, or None: six
    digits, in some policy pack's pooling area (else no stay of it could ever settle),
    and, when the registry names regions (providers' and insurees'), one of those or of
    the units above them."""
    if not is_region(value):
        return "is not a 6-digit administrative region code (行政区划代码)"
    if not any(p.in_area(value) for p in packs):
        return f"region {value} is in no policy pack's pooling area: its stays could not settle"
    known = catalog.known_regions(uow)
    if known and not known.intersection(ancestors(value)) and value not in _units_of(known):
        return f"region {value} is not a region of the registry (providers, insurees)"
    return None


def _units_of(regions: Iterable[str]) -> set[str]:
    return {a for r in regions for a in ancestors(r)}


def provider_problem(uow: UnitOfWork, code: str, on: dt.date) -> str | None:
    """Why ``code`` is not a provider of the registry in force on ``on``, or None."""
    if (why := code_problem(code, LENGTH["provider_code"])) is not None:
        return why
    try:
        catalog.provider_snapshot(uow, code, on)
    except ProviderNotFound:
        return f"provider {code} is not in the registry on {on}"
    return None


# -- diagnoses (shared by 2401/2402 and 2403; issue 16, n2) -------------------------------------

MAX_DIAGNOSES = 50


def diagnosis_checks(c: Checks, diagnoses: Sequence[Any], path: str = "diagnoses") -> None:
    """A stay's diagnoses as 2401 checks them: at most ``MAX_DIAGNOSES``, each code a
    code of its column's length and ``main`` a bool, no code twice (``.code``/``.main``
    of each)."""
    if len(diagnoses) > MAX_DIAGNOSES:
        c.add(path, f"more than {MAX_DIAGNOSES} diagnoses")
    for i, d in enumerate(diagnoses):
        c.code(f"{path}.{i}.code", d.code, LENGTH["diagnosis"])
        c.flag(f"{path}.{i}.main", d.main)
    if len({d.code for d in diagnoses}) != len(diagnoses):
        c.add(path, "a diagnosis code is listed twice")
