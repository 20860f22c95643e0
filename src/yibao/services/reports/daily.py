"""The daily report (日报, issue 17): what the bureau reports upward every day under the
daily contact system (渝医保发〔2020〕3号 四) — patients, costs by fund, hospitals'
advances, the deferred queue and transfers waiting, with the epidemic's trend.

A report is a tuple of *sections*. Each section comes from a provider registered in
``SECTIONS`` (name, title, function): the core sections below are registered exactly as
a later capability registers its own (filings, manual claims, prepayments, drug alerts,
supervision flags each add ONE ``register(...)`` call in their own module and touch
nothing here). A section holds

- ``figures``: labelled key figures (counts, integer fen) — the workbook's 汇总 sheet and
  the text summary (每日联系) list them;
- ``tables``: typed tables — each becomes a sheet of the workbook;
- ``data``: the section's typed payload (a frozen dataclass) for screens and charts.

Every amount comes from the ledger journal (DECISIONS 0034): fund amounts are the sums of
the postings of the settlements and reversals booked on the day (Beijing business date,
``booked_on``), hospitals' advances the balance of the advance book (999996). Patients
come from the stays: admitted (admit date), in hospital (admitted by the day, not
discharged by it), discharged (discharge date), settled (settlement transactions of the
day); confirmed (确诊) or suspected (疑似) is the stay's ``covid_status``, else read from
its diagnoses against every COVID-19 overlay version's disease codes.

Integer fen only: yuan appear in the renderers (services/reports/daily_files.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from yibao.core.engine.funds import ASSISTANCE, BASIC, SERIOUS
from yibao.core.errors import Forbidden, InvalidRequest, NotFound
from yibao.core.ledger.accounts import (
    ADVANCE,
    ADVANCE_RECEIVABLE,
    BENEFIT,
    FISCAL_SUBSIDY,
    PATIENT_CASH,
    PERSONAL_ACCOUNT,
)
from yibao.core.policy import PackSet
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = [
    "FUNDS",
    "SECTIONS",
    "STATUSES",
    "Column",
    "DailyReport",
    "DeferredRow",
    "Figure",
    "FundAmounts",
    "FundsData",
    "HospitalRow",
    "PatientCounts",
    "PatientsData",
    "QueueData",
    "ReportScope",
    "Section",
    "SectionProvider",
    "SettlementLine",
    "Table",
    "TransferRow",
    "TrendPoint",
    "daily_report",
    "epidemic_start",
    "register",
]

Kind = Literal["text", "int", "fen", "date", "id"]
"""A value's kind: ``fen`` is integer fen (shown as yuan), ``id`` an ID number (masked
unless the report is unmasked), ``date`` a ``datetime.date``."""

STATUSES: tuple[tuple[str, str], ...] = (("confirmed", "确诊"), ("suspected", "疑似"))

FUNDS: tuple[tuple[str, str], ...] = (
    ("basic", "统筹基金"),
    ("serious", "大病保险"),
    ("assistance", "医疗救助"),
    ("fiscal", "新冠财政补助"),
    ("account", "个人账户"),
    ("cash", "个人现金"),
)
"""The payers reported, in order: key and Chinese name."""


# -- the generic shape of a section ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A labelled key figure: a count (``int``) or an amount (``fen``)."""

    label: str
    value: int
    kind: Literal["int", "fen"] = "int"
    brief: bool = True  # in the text summary (每日联系) too


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: Kind = "text"
    width: int = 12  # characters, for the workbook


