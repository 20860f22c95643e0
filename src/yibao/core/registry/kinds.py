"""The registries: their columns, natural keys, validity periods and rules.

Every registry row is a *version*: the natural key plus ``valid_from`` identifies it,
``valid_from``/``valid_to`` bound the dates it applies to (inclusive; an empty
``valid_to`` is open). A change is a new version; the old one is closed, never
overwritten (docs/STORE.md). The same column list drives the import, the export, the
store and docs/IMPORT.md (a test holds them equal).

Why each registry exists: 渝医保发〔2020〕3号 四（三） (disease code B99.900, HIS 新增病种
并对码), 四（四） (参保信息尚未导入), the provincial notice 二（二） (临时新增编码 for
protocol items without a code), ARCHITECTURE.md capability 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from yibao.core.engine.model import MAX_FEN, MAX_I64
from yibao.core.errors import Problem  # here (column, reason)
from yibao.core.registry import fields as f
from yibao.core.registry.fields import Parser, Value

__all__ = ["KINDS", "Column", "Kind", "kind_named"]


# Parsers are pure, so each column remembers up to _SEEN_MAX cells it parsed well:
# schemes, regions, dates and flags repeat, and a dictionary lookup is cheaper than a
# parse. Unique columns (ID numbers, names) stop filling theirs at the cap.
_SEEN_MAX = 4096
Rules = Callable[[Mapping[str, Value]], list[Problem]]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a registry file and table."""

    name: str  # header in files, column in the table
    label: str  # 中文 header, accepted on import
    parse: Parser
    required: bool
    doc: str
    default: Value = None  # the value of an empty optional cell
    personal: str | None = None  # "psn_no" | "name": masked unless allowed


@dataclass(frozen=True, slots=True)
class Kind:
    """A registry: what a row holds and what makes it valid."""

    name: str  # the CLI's word: yibao import insurees
    table: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key; with valid_from it names one version
    rules: Rules
    references: tuple[tuple[str, str, str], ...] = ()  # (column, kind, its column)
    uniform: tuple[str, tuple[str, ...]] | None = None  # group column, columns equal in it
    names: tuple[str, ...] = field(init=False)
    _plan: tuple[tuple[str, Parser, bool, Value, dict[str, Value]], ...] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(c.name for c in self.columns))
        seen: list[dict[str, Value]] = [{} for _ in self.columns]
        plan = tuple(
            (c.name, c.parse, c.required, c.default, d)
            for c, d in zip(self.columns, seen, strict=True)
        )
        object.__setattr__(self, "_plan", plan)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def parse_row(self, cells: Sequence[str]) -> tuple[list[Value], list[Problem]]:
        """Parse one row's cells (in column order, stripped); check its rules.

        Returns the values and every problem found (column, reason). The import calls
        this a million times a file: keep it tight."""
        values: list[Value] = []
        problems: list[Problem] = []
        for (name, parse, required, default, seen), cell in zip(self._plan, cells, strict=True):
            if not cell:
                if required:
                    problems.append((name, "required"))
                values.append(default)
                continue
            if cell in seen:
                values.append(seen[cell])
                continue
            try:
                value = parse(cell)
            except ValueError as exc:
                problems.append((name, str(exc)))
                value = None
            else:
                if len(seen) < _SEEN_MAX:  # most columns repeat a few values
                    seen[cell] = value
            values.append(value)
        if not problems:
            row = dict(zip(self.names, values, strict=True))
            problems = _ordered(row, "valid_from", "valid_to") + self.rules(row)
        return values, problems


def _ordered(row: Mapping[str, Value], lo: str, hi: str) -> list[Problem]:
    a, b = row[lo], row[hi]
    if b is None:
        return []
    if a is None:
        return [(lo, f"required when {hi} is given")]
    if isinstance(a, dt.date) and isinstance(b, dt.date) and b < a:
        return [(hi, f"{b} is before {lo} {a}")]
    return []


def _within(row: Mapping[str, Value], child: str, parent: str) -> list[Problem]:
    c, p = row[child], row[parent]
    if isinstance(c, str) and isinstance(p, str) and not c.startswith(p):
        return [(child, f"{c} is not inside {parent} {p}")]
    return []


def _valid(doc: str) -> tuple[Column, Column]:
    return (
        Column("valid_from", "生效日期", f.date, True, f"first day {doc} (inclusive)"),
        Column("valid_to", "失效日期", f.date, False, f"last day {doc} (inclusive); empty: open"),
    )


