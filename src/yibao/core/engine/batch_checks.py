"""Row checks of the batch engine: the scalar request's rules, as Polars expressions.

Each check is ``(key path, holds, message)``: the same types, enumerations and ranges as
``engine/model.py`` and the rules of ``engine/validate.py`` (resident tier, 6-digit
regions, admit ≤ discharge, no self-transfer, unique ``sn`` within a stay, a known
assistance category), plus the file-level ones a table adds (a line's encounter exists,
an encounter id is unique) and the int64 bounds of DECISIONS 0022 and SETTLEMENT.md §1
(a line's ``price_e6 * qty_e4`` at most 2^63 − 1, tested without forming the product,
which an int64 column would wrap silently). ``holds`` is null
where an input is null, which counts as broken. The hot path ANDs the ``holds`` terms;
messages are built only for the few rows that break one.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from yibao.core.engine.model import MAX_FEN, MAX_I64

__all__ = [
    "CATEGORIES",
    "ITEM_CLASSES",
    "MAX_LINES",
    "STARTS",
    "Check",
    "all_hold",
    "encounter_checks",
    "line_checks",
    "reasons",
    "start_checks",
]

Check = tuple[str, pl.Expr, pl.Expr]

CATEGORIES = ("drug", "service", "consumable", "bed", "other")
ITEM_CLASSES = ("A", "B", "C")
MAX_LINES = 100_000  # SettleRequest.lines
STARTS = (
    "account_balance_fen",
    "start_basic_entitled_fen",
    "start_basic_paid_fen",
    "start_serious_base_fen",
    "start_serious_paid_fen",
    "start_assistance_entitled_fen",
    "start_assistance_paid_fen",
)
_TEXT = 64  # model.Text
_SHORT = {"med_type": 8, "assistance_category": 32}


def _show(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).fill_null("null")


def _text(col: str, most: int = _TEXT, *, fast: bool = False) -> Check:
    # fast: bytes for characters; 1..most bytes implies 1..most characters (conservative)
    n = pl.col(col).str.len_bytes() if fast else pl.col(col).str.len_chars()
    return (
        col,
        n.is_between(1, most),
        pl.format("'{}' must be 1.." + str(most) + " characters", _show(col)),
    )


def _enum(col: str, allowed: Sequence[str]) -> Check:
    msg = pl.format("{} is not one of " + "|".join(allowed), _show(col))
    ok = pl.any_horizontal([pl.col(col) == a for a in allowed])  # cheaper than is_in here
    return col, ok, msg


def _range(col: str, low: int, high: int) -> Check:
    msg = pl.format("{} is outside " + f"{low}..{high}", _show(col))
    return col, pl.col(col).is_between(low, high), msg


def _present(col: str) -> Check:
    return col, pl.col(col).is_not_null(), pl.lit("missing")


def _region(col: str) -> Check:
    ok = pl.col(col).str.contains(r"^[0-9]{6}$")
    return col, ok, pl.format("{} is not a 6-digit region code", _show(col))


def line_checks(*, fast: bool = False) -> list[Check]:
    """Every rule a line row must keep (``model.Line`` and the bound of SETTLEMENT.md §1);
    ``fast`` may flag a valid row (text lengths in bytes) but never passes an invalid one.

    ``price_e6 * qty_e4 <= 2^63 − 1`` is ``qty_e4 <= (2^63 − 1) // price_e6`` for a
    positive price (exact for integers): the product itself would wrap in int64. Such a
    line's amount is below 9.3 × 10^10 fen, so it never passes ``MAX_FEN`` either. The
    ``fast`` form divides nothing: below 2^40 × 2^23, 2^23 × 2^40 or 2^32 × 2^31 (a price
    up to 1.1 million yuan and up to 838 units, …) the product fits.
    """
    price, qty, cap = pl.col("price_e6"), pl.col("qty_e4"), pl.col("price_cap_e6")
    too_big = (price > 0) & (qty > MAX_I64 // price)  # null (no division) when price is 0
    if fast:
        fits = pl.any_horizontal(
            (price < 2**a) & (qty < 2**b) for a, b in ((40, 23), (23, 40), (32, 31))
        )
        too_big = ~fits
    shown = _show("price_e6"), _show("qty_e4")
    return [
        _present("encounter_id"),
        _text("sn", fast=fast),
        _text("code", fast=fast),
        _enum("category", CATEGORIES),
        _enum("item_class", ITEM_CLASSES),
        _range("selfpay_bp", 0, 10000),
        _range("price_e6", 0, MAX_I64),
        _range("qty_e4", 0, MAX_I64),
        (
            "price_cap_e6",
            cap.is_null() | cap.is_between(0, MAX_I64),
            pl.format(f"{{}} is outside 0..{MAX_I64}", _show("price_cap_e6")),
        ),
        _present("in_protocol"),
        _present("temp_code"),
        ("qty_e4", ~too_big, pl.format("price_e6 × qty_e4 = {} × {} exceeds 2^63 − 1", *shown)),
    ]


def encounter_checks(known_category: pl.Expr) -> list[Check]:
    """Every rule an encounter row must keep on its own (``model`` and ``validate``)."""
    return [*_insuree_checks(known_category), *_stay_checks(), *_table_checks()]


def _insuree_checks(known_category: pl.Expr) -> list[Check]:
    """The insuree's columns: ids, scheme and tier, region, assistance category."""
    scheme, tier = pl.col("scheme"), pl.col("resident_tier")
    tier_ok = (
        pl.when(scheme == "resident")
        .then(tier.is_in([1, 2]))
        .when(scheme.is_in(["employee", "none"]))
        .then(tier.is_null())
        .otherwise(True)  # an unknown scheme is reported once, under scheme
    )
    tier_msg = pl.when(scheme == "resident").then(pl.lit("a resident needs resident_tier 1 or 2"))
    return [
        _present("encounter_id"),
        _present("insuree_id"),
        _enum("scheme", ("employee", "resident", "none")),
        (
            "resident_tier",
            tier_ok,
            tier_msg.otherwise(pl.format("must be null for scheme {}", _show("scheme"))),
        ),
        _region("insured_region"),
        _text("assistance_category", _SHORT["assistance_category"]),
        (
            "assistance_category",
            known_category,
            pl.format("unknown category '{}'", _show("assistance_category")),
        ),
    ]