@dataclass(frozen=True, slots=True)
class Table:
    """A table of a section: ``name`` is its sheet's name (≤ 31 characters)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()
    data: Any = None
    notes: tuple[str, ...] = ()  # one-line remarks (Chinese) shown under the figures


@dataclass
class ReportScope:
    """What a section provider is given: the day, the epidemic's first day, whether ID
    numbers are shown, and a memo shared by the providers of one report (so the core
    sections read the journal and the stays once)."""

    day: dt.date
    since: dt.date
    packs: PackSet
    unmasked: bool = False
    memo: dict[str, Any] = field(default_factory=dict)

    def show_id(self, psn_no: str | None) -> str:
        if not psn_no:
            return ""
        return psn_no if self.unmasked else mask_psn_no(psn_no)


SectionFn = Callable[[UnitOfWork, Principal, ReportScope], Section]


@dataclass(frozen=True, slots=True)
class SectionProvider:
    name: str
    title: str
    build: SectionFn
    order: int


SECTIONS: dict[str, SectionProvider] = {}
"""The registered section providers by name; a report lists them by ``order``."""


def register(name: str, title: str, order: int) -> Callable[[SectionFn], SectionFn]:
    """Decorator: ``@register("filings", "异地备案", 700)`` adds a section provider. A name
    is registered once (a second registration is a programming error)."""

    def add(fn: SectionFn) -> SectionFn:
        if name in SECTIONS:
            raise ValueError(f"daily report section {name!r} is registered twice")
        SECTIONS[name] = SectionProvider(name, title, fn, order)
        return fn

    return add


# -- the typed payloads of the core sections -----------------------------------------


@dataclass(frozen=True, slots=True)
class FundAmounts:
    """Net payments by payer (fen; a reversal counts negative)."""

    basic: int = 0  # 统筹基金 (hifp_pay)
    serious: int = 0  # 大病保险 (hifob_pay + hifmi_pay)
    assistance: int = 0  # 医疗救助 (maf_pay)
    fiscal: int = 0  # 新冠财政补助 (fiscal_pay)
    account: int = 0  # 个人账户 (acct_pay)
    cash: int = 0  # 个人现金 (psn_cash_pay)

    @property
    def fund_total(self) -> int:
        """What the insurance funds paid (统筹 + 大病 + 救助)."""
        return self.basic + self.serious + self.assistance

    @property
    def total(self) -> int:
        """Every payer: the settled medical costs."""
        return self.fund_total + self.fiscal + self.account + self.cash

    def of(self, key: str) -> int:
        return int(getattr(self, key))

    def __add__(self, other: FundAmounts) -> FundAmounts:
        return FundAmounts(*(self.of(k) + other.of(k) for k, _ in FUNDS))


ZERO = FundAmounts()


@dataclass(frozen=True, slots=True)
class PatientCounts:
    admitted: int = 0
    in_hospital: int = 0
    discharged: int = 0
    settled: int = 0


@dataclass(frozen=True, slots=True)
class PatientsData:
    """Per covid status ("confirmed", "suspected"), in total and per hospital."""

    total: Mapping[str, PatientCounts]
    by_hospital: Mapping[str, Mapping[str, PatientCounts]]


@dataclass(frozen=True, slots=True)
class FundsData:
    day: FundAmounts
    cumulative: FundAmounts  # booked since..day
    by_hospital: Mapping[str, FundAmounts]  # the day's
    settlements: int  # settlement transactions booked on the day
    reversals: int  # reversal transactions booked on the day


@dataclass(frozen=True, slots=True)
class HospitalRow:
    provider_code: str
    name: str
    covid_designated: bool
    patients: Mapping[str, PatientCounts]
    settlements: int
    reversals: int
    day: FundAmounts
    advance_fen: int  # advances outstanding at the end of the day (ledger)
    deferred: int  # open deferrals at the end of the day


@dataclass(frozen=True, slots=True)
class DeferredRow:
    """Open deferrals of one hospital for one reason at the end of the day."""

    provider_code: str
    name: str
    reason: str
    count: int
    advance_fen: int
    medfee_sumamt: int
    oldest_advanced_on: dt.date
    oldest_age_days: int
    oldest_discharge_date: dt.date


@dataclass(frozen=True, slots=True)
class QueueData:
    advance_fen: int  # the ledger's balance of the advance book (999996)
    advance_by_hospital: Mapping[str, int]
    rows: tuple[DeferredRow, ...]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def queued_fen(self) -> int:
        return sum(r.advance_fen for r in self.rows)


@dataclass(frozen=True, slots=True)
class TransferRow:
    filing_id: str
    from_provider: str
    from_encounter_id: str
    insuree: str  # masked unless unmasked
    to_provider: str | None
    transfer_date: dt.date
    age_days: int


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One settlement or reversal booked on the day, its amounts read from its postings."""

    settlement_id: str
    kind: str  # settlement | reversal
    provider_code: str
    encounter_id: str
    insuree: str  # masked unless unmasked
    covid_status: str
    recorded_at: dt.datetime  # Beijing time
    amounts: FundAmounts


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: dt.date
    admitted: Mapping[str, int]  # per covid status
    in_hospital: Mapping[str, int]
    spent: FundAmounts  # booked that day


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: dt.date
    since: dt.date
    generated_at: dt.datetime  # Beijing time
    unmasked: bool
    sections: tuple[Section, ...]

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def patients(self) -> PatientsData:
        return _data(self, "patients", PatientsData)

    @property
    def funds(self) -> FundsData:
        return _data(self, "funds", FundsData)

    @property
    def hospitals(self) -> tuple[HospitalRow, ...]:
        got: tuple[HospitalRow, ...] = self.section("hospitals").data
        return got

    @property
    def queue(self) -> QueueData:
        return _data(self, "deferred", QueueData)

    @property
    def transfers(self) -> tuple[TransferRow, ...]:
        got: tuple[TransferRow, ...] = self.section("transfers").data
        return got

    @property
    def settlements(self) -> tuple[SettlementLine, ...]:
        got: tuple[SettlementLine, ...] = self.section("settlements").data
        return got

    @property
    def trend(self) -> tuple[TrendPoint, ...]:
        got: tuple[TrendPoint, ...] = self.section("trend").data
        return got