# -- insurees 参保人 ------------------------------------------------------------------


def _insuree_rules(row: Mapping[str, Value]) -> list[Problem]:
    out = _within(row, "township", "insured_region")
    if (row["scheme"] == "resident") != (row["resident_tier"] is not None):
        out.append(("resident_tier", "required for scheme resident, empty otherwise"))
    if row["assistance_category"] == "none":
        if row["assistance_from"] is not None or row["assistance_to"] is not None:
            out.append(("assistance_from", "only with an assistance_category"))
    elif row["assistance_from"] is None:
        why = f"required for assistance_category {row['assistance_category']}"
        out.append(("assistance_from", why))
    return out + _ordered(row, "assistance_from", "assistance_to")


INSUREES = Kind(
    name="insurees",
    table="insurees",
    title="参保人 insurees",
    key=("psn_no",),
    rules=_insuree_rules,
    columns=(
        Column(
            "psn_no",
            "人员编号",
            f.psn_no,
            True,
            "公民身份号码, 18 characters with its check digit",
            personal="psn_no",
        ),
        Column("name", "姓名", f.text(50), True, "name", personal="name"),
        Column(
            "scheme",
            "险种",
            f.choice("employee", "resident", "none"),
            True,
            "employee 职工 | resident 居民 | none 未参保",
        ),
        Column(
            "resident_tier",
            "居民档次",
            f.integer(1, 2),
            False,
            "1 一档 | 2 二档; required for resident, empty otherwise",
        ),
        Column("insured_region", "参保地", f.region, True, "参保地 6-digit region code"),
        Column(
            "township",
            "乡镇街道",
            f.township,
            False,
            "9-digit township code inside insured_region (社保所)",
        ),
        Column(
            "assistance_category",
            "医疗救助类别",
            f.code(32),
            False,
            "none | dibao 低保 | tekun 特困 | poverty 建档立卡 | a pack's category",
            default="none",
        ),
        Column(
            "assistance_from",
            "救助开始",
            f.date,
            False,
            "first day of the assistance category; required unless none",
        ),
        Column(
            "assistance_to",
            "救助结束",
            f.date,
            False,
            "last day of the assistance category; empty: open",
        ),
        Column(
            "account_opening_fen",
            "个人账户期初余额",
            f.integer(0, MAX_FEN),
            False,
            "personal-account opening balance, fen (empty: 0)",
            default=0,
        ),
        Column(
            "enrolled",
            "参保信息已导入",
            f.boolean,
            True,
            "enrolment complete (参保手续已办结): true/false",
        ),
        *_valid("of this enrolment version"),
    ),
)

# -- providers 定点医疗机构 -------------------------------------------------------------


def _provider_rules(row: Mapping[str, Value]) -> list[Problem]:
    return (
        _within(row, "township", "region")
        + _ordered(row, "designated_from", "designated_to")
        + _ordered(row, "covid_designated_from", "covid_designated_to")
    )


PROVIDERS = Kind(
    name="providers",
    table="providers",
    title="定点医疗机构 providers",
    key=("code",),
    rules=_provider_rules,
    columns=(
        Column("code", "定点医药机构编号", f.code(20), True, "fixmedins_code"),
        Column("name", "机构名称", f.text(100), True, "name"),
        Column("region", "就医地", f.region, True, "treatment-place region (its catalog applies)"),
        Column("township", "乡镇街道", f.township, False, "9-digit township code inside region"),
        Column("level", "医院等级", f.integer(1, 3), True, "1 | 2 | 3"),
        Column(
            "designated_from",
            "定点开始",
            f.date,
            False,
            "first day as 定点医疗机构 (empty: not designated)",
        ),
        Column("designated_to", "定点结束", f.date, False, "last day as 定点; empty: open"),
        Column(
            "covid_designated_from",
            "定点救治开始",
            f.date,
            False,
            "first day as 新冠肺炎定点救治医院 (empty: never)",
        ),
        Column(
            "covid_designated_to",
            "定点救治结束",
            f.date,
            False,
            "last day as 定点救治医院; empty: open",
        ),
        *_valid("of this version"),
    ),
)

# -- catalog 医保目录 (with 临时新增编码) ------------------------------------------------


def _catalog_rules(row: Mapping[str, Value]) -> list[Problem]:
    if row["item_class"] != "B" and row["selfpay_bp"] != 0:
        return [
            ("selfpay_bp", f"only class B items have a 先行自付 ratio, not {row['item_class']}")
        ]
    return []


