"""Settlement request and result records (SETTLEMENT.md §2 and §7).

Requests are frozen dataclasses; ``yibao.core.engine.parse`` validates JSON into them
with Pydantic (``__pydantic_config__``: strict types, unknown keys refused), so the same
records serve the CLI, the API, the services and the tests. Results use the national
platform's field names (GLOSSARY.md). Money is integer fen, ratios basis points; a line's
price is millionths of a yuan (``price_e6``) and its quantity ten-thousandths
(``qty_e4``), the national wire's ``pric`` and ``cnt`` 1:1 (SETTLEMENT.md §1). Records
are built by keyword: no field is ever read or written by its position.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from annotated_types import Ge, Le, MaxLen, MinLen

from yibao.core.engine.explain import FundRow, Trace, setldetail_of, trace_of
from yibao.core.money import MAX_I64

__all__ = [
    "ACCUMULATOR_FIELDS",
    "MAX_FEN",
    "MAX_I64",
    "SETLINFO_FIELDS",
    "Accumulators",
    "Encounter",
    "Facts",
    "FundRow",
    "Insuree",
    "Line",
    "LineResult",
    "Provider",
    "SetlInfo",
    "SettleRequest",
    "Settlement",
    "Trace",
]

# Bounds that keep every product of the rules inside a signed 64-bit integer, so the
# batch engine (int64 columns) and the scalar engine (Python ints) agree to the fen:
# price_e6, qty_e4 and their product are at most MAX_I64 (SETTLEMENT.md §1; the product
# is checked by ``validate``), so a line is at most about 922 million yuan.
MAX_FEN = 10**13  # 1000亿元: accumulators, balances

_STRICT: dict[str, Any] = {"extra": "forbid", "strict": True}

Fen = Annotated[int, Ge(0), Le(MAX_FEN)]
Text = Annotated[str, MinLen(1), MaxLen(64)]


@dataclass(frozen=True, slots=True)
class Insuree:
    """参保人 as the snapshot sees them."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    id: Text  # psn_no
    scheme: Literal["employee", "resident", "none"]  # 险种; none = 未参保
    resident_tier: Literal[1, 2] | None  # 居民档次
    insured_region: Text  # 参保地 insuplc_admdvs
    assistance_category: Annotated[str, MinLen(1), MaxLen(32)]  # 医疗救助对象类别
    account_balance_fen: Fen  # 个人账户余额
    enrolled: bool  # 参保信息已导入


@dataclass(frozen=True, slots=True)
class Provider:
    """定点医疗机构."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    code: Text  # fixmedins_code
    region: Text  # 就医地 mdtrtarea_admvs
    level: Literal[1, 2, 3]  # 医院等级
    covid_designated: bool  # 定点救治医院


@dataclass(frozen=True, slots=True)
class Encounter:
    """就诊 (an inpatient stay or a visit)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    id: Text  # mdtrt_id
    med_type: Annotated[str, MinLen(1), MaxLen(8)]  # 医疗类别
    admit_date: dt.date
    discharge_date: dt.date  # the settlement date: selects pack and overlay
    diagnoses: tuple[Annotated[str, MinLen(1), MaxLen(32)], ...]  # 医保病种编码
    covid_status: Literal["confirmed", "suspected", "none"]
    filing: Literal["registered", "unregistered", "not_needed"]  # 异地就医备案
    admission_seq: Annotated[int, Ge(1), Le(1000)]  # 本年第n次住院
    transfer_from: Text | None  # 转院: the earlier encounter


@dataclass(frozen=True, slots=True)
class Line:
    """费用明细: one charge line, its catalog fields resolved."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    sn: Text  # feedetl_sn
    code: Annotated[str, MinLen(1), MaxLen(64)]  # med_list_codg
    category: Literal["drug", "service", "consumable", "bed", "other"]
    item_class: Literal["A", "B", "C"]  # 甲/乙/丙
    selfpay_bp: Annotated[int, Ge(0), Le(10000)]  # 乙类先行自付比例
    price_e6: Annotated[int, Ge(0), Le(MAX_I64)]  # 单价 pric × 10^6
    qty_e4: Annotated[int, Ge(0), Le(MAX_I64)]  # 数量 cnt × 10^4
    price_cap_e6: Annotated[int, Ge(0), Le(MAX_I64)] | None  # 限价 × 10^6
    in_protocol: bool  # 诊疗方案内
    temp_code: bool  # 临时新增编码


@dataclass(frozen=True, slots=True)
class Accumulators:
    """This insuree's yearly cumulative values before (or after) an encounter, over the
    settlements that stand: for each capped fund what its cap is measured on and what
    the fund has paid (SETTLEMENT.md §2; the paid form of §5–§6)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    basic_entitled_fen: Fen  # 基本医保累计应付（封顶前）
    basic_paid_fen: Fen  # 统筹基金累计已付
    serious_base_fen: Fen  # 大病累计自付
    serious_paid_fen: Fen  # 大病保险/大额补助累计已付
    assistance_entitled_fen: Fen  # 救助累计应付（封顶前）
    assistance_paid_fen: Fen  # 医疗救助累计已付

    def as_dict(self) -> dict[str, int]:
        """The six values by name (``ACCUMULATOR_FIELDS`` order)."""
        return {
            "basic_entitled_fen": self.basic_entitled_fen,
            "basic_paid_fen": self.basic_paid_fen,
            "serious_base_fen": self.serious_base_fen,
            "serious_paid_fen": self.serious_paid_fen,
            "assistance_entitled_fen": self.assistance_entitled_fen,
            "assistance_paid_fen": self.assistance_paid_fen,
        }

    def minus(self, other: Accumulators) -> Accumulators:
        """Field by field ``self - other`` (what a settlement moved)."""
        return Accumulators(**{f: getattr(self, f) - getattr(other, f) for f in ACCUMULATOR_FIELDS})