D = TypeVar("D")


def _data(report: DailyReport, name: str, kind: type[D]) -> D:
    got = report.section(name).data
    assert isinstance(got, kind)
    return got


# -- the report -------------------------------------------------------------------------


def epidemic_start(packs: PackSet, day: dt.date) -> dt.date:
    """The epidemic's first day as the packs have it: the earliest ``from`` of any COVID-19
    overlay version (cq-2020: 2020-01-23); with no overlay, 1 January of ``day``'s year."""
    starts = [v.from_date for p in packs for v in p.overlay]
    if starts:
        return min(starts)
    return dt.date(day.year, 1, 1)


def daily_report(uow: UnitOfWork, ctx: Context, caller: Principal, day: dt.date, *,
                 since: dt.date | None = None, unmasked: bool = False,
                 sections: Iterable[str] | None = None) -> DailyReport:  # fmt: skip
    """The daily report for ``day`` (a Beijing business date): every registered section
    (or those named in ``sections``), built in one read transaction. ``since`` is the
    epidemic's first day for the cumulative figures and the trend (default:
    ``epidemic_start``). ``unmasked`` shows ID numbers in full: only for a role that
    sees personal data — the adapter records the disclosure (services/access/disclosure)
    before it shows or writes them."""
    if caller.role == "hospital" or not caller.may("deferred.read"):
        raise Forbidden(f"role {caller.role} may not read the daily report")  # bureau roles only
    if unmasked and (not caller.sees_personal or getattr(caller, "township_code", None)):
        # a township clerk sees its own township's insurees only: the district's, masked
        raise Forbidden(f"role {caller.role} may not see the district's ID numbers unmasked")
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidRequest.of([("date", "a date YYYY-MM-DD")])
    start = since if since is not None else epidemic_start(ctx.packs, day)
    if start > day:
        start = day
    if (day - start).days > 3660:
        raise InvalidRequest.of([("since", "at most ten years before the report's date")])
    names = None if sections is None else list(sections)
    if names is not None:
        unknown = [n for n in names if n not in SECTIONS]
        if unknown:
            raise InvalidRequest.of([("sections", f"unknown section {unknown[0]!r}")])
    providers = sorted(SECTIONS.values(), key=lambda p: (p.order, p.name))
    scope = ReportScope(day, start, ctx.packs, unmasked)
    out = []
    with uow:
        for p in providers:
            if names is None or p.name in names:
                out.append(p.build(uow, caller, scope))
    return DailyReport(day, start, ctx.now().astimezone(CST), unmasked, tuple(out))