def _stay_checks() -> list[Check]:
    """The provider's and the stay's own columns."""
    return [
        _text("provider_code"),
        _region("provider_region"),
        _range("provider_level", 1, 3),
        _present("covid_designated"),
        _text("med_type", _SHORT["med_type"]),
        _present("admit_date"),
        _present("discharge_date"),
        (
            "discharge_date",
            pl.col("admit_date") <= pl.col("discharge_date"),
            pl.format("{} is before admit_date {}", _show("discharge_date"), _show("admit_date")),
        ),
        (
            "diagnoses",
            pl.col("diagnoses")
            .list.eval(pl.element().str.len_chars().is_between(1, 32))
            .list.all(),
            pl.lit("each diagnosis must be 1..32 characters"),
        ),
        _enum("covid_status", ("confirmed", "suspected", "none")),
        _enum("filing", ("registered", "unregistered", "not_needed")),
        _range("admission_seq", 1, 1000),
        (
            "transfer_from",
            pl.col("transfer_from").is_null() | (pl.col("transfer_from") != pl.col("encounter_id")),
            pl.lit("an encounter cannot transfer from itself"),
        ),
    ]


def _table_checks() -> list[Check]:
    """What the row's place in the tables decides: duplicates, its lines, its pack."""
    return [
        (
            "encounter_id",
            ~pl.col("dup"),  # computed over the whole table (``batch._resolve``)
            pl.format("duplicate encounter_id {}", _show("encounter_id")),
        ),
        (
            "lines",
            pl.col("n_lines") <= MAX_LINES,
            pl.format(f"{{}} lines: at most {MAX_LINES} per encounter", pl.col("n_lines")),
        ),
        (
            "lines",
            pl.col("medfee_sumamt") <= MAX_FEN,
            pl.format(f"medfee_sumamt {{}} exceeds {MAX_FEN}", pl.col("medfee_sumamt")),
        ),
        (
            "pack",
            pl.col("pack").is_not_null(),
            pl.format(
                "no single policy pack covers insured region {} on discharge date {}",
                _show("insured_region"),
                _show("discharge_date"),
            ),
        ),
    ]


def start_checks() -> list[Check]:
    """The starting state, read on the first row of each insuree-year only (``first``)."""
    return [
        (
            col,
            ~pl.col("first") | pl.col(col).is_between(0, MAX_FEN),
            pl.format(f"{{}} is outside 0..{MAX_FEN}", _show(col)),
        )
        for col in STARTS
    ]


def all_hold(checks: Sequence[Check]) -> pl.Expr:
    """True where every check holds (a null counts as broken: with Kleene logic the
    conjunction is false or null as soon as one term is, so one fill at the end)."""
    return pl.all_horizontal([ok for _, ok, _ in checks]).fill_null(False)


def reasons(checks: Sequence[Check]) -> pl.Expr:
    """``path: message`` for every broken check, joined by ``; `` (null when none)."""
    parts = [
        pl.when(ok.fill_null(False)).then(None).otherwise(pl.format(f"{path}: {{}}", msg))
        for path, ok, msg in checks
    ]
    return pl.concat_str(parts, separator="; ", ignore_nulls=True).replace("", None)