ACCUMULATOR_FIELDS = (
    "basic_entitled_fen",
    "basic_paid_fen",
    "serious_base_fen",
    "serious_paid_fen",
    "assistance_entitled_fen",
    "assistance_paid_fen",
)
"""The accumulators' names, in the order the contract lists them."""


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """A settlement snapshot: the engine reads nothing else (SETTLEMENT.md §2)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    insuree: Insuree
    provider: Provider
    encounter: Encounter
    lines: Annotated[tuple[Line, ...], MaxLen(100_000)]
    accumulators: Accumulators


class LineResult(NamedTuple):
    """Per-line result (the 2301 ``result`` row). A tuple: it is built 20 times a stay."""

    feedetl_sn: str
    det_item_fee_sumamt: int
    fulamt_ownpay_amt: int  # 全自费
    overlmt_amt: int  # 超限价
    preselfpay_amt: int  # 先行自付
    inscp_scp_amt: int  # 符合政策范围
    chrgitm_lv: str  # 01 甲 / 02 乙 / 03 丙
    rule: str  # which step of SETTLEMENT.md §4 decided the line


SETLINFO_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "pool_selfpay_amt",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "fiscal_pay",
    "acct_pay",
    "psn_cash_pay",
)


class SetlInfo(NamedTuple):
    """The 16 settlement amounts, integer fen (setlinfo; ``fiscal_pay`` is ours)."""

    medfee_sumamt: int  # 医疗费总额
    fulamt_ownpay_amt: int  # 全自费金额
    overlmt_selfpay: int  # 超限价自费
    preselfpay_amt: int  # 先行自付金额
    inscp_scp_amt: int  # 符合政策范围金额
    act_pay_dedc: int  # 实际支付起付线
    hifp_pay: int  # 统筹基金支出
    pool_selfpay_amt: int  # 统筹段个人自付 (not the wire's pool_prop_selfpay ratio)
    hifmi_pay: int  # 居民大病保险
    hifob_pay: int  # 职工大额医疗补助
    maf_pay: int  # 医疗救助
    fund_pay_sumamt: int  # 基金支付总额
    psn_part_amt: int  # 个人负担总金额
    fiscal_pay: int  # 新冠财政补助 (outside fund_pay_sumamt)
    acct_pay: int  # 个人账户支出
    psn_cash_pay: int  # 个人现金支出

    def negated(self) -> SetlInfo:
        return SetlInfo(*(-x for x in self))


class Facts(NamedTuple):
    """The inputs of every waterfall step, kept with the settlement so that its trace and
    ``setldetail`` rows can be built when read (``explain``), not on every settle.

    Built and stored by name (``_asdict``), never by position."""

    scheme: str
    scheme_key: str
    level: int
    admission_seq: int
    transfer: bool
    line_count: int
    line_clause: str
    d_fen: int  # 起付线 D before min(inscp, D)
    deductible_clause: str
    out_of_area: bool
    referral_cut: bool
    cut_waived: bool
    ratio_clause: str
    basic_raw_fen: int
    basic_cap_fen: int
    basic_before_fen: int
    basic_paid_before_fen: int
    basic_cap_clause: str
    serious_base_fen: int
    serious_before_fen: int
    serious_paid_before_fen: int
    serious_g_after_fen: int
    serious_threshold_fen: int
    serious_cap_fen: int
    serious_clause: str
    assistance_category: str
    assisted: bool
    assistance_base_fen: int
    assistance_ratio_bp: int
    assistance_raw_fen: int
    assistance_before_fen: int
    assistance_paid_before_fen: int
    assistance_cap_fen: int
    assistance_clause: str
    covid_status: str
    subsidy_scope: str | None
    fiscal_fund_code: str | None
    out_of_scope_fen: int
    account_forbidden: bool
    may_pay: str
    account_allowed_fen: int
    account_clause: str


class Settlement(NamedTuple):
    """A settlement: amounts, lines, accumulators and balance before and after, and the
    facts its trace (``trace``) and fund rows (``setldetail``) are built from.

    Immutable; a tuple because the scalar engine builds one per encounter, tens of
    thousands a second."""

    pack_id: str
    pack_sha256: str
    encounter_id: str
    insuree_id: str
    covid: bool
    overlay_clause: str | None
    ratio_bp: int  # R actually applied (the wire's pool_prop_selfpay)
    setlinfo: SetlInfo
    lines: tuple[LineResult, ...]
    accumulators_before: Accumulators
    accumulators_after: Accumulators
    account_balance_before_fen: int
    account_balance_after_fen: int
    facts: Facts

    @property
    def trace(self) -> tuple[Trace, ...]:
        """Every amount with its step, inputs and clause (SETTLEMENT.md §7)."""
        return trace_of(self)

    @property
    def setldetail(self) -> tuple[FundRow, ...]:
        """One row per fund, with its national code (基金分项)."""
        return setldetail_of(self)