# -- shared reads (memoised per report) -------------------------------------------------

_FUND_CODES = (BENEFIT.code, PERSONAL_ACCOUNT.code, FISCAL_SUBSIDY.code, PATIENT_CASH.code,
               ADVANCE_RECEIVABLE.code)  # fmt: skip
_BASIC = frozenset(BASIC.values())
_SERIOUS = frozenset(SERIOUS.values())
_PAID = frozenset({"settlement", "reversal"})


def fund_of(code: str, book: str) -> str | None:
    """Which payer a posting to (code, book) is (its debit: what the payer paid)."""
    if code == BENEFIT.code:
        if book in _BASIC:
            return "basic"
        if book in _SERIOUS:
            return "serious"
        return "assistance" if book == ASSISTANCE else None
    return {PERSONAL_ACCOUNT.code: "account", FISCAL_SUBSIDY.code: "fiscal",
            PATIENT_CASH.code: "cash"}.get(code)  # fmt: skip


T = TypeVar("T")


def _memo(scope: ReportScope, key: str, make: Callable[[], T]) -> T:
    if key not in scope.memo:
        scope.memo[key] = make()
    got: T = scope.memo[key]
    return got


@dataclass(frozen=True, slots=True)
class _Ledger:
    spent: Mapping[tuple[dt.date, str], FundAmounts]  # (booked_on, provider) -> amounts
    advance: Mapping[str, int]  # provider -> open advance at the end of the day


def _ledger(uow: UnitOfWork, scope: ReportScope) -> _Ledger:
    def read() -> _Ledger:
        acc: dict[tuple[dt.date, str], dict[str, int]] = defaultdict(dict)
        advance: dict[str, int] = defaultdict(int)
        for r in uow.hospital.journal_sums(scope.day, _FUND_CODES):
            fen = int(r.fen or 0)
            if r.code == ADVANCE_RECEIVABLE.code:
                if r.book == ADVANCE:
                    advance[r.provider] += fen
                continue
            if r.kind not in _PAID or r.booked_on < scope.since:
                continue
            fund = fund_of(r.code, r.book)
            if fund is not None:
                d = acc[(r.booked_on, r.provider)]
                d[fund] = d.get(fund, 0) + fen
        spent = {k: FundAmounts(**v) for k, v in acc.items()}
        return _Ledger(spent, {p: f for p, f in advance.items() if f})

    return _memo(scope, "ledger", read)


@dataclass(frozen=True, slots=True)
class _Stay:
    id: str
    provider_code: str
    psn_no: str
    admit_date: dt.date
    discharge_date: dt.date | None
    status: str  # covid status: confirmed | suspected | none


def _covid_codes(packs: PackSet) -> frozenset[str]:
    return frozenset(c for p in packs for v in p.overlay for c in v.disease_codes)


def covid_status(stored: str | None, diagnoses: Sequence[Mapping[str, Any]],
                 codes: frozenset[str]) -> str:  # fmt: skip
    """The stay's covid status: as the hospital gave it, else from its diagnoses — a main
    diagnosis among ``codes`` is confirmed, a secondary one only suspected (the rule of
    ``encounters.state.covid_status_of``, over every overlay version's codes)."""
    if stored:
        return stored
    if any(d.get("main") and d.get("code") in codes for d in diagnoses):
        return "confirmed"
    return "suspected" if any(d.get("code") in codes for d in diagnoses) else "none"