CATALOG = Kind(
    name="catalog",
    table="catalog_items",
    title="医保目录 catalog items and 临时新增编码",
    key=("region", "code"),
    rules=_catalog_rules,
    columns=(
        Column(
            "region",
            "目录地区",
            f.region,
            True,
            "region whose catalog this is (500000 applies to every 50xxxx)",
        ),
        Column("code", "医保目录编码", f.code(50), True, "national code (med_list_codg)"),
        Column("name", "名称", f.text(200), True, "name"),
        Column(
            "category",
            "费用类别",
            f.choice("drug", "service", "consumable", "bed", "other"),
            True,
            "drug | service | consumable | bed | other",
        ),
        Column("item_class", "收费项目等级", f.choice("A", "B", "C"), True, "A 甲 | B 乙 | C 丙"),
        Column(
            "selfpay_bp",
            "先行自付比例",
            f.integer(0, 10000),
            False,
            "乙类先行自付比例, basis points (empty: 0)",
            default=0,
        ),
        Column(
            "price_cap_e6",
            "限价",
            f.integer(0, MAX_I64),
            False,
            "price cap per unit, millionths of a yuan (pric × 10^6: 3.2 yuan = 3200000); "
            "empty: none",
        ),
        Column(
            "temp_for",
            "临时编码对应项目",
            f.text(200),
            False,
            "set for a 临时新增编码: the protocol item it stands for",
        ),
        *_valid("in the catalog"),
    ),
)

# -- protocol 诊疗方案 -------------------------------------------------------------------


def _no_rules(_row: Mapping[str, Value]) -> list[Problem]:
    return []


PROTOCOL = Kind(
    name="protocol",
    table="protocol_items",
    title="新冠肺炎诊疗方案 protocol editions and their drugs and items",
    key=("edition", "code"),
    rules=_no_rules,
    uniform=("edition", ("valid_from", "edition_title")),
    columns=(
        Column("edition", "版次", f.integer(1, 99), True, "edition number N (第N版)"),
        Column("edition_title", "方案名称", f.text(200), True, "title of the edition"),
        Column("code", "编码", f.code(50), True, "national code or 临时新增编码 on the list"),
        Column("name", "名称", f.text(200), True, "drug or item name"),
        Column("kind", "类别", f.choice("drug", "item"), True, "drug 药品 | item 诊疗项目"),
        *_valid("of the edition (its effective date; one per edition)"),
    ),
)

# -- mapping 对码 ----------------------------------------------------------------------

MAPPING = Kind(
    name="mapping",
    table="code_mappings",
    title="医药机构目录对码 per-hospital code mapping",
    key=("provider_code", "hospital_code"),
    rules=_no_rules,
    references=(("provider_code", "providers", "code"), ("code", "catalog", "code")),
    columns=(
        Column("provider_code", "定点医药机构编号", f.code(20), True, "the hospital"),
        Column(
            "hospital_code",
            "医药机构目录编码",
            f.code(50),
            True,
            "the hospital's own code (medins_list_codg)",
        ),
        Column("hospital_name", "院内名称", f.text(200), False, "the hospital's name for it"),
        Column("code", "医保目录编码", f.code(50), True, "national code it maps to"),
        Column("approved_by", "审核人", f.text(50), True, "who approved the mapping"),
        Column("approved_on", "审核日期", f.date, True, "when it was approved"),
        *_valid("of the mapping"),
    ),
)

# -- diseases 医保病种 ------------------------------------------------------------------

DISEASES = Kind(
    name="diseases",
    table="disease_codes",
    title="医保病种编码 disease codes",
    key=("code",),
    rules=_no_rules,
    columns=(
        Column("code", "病种编码", f.code(32), True, "e.g. B99.900, U07.100x001"),
        Column("name", "名称", f.text(200), True, "name"),
        Column("source", "依据", f.text(200), False, "document that introduced it"),
        *_valid("of the code"),
    ),
)

KINDS: dict[str, Kind] = {
    k.name: k for k in (INSUREES, PROVIDERS, CATALOG, PROTOCOL, MAPPING, DISEASES)
}


def kind_named(name: str) -> Kind:
    """The registry called ``name`` (insurees, providers, catalog, protocol, mapping,
    diseases); ``KeyError`` names the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown registry {name!r}; known: {', '.join(KINDS)}") from None