def _stays(uow: UnitOfWork, scope: ReportScope) -> dict[str, _Stay]:
    def read() -> dict[str, _Stay]:
        codes = _covid_codes(scope.packs)
        day_txs = {r.encounter_id for r in _day_rows(uow, scope) if r.encounter_id}
        out = {}
        for r in uow.hospital.stays_between(scope.since, scope.day, sorted(day_txs)):
            out[r.id] = _Stay(r.id, r.provider_code, r.psn_no, r.admit_date, r.discharge_date,
                              covid_status(r.covid_status, r.diagnoses or (), codes))  # fmt: skip
        return out

    return _memo(scope, "stays", read)


_PIVOT: dict[str, tuple[str, Sequence[str] | None]] = {
    "basic": (BENEFIT.code, sorted(_BASIC)),
    "serious": (BENEFIT.code, sorted(_SERIOUS)),
    "assistance": (BENEFIT.code, [ASSISTANCE]),
    "fiscal": (FISCAL_SUBSIDY.code, None),
    "account": (PERSONAL_ACCOUNT.code, None),
    "cash": (PATIENT_CASH.code, None),
}
"""Each payer's postings (``fund_of`` as (code, books)), summed per transaction by the
store."""


def _day_rows(uow: UnitOfWork, scope: ReportScope) -> list[Any]:
    """The settlements and reversals booked on the day, one row each with its payers'
    amounts summed from its postings."""
    return _memo(scope, "day_rows", lambda: uow.hospital.day_settlement_sums(scope.day, _PIVOT))


def _settlement_lines(uow: UnitOfWork, scope: ReportScope) -> tuple[SettlementLine, ...]:
    def build() -> tuple[SettlementLine, ...]:
        stays = _stays(uow, scope)
        out = []
        for h in _day_rows(uow, scope):
            stay = stays.get(h.encounter_id or "")
            at = h.recorded_at
            at = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(CST)
            amounts = FundAmounts(int(h.basic), int(h.serious), int(h.assistance),
                                  int(h.fiscal), int(h.account), int(h.cash))  # fmt: skip
            out.append(SettlementLine(h.settlement_id or h.tx_id, h.kind, h.provider_code or "",
                                      h.encounter_id or "", scope.show_id(h.psn_no),
                                      stay.status if stay else "none", at, amounts))  # fmt: skip
        return tuple(out)

    return _memo(scope, "settlement_lines", build)


def _names(
    uow: UnitOfWork, scope: ReportScope, codes: Iterable[str]
) -> dict[str, tuple[str, bool]]:
    """Each provider's name and whether it is a 定点救治医院 on the day."""
    known: dict[str, tuple[str, bool]] = _memo(scope, "names", dict)
    for code in codes:
        if code not in known:
            try:
                p = catalog.provider_snapshot(uow, code, scope.day)
                known[code] = (p.name, p.covid_designated)
            except NotFound:
                known[code] = (code, False)
    return known


# -- the core sections --------------------------------------------------------------------


def _patients(uow: UnitOfWork, scope: ReportScope) -> PatientsData:
    def build() -> PatientsData:
        day = scope.day
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for s in _stays(uow, scope).values():
            if s.status == "none":
                continue
            c = counts[(s.provider_code, s.status)]
            c[0] += s.admit_date == day
            c[1] += s.admit_date <= day and (s.discharge_date is None or s.discharge_date > day)
            c[2] += s.discharge_date == day
        stays = _stays(uow, scope)
        for line in _settlement_lines(uow, scope):
            stay = stays.get(line.encounter_id)
            if line.kind == "settlement" and stay is not None and stay.status != "none":
                counts[(stay.provider_code, stay.status)][3] += 1
        by: dict[str, dict[str, PatientCounts]] = defaultdict(dict)
        total = {st: [0, 0, 0, 0] for st, _ in STATUSES}
        for (prov, st), c in sorted(counts.items()):
            by[prov][st] = PatientCounts(*c)
            total[st] = [a + b for a, b in zip(total[st], c, strict=True)]
        for prov in by:
            for st, _ in STATUSES:
                by[prov].setdefault(st, PatientCounts())
        return PatientsData({k: PatientCounts(*v) for k, v in total.items()}, dict(by))

    return _memo(scope, "patients", build)


@register("patients", "患者情况", 100)
def patients_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    data = _patients(uow, scope)
    figures = []
    for st, zh in STATUSES:
        c = data.total[st]
        figures += [Figure(f"{zh}新入院", c.admitted), Figure(f"{zh}在院", c.in_hospital),
                    Figure(f"{zh}出院", c.discharged), Figure(f"{zh}结算", c.settled)]  # fmt: skip
    return Section("patients", "患者情况", tuple(figures), data=data)


def _funds(uow: UnitOfWork, scope: ReportScope) -> FundsData:
    def build() -> FundsData:
        led = _ledger(uow, scope)
        day, cum = ZERO, ZERO
        by: dict[str, FundAmounts] = {}
        for (on, prov), amounts in led.spent.items():
            cum = cum + amounts
            if on == scope.day:
                day = day + amounts
                by[prov] = by.get(prov, ZERO) + amounts
        n = {"settlement": 0, "reversal": 0}
        for line in _settlement_lines(uow, scope):
            n[line.kind] += 1
        return FundsData(day, cum, by, n["settlement"], n["reversal"])

    return _memo(scope, "funds", build)


@register("funds", "基金支付", 200)
def funds_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    data = _funds(uow, scope)
    figures = [Figure("当日结算笔数", data.settlements), Figure("当日撤销笔数", data.reversals)]
    figures += [Figure(f"当日{zh}", data.day.of(k), "fen") for k, zh in FUNDS]
    figures.append(Figure("当日合计", data.day.total, "fen"))
    figures += [Figure(f"累计{zh}", data.cumulative.of(k), "fen", brief=k == "fiscal")
                for k, zh in FUNDS]  # fmt: skip
    figures.append(Figure("累计合计", data.cumulative.total, "fen"))
    note = f"累计自 {scope.since.isoformat()} 起；金额取自记账凭证（结算减撤销）。"
    return Section("funds", "基金支付", tuple(figures), data=data, notes=(note,))


def _queue(uow: UnitOfWork, scope: ReportScope) -> QueueData:
    def build() -> QueueData:
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in uow.hospital.deferrals_open_on(scope.day):
            groups[(r.provider_code, r.reason)].append(r)
        names = _names(uow, scope, {p for p, _ in groups})
        rows = []
        for (prov, reason), rs in sorted(groups.items()):
            oldest = min(r.advanced_on for r in rs)
            rows.append(DeferredRow(prov, names[prov][0], reason, len(rs),
                                    sum(int(r.advance_fen) for r in rs),
                                    sum(int(r.medfee_sumamt) for r in rs), oldest,
                                    (scope.day - oldest).days,
                                    min(r.discharge_date for r in rs)))  # fmt: skip
        adv = _ledger(uow, scope).advance
        return QueueData(sum(adv.values()), dict(adv), tuple(rows))

    return _memo(scope, "queue", build)


REASONS = {
    "not_enrolled": "参保信息未导入",
    "offline": "系统故障脱机",
    "awaiting_transfer": "待转出医院结算",
}


@register("deferred", "医院垫付与延迟结算", 400)
def deferred_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    data = _queue(uow, scope)
    oldest = max((r.oldest_age_days for r in data.rows), default=0)
    figures = (Figure("医院垫付余额", data.advance_fen, "fen"), Figure("延迟结算人次", data.count),
               Figure("延迟结算垫付金额", data.queued_fen, "fen"),
               Figure("最久等待天数", oldest))  # fmt: skip
    cols = (Column("医院编码", width=16), Column("医院名称", width=28), Column("原因", width=16),
            Column("人次", "int", 8), Column("垫付金额（元）", "fen", 16),
            Column("医疗费总额（元）", "fen", 16), Column("最早垫付日期", "date", 14),
            Column("最久等待天数", "int", 12), Column("最早出院日期", "date", 14))  # fmt: skip
    rows = tuple((r.provider_code, r.name, REASONS.get(r.reason, r.reason), r.count, r.advance_fen,
                  r.medfee_sumamt, r.oldest_advanced_on, r.oldest_age_days,
                  r.oldest_discharge_date) for r in data.rows)  # fmt: skip
    table = Table("延迟结算", "延迟结算（先救治、后结算）", cols, rows)
    return Section("deferred", "医院垫付与延迟结算", figures, (table,), data)


@register("transfers", "待转院", 500)
def transfers_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    found = uow.hospital.transfers_waiting_on(scope.day)
    data = tuple(TransferRow(r.id, r.from_provider, r.from_encounter_id, scope.show_id(r.psn_no),
                             r.to_provider, r.transfer_date, (scope.day - r.transfer_date).days)
                 for r in found)  # fmt: skip
    cols = (Column("备案号", width=32), Column("转出医院", width=16),
            Column("转出就诊号", width=32), Column("身份证号", "id", 22),
            Column("转入医院", width=16),
            Column("转院日期", "date", 12), Column("等待天数", "int", 10))  # fmt: skip
    rows = tuple((t.filing_id, t.from_provider, t.from_encounter_id, t.insuree,
                  t.to_provider or "不限", t.transfer_date, t.age_days) for t in data)  # fmt: skip
    return Section("transfers", "待转院", (Figure("待转院人次", len(data)),),
                   (Table("待转院", "已备案、尚未转入的转院", cols, rows),), data)  # fmt: skip


@register("hospitals", "医院", 300)
def hospitals_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    pats = _patients(uow, scope)
    funds = _funds(uow, scope)
    queue = _queue(uow, scope)
    n: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in _settlement_lines(uow, scope):
        n[line.provider_code][0 if line.kind == "settlement" else 1] += 1
    deferred: dict[str, int] = defaultdict(int)
    for r in queue.rows:
        deferred[r.provider_code] += r.count
    codes = sorted(set(pats.by_hospital) | set(funds.by_hospital) | set(n)
                   | set(queue.advance_by_hospital) | set(deferred))  # fmt: skip
    names = _names(uow, scope, codes)
    empty = {st: PatientCounts() for st, _ in STATUSES}
    data = tuple(HospitalRow(c, names[c][0], names[c][1], pats.by_hospital.get(c, empty),
                             n[c][0], n[c][1], funds.by_hospital.get(c, ZERO),
                             queue.advance_by_hospital.get(c, 0), deferred.get(c, 0))
                 for c in codes)  # fmt: skip
    cols = [
        Column("医院编码", width=16),
        Column("医院名称", width=28),
        Column("定点救治", width=10),
    ]
    for _, zh in STATUSES:
        cols += [Column(f"{zh}新入院", "int", 10), Column(f"{zh}在院", "int", 9),
                 Column(f"{zh}出院", "int", 9), Column(f"{zh}结算", "int", 9)]  # fmt: skip
    cols += [Column("结算笔数", "int", 9), Column("撤销笔数", "int", 9)]
    cols += [Column(f"{zh}（元）", "fen", 16) for _, zh in FUNDS]
    cols += [Column("合计（元）", "fen", 16), Column("垫付余额（元）", "fen", 16),
             Column("延迟结算人次", "int", 12)]  # fmt: skip
    rows = []
    for h in data:
        row: list[Any] = [h.provider_code, h.name, "是" if h.covid_designated else "否"]
        for st, _ in STATUSES:
            c = h.patients[st]
            row += [c.admitted, c.in_hospital, c.discharged, c.settled]
        row += [h.settlements, h.reversals, *(h.day.of(k) for k, _ in FUNDS), h.day.total,
                h.advance_fen, h.deferred]  # fmt: skip
        rows.append(tuple(row))
    total: list[Any] = ["合计", "", ""]
    for k in range(3, len(cols)):
        total.append(sum(r[k] for r in rows))
    if rows:
        rows.append(tuple(total))
    table = Table("医院", "各医院当日情况", tuple(cols), tuple(rows))
    return Section("hospitals", "医院", (), (table,), data)


@register("settlements", "当日结算", 600)
def settlements_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    data = _settlement_lines(uow, scope)
    status_zh = dict(STATUSES) | {"none": "普通"}
    cols = (Column("结算号", width=32), Column("类型", width=6), Column("医院编码", width=16),
            Column("就诊号", width=32), Column("身份证号", "id", 22), Column("患者类别", width=8),
            Column("结算时间", width=20),
            *(Column(f"{zh}（元）", "fen", 14) for _, zh in FUNDS),
            Column("合计（元）", "fen", 16))  # fmt: skip
    rows = tuple((s.settlement_id, "结算" if s.kind == "settlement" else "撤销", s.provider_code,
                  s.encounter_id, s.insuree, status_zh.get(s.covid_status, s.covid_status),
                  s.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
                  *(s.amounts.of(k) for k, _ in FUNDS), s.amounts.total)
                 for s in data)  # fmt: skip
    return Section("settlements", "当日结算", (),
                   (Table("当日结算", "当日结算明细（含撤销）", cols, rows),), data)  # fmt: skip


@register("trend", "疫情趋势", 700)
def trend_section(uow: UnitOfWork, _caller: Principal, scope: ReportScope) -> Section:
    days = [scope.since + dt.timedelta(n) for n in range((scope.day - scope.since).days + 1)]
    index = {d: n for n, d in enumerate(days)}
    sts = [st for st, _ in STATUSES]
    admitted = {st: [0] * len(days) for st in sts}
    change = {st: [0] * (len(days) + 1) for st in sts}  # +1 from admission, -1 after discharge
    for s in _stays(uow, scope).values():
        if s.status == "none" or s.admit_date > scope.day:
            continue
        if s.admit_date >= scope.since:
            admitted[s.status][index[s.admit_date]] += 1
        first = index.get(s.admit_date, 0) if s.admit_date >= scope.since else 0
        change[s.status][first] += 1
        if s.discharge_date is not None and s.discharge_date <= scope.day:  # out that day
            change[s.status][max(first, index.get(s.discharge_date, 0))] -= 1
    spent: dict[dt.date, FundAmounts] = {}
    for (on, _), amounts in _ledger(uow, scope).spent.items():
        spent[on] = spent.get(on, ZERO) + amounts
    points = []
    running = dict.fromkeys(sts, 0)
    for n, d in enumerate(days):
        for st in sts:
            running[st] += change[st][n]
        points.append(TrendPoint(d, {st: admitted[st][n] for st in sts}, dict(running),
                                 spent.get(d, ZERO)))  # fmt: skip
    cols = (Column("日期", "date", 12),
            *(Column(f"{zh}新入院", "int", 10) for _, zh in STATUSES),
            *(Column(f"{zh}在院", "int", 9) for _, zh in STATUSES),
            *(Column(f"{zh}（元）", "fen", 16) for _, zh in FUNDS),
            Column("合计（元）", "fen", 16))  # fmt: skip
    rows = tuple((p.day, *(p.admitted[st] for st in sts), *(p.in_hospital[st] for st in sts),
                  *(p.spent.of(k) for k, _ in FUNDS), p.spent.total) for p in points)  # fmt: skip
    return Section("trend", "疫情趋势", (), (Table("趋势", "每日患者与基金支付", cols, rows),),
                   tuple(points))  # fmt: skip
