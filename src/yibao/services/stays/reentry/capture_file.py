"""The offline capture file (docs/OFFLINE.md "Offline capture file"): its columns, the
Excel template, the readers (``.xlsx``, ``.csv``, ``.parquet``) and the row checks.

One table, one row per fee line (费用明细), the encounter's columns repeated on each of
its lines — what a hospital's HIS exports and what a clerk fills by hand during an
outage (渝医保发〔2020〕3号 四（四）: "先救治、后结算"). The line columns are the fee
upload's (REST ``FeeLineIn``: fen, thousandths); the encounter columns are admission's
and discharge's. Times are Beijing time without an offset.

``read_file`` gives every cell as text; ``parse`` checks every row and returns typed
frames or the full list of problems, each naming row (the spreadsheet's: the header is
row 1), column and reason. Nothing here touches the store (DECISIONS 0067).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from yibao.core.errors import InvalidRequest, Problem
from yibao.core.money import MAX_I64, line_amount
from yibao.core.registry.identity import psn_no_problem

__all__ = [
    "COLUMNS",
    "ENCOUNTER_COLUMNS",
    "Parsed",
    "describe",
    "parse",
    "read_file",
    "write_result",
    "write_template",
]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    zh: str
    help: str


COLUMNS = (
    Column("provider_code", True, "定点医疗机构编码", "fixmedins_code, e.g. H50010200001"),
    Column("encounter_no", True, "住院号", "the hospital's own number of the stay (≤ 30)"),
    Column("insuree_id", True, "人员编号(身份证号)", "psn_no: 18-character ID number"),
    Column("insured_region", False, "参保地", "6 digits; used only while the enrolment is not "
           "imported (default: the hospital's region)"),
    Column("med_type", False, "医疗类别", "21 普通住院 (default)"),
    Column("admit_time", True, "入院时间", "YYYY-MM-DD HH:MM[:SS], Beijing time"),
    Column("discharge_time", True, "出院时间", "YYYY-MM-DD HH:MM[:SS], Beijing time"),
    Column("diagnoses", True, "诊断编码", "医保病种编码, main first, ';' between: B99.900;J18.900"),
    Column("covid_status", False, "确诊/疑似", "confirmed|suspected|none; blank: from diagnoses"),
    Column("filing", False, "异地就医备案", "registered | unregistered | not_needed (default)"),
    Column("insutype", False, "险种类型", "as the HIS has it (kept, not used to settle)"),
    Column("provisional_cash_fen", False, "暂收个人金额(分)",
           "what the patient paid at discharge, fen"),
    Column("sn", True, "费用明细流水号", "feedetl_sn: unique in the stay (≤ 30)"),
    Column("code", True, "医保目录编码/医院项目编码",
           "national code or the hospital's mapped code"),
    Column("price_e6", True, "单价(百万分之一元)",
           "pric × 10^6, an integer: 12.34 yuan = 12340000; 0 … 2^63 − 1"),
    Column("qty_e4", True, "数量(万分之一)",
           "cnt × 10^4, an integer: 2.5 boxes = 25000; > 0; price_e6 × qty_e4 ≤ 2^63 − 1"),
    Column("amount_fen", False, "金额(分)", "optional; must be price × qty rounded half up"),
    Column("service_time", False, "费用发生时间", "blank: the admission day"),
    Column("dept", False, "开单科室", "≤ 30"),
    Column("doctor", False, "开单医生", "≤ 30"),
    Column("order_no", False, "医嘱号", "≤ 30"),
)  # fmt: skip
NAMES = tuple(c.name for c in COLUMNS)
ENCOUNTER_COLUMNS = ("provider_code", "encounter_no", "insuree_id", "insured_region",
                     "med_type", "admit_time",
                     "discharge_time", "diagnoses", "covid_status", "filing", "insutype",
                     "provisional_cash_fen")  # fmt: skip
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")  # fmt: skip
_SHOWN = 10


def write_template(path: Path) -> None:
    """The Excel template: sheet 费用明细 (the header row, one example row), and sheet
    说明 (each column: name, required, Chinese name, what to enter)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "费用明细"
    ws.append(list(NAMES))
    # the example employee at the demo district's centre: 2 × 50 yuan = 100 yuan
    ws.append(["H50010200001", "ZY2020020301", "500102198003150016", "", "21",
               "2020-02-03 09:00", "2020-02-12 10:00", "B99.900", "", "not_needed", "310",
               "0", "1", "001-00001", 50_000_000, 20_000, 10000, "2020-02-03 10:00", "", "",
               ""])  # fmt: skip
    doc = wb.create_sheet("说明")
    doc.append(["column", "required", "中文", "what to enter"])
    for c in COLUMNS:
        doc.append([c.name, "yes" if c.required else "no", c.zh, c.help])
    doc.append([])
    doc.append(["One row per fee line; the encounter's columns repeat on each of its lines "
                "and must agree. Times are Beijing time. See docs/OFFLINE.md."])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def read_file(path: Path) -> pl.DataFrame:
    """Every cell as text (empty cells null), the known columns only, in file order,
    plus ``row``: the row number as a spreadsheet shows it (header = row 1)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = _texts(pl.read_parquet(path))
        elif suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
        elif suffix == ".xlsx":
            frame = _read_xlsx(path)
        else:
            raise InvalidRequest(f"{path.name}: not .xlsx, .csv or .parquet")
    except (OSError, pl.exceptions.PolarsError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InvalidRequest(f"{path.name}: cannot read: {detail}") from None
    missing = [c.name for c in COLUMNS if c.required and c.name not in frame.columns]
    if missing:
        raise InvalidRequest(f"{path.name}: {missing[0]}: missing column")
    cols = [pl.col(n).cast(pl.String).str.strip_chars() if n in frame.columns
            else pl.lit(None, pl.String).alias(n) for n in NAMES]  # fmt: skip
    blank = [pl.when(pl.col(n) == "").then(None).otherwise(pl.col(n)).alias(n) for n in NAMES]
    out = frame.select(cols).with_columns(blank)
    return out.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64))


def _texts(frame: pl.DataFrame) -> pl.DataFrame:
    """A Parquet table's columns as text; zoned times as Beijing time first."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            col = col.dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None)
        out.append(col.cast(pl.String))
    return frame.select(out)


def _read_xlsx(path: Path) -> pl.DataFrame:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    ws = wb["费用明细"] if "费用明细" in wb.sheetnames else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    data: dict[str, list[str | None]] = {h: [] for h in header if h}
    for r in rows:
        if all(v is None or v == "" for v in r):
            continue
        for h, v in zip(header, r, strict=False):
            if h:
                data[h].append(None if v is None else _cell(v))
    wb.close()
    return pl.DataFrame(data, schema=dict.fromkeys(data, pl.String))


def _cell(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel keeps numbers as floats: 5000.0 is 5000
    return str(v)


# -- checks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """The file's rows, typed: one row per line (file order), and one per encounter."""

    lines: pl.DataFrame  # ``stay``: the row of the line's encounter in ``encounters``
    encounters: pl.DataFrame
    duplicates: int  # identical repeated lines dropped (same provider, encounter, sn)


_TIMES = ("admit_time", "discharge_time", "service_time")
_KEY = ["provider_code", "encounter_no"]
_FIRST = "_first"  # ``_with_stays``


def _time(name: str) -> pl.Expr:
    """The column as times (null where not one): its parsed copy (``_with_times``)."""
    return pl.col(f"_{name}")


def _with_times(frame: pl.DataFrame) -> pl.DataFrame:
    """The time columns parsed, as ``_admit_time`` …: each distinct text once (a file
    repeats its stays' times on every line, and there are seven formats to try)."""
    parsed = []
    for name in _TIMES:
        texts = frame.get_column(name).unique().drop_nulls()
        times = texts.to_frame().select(pl.coalesce(
            [pl.col(name).str.strptime(pl.Datetime("us"), f, strict=False)
             for f in _TIME_FORMATS])).to_series()  # fmt: skip
        parsed.append(pl.col(name).replace_strict(texts, times, default=None,
                                                  return_dtype=pl.Datetime("us"))
                      .alias(f"_{name}"))  # fmt: skip
    return frame.with_columns(parsed)


def _with_stays(frame: pl.DataFrame) -> pl.DataFrame:
    """``_first``: each line's stay as an integer, the index of its first line (the
    provider and encounter number hashed once; later steps group by the integer)."""
    index = pl.Series(_FIRST, range(frame.height), dtype=pl.Int64)
    return frame.with_columns(index).with_columns(pl.col(_FIRST).first().over(_KEY))


def _int(name: str) -> pl.Expr:
    return pl.col(name).str.to_integer(strict=False)


def _outside(name: str, lo: int, hi: int) -> pl.Expr:
    return pl.col(name).is_not_null() & ~_int(name).is_between(lo, hi).fill_null(False)


def _amount() -> pl.Expr:
    """``line_amount`` of the row (a row past the product bound is refused: its amount is
    not looked at)."""
    price, qty = _int("price_e6"), _int("qty_e4")
    fits = (qty > 0) & (price <= MAX_I64 // qty)
    return line_amount(pl.when(fits).then(price).otherwise(0), qty)


def _checks() -> list[tuple[str, pl.Expr, str]]:
    """(column, a failing condition, reason) for the row-level checks."""
    n = pl.col
    status, filing = ("confirmed", "suspected", "none"), ("registered", "unregistered",
                                                           "not_needed")  # fmt: skip
    out = [(c.name, n(c.name).is_null(), "required") for c in COLUMNS if c.required]
    out += [(c, n(c).str.len_chars() > 30, "longer than 30 characters")
            for c in ("encounter_no", "sn", "dept", "doctor", "order_no")]  # fmt: skip
    out += [
        ("provider_code", n("provider_code").str.len_chars() > 20, "longer than 20 characters"),
        ("code", n("code").str.len_chars() > 50, "longer than 50 characters"),
        ("med_type", n("med_type").str.len_chars() > 8, "longer than 8 characters"),
        ("insured_region", ~n("insured_region").str.contains(r"^\d{6}$"), "not 6 digits"),
        ("insutype", n("insutype").str.len_chars() > 8, "longer than 8 characters"),
        ("admit_time", n("admit_time").is_not_null() & _time("admit_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("discharge_time", n("discharge_time").is_not_null() & _time("discharge_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("discharge_time", _time("discharge_time") < _time("admit_time"),
         "before the admission"),
        ("service_time", n("service_time").is_not_null() & _time("service_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("covid_status", n("covid_status").is_not_null() & ~n("covid_status").is_in(status),
         "not confirmed|suspected|none"),
        ("filing", n("filing").is_not_null() & ~n("filing").is_in(filing),
         "not registered|unregistered|not_needed"),
        ("price_e6", _outside("price_e6", 0, MAX_I64),
         f"not an integer 0 … {MAX_I64} (millionths of a yuan)"),
        ("qty_e4", _outside("qty_e4", 1, MAX_I64),
         f"not an integer 1 … {MAX_I64} (ten-thousandths; refunds: enter the net quantity)"),
        ("qty_e4", (_int("price_e6") > MAX_I64 // _int("qty_e4")).fill_null(False),
         f"price_e6 × qty_e4 exceeds {MAX_I64} (a line of about 922 million yuan)"),
        ("amount_fen", n("amount_fen").is_not_null() & (_int("amount_fen").is_null() | (
            _int("amount_fen") != _amount())), "not price × qty (rounded half up)"),
        ("provisional_cash_fen", n("provisional_cash_fen").is_not_null()
         & ~_int("provisional_cash_fen").is_between(0, 10**13), "not an integer ≥ 0 (fen)"),
    ]  # fmt: skip
    return out


def _problems(frame: pl.DataFrame, repeats: pl.Series | None) -> pl.DataFrame:
    """Every (row, column, reason) the file breaks, in row order (``repeats``: the
    lines ``_repeats`` found)."""
    checks = _checks()
    flags = frame.select("row", *[cond.fill_null(False).alias(f"_{i}")
                                  for i, (_, cond, _) in enumerate(checks)])  # fmt: skip
    parts = [flags.filter(pl.col(f"_{i}")).select("row", column=pl.lit(col), reason=pl.lit(why))
             for i, (col, _, why) in enumerate(checks)]  # fmt: skip
    ids = frame.select("row", "insuree_id").drop_nulls().unique("insuree_id")
    bad_ids = [(r, "insuree_id", why) for r, v in ids.iter_rows()
               if (why := psn_no_problem(v)) is not None]  # fmt: skip
    if bad_ids:
        parts.append(pl.DataFrame(bad_ids, schema=["row", "column", "reason"], orient="row"))
    parts += _disagreements(frame, repeats)
    return pl.concat(parts, how="vertical_relaxed").sort("row", maintain_order=True)


def _disagreements(frame: pl.DataFrame, repeats: pl.Series | None) -> list[pl.DataFrame]:
    """An encounter's columns differing from the stay's first line; a repeated ``sn``
    with other content (an identical repeat is dropped later, not a problem)."""
    first = frame.get_column(_FIRST)
    # each stay's lines together, as files are written: a column agrees with the first
    # line if it agrees with the line before in the same stay (cheaper than gathering)
    together = first.is_sorted()
    same_stay = first == first.shift(1)
    out = []
    for col in ENCOUNTER_COLUMNS[2:]:
        values = frame.get_column(col)
        if together and not (same_stay & values.ne_missing(values.shift(1))).any():
            continue
        differs = values.ne_missing(values.gather(first))
        if differs.any():
            bad = frame.filter(differs)
            out.append(bad.select("row", column=pl.lit(col),
                                  reason=pl.lit("differs from the stay's first line")))  # fmt: skip
    if repeats is not None:
        key, line = [*_KEY, "sn"], [c for c in NAMES if c not in ENCOUNTER_COLUMNS]
        twin = frame.filter(pl.struct(line).n_unique().over(key) > 1)
        twin = twin.filter(pl.col("row") != pl.col("row").first().over(key))
        why = pl.lit("feedetl_sn repeated with other content")
        out.append(twin.select("row", column=pl.lit("sn"), reason=why))
    return out


def _repeats(frame: pl.DataFrame) -> pl.Series | None:
    """Lines whose (provider, encounter, ``sn``) an earlier line has; None if none."""
    per_stay = frame.group_by(_FIRST).agg(pl.col("sn").n_unique())
    if per_stay.get_column("sn").sum() == frame.height:
        return None
    return frame.select(~pl.struct(_FIRST, "sn").is_first_distinct()).to_series()


def describe(problems: pl.DataFrame, total: int) -> str:
    shown = [f"row {r}, {c}: {why}" for r, c, why in problems.head(_SHOWN).iter_rows()]
    more = f" (and {problems.height - _SHOWN} more)" if problems.height > _SHOWN else ""
    return f"{problems.height} problems in {total} rows, nothing stored: " + " | ".join(
        shown) + more  # fmt: skip


def parse(frame: pl.DataFrame) -> Parsed:
    """Check every row; typed lines and encounters, or ``InvalidRequest`` naming each
    problem (row, column, reason: ``problems``) and nothing else done."""
    if frame.height == 0:
        raise InvalidRequest("the file has no rows")
    frame = _with_stays(_with_times(frame))
    repeats = _repeats(frame)
    bad = _problems(frame, repeats)
    if bad.height:
        problems: list[Problem] = [(f"row {r}.{c}", why) for r, c, why in bad.iter_rows()]
        raise InvalidRequest(describe(bad, frame.height), problems)
    lines = frame if repeats is None else frame.filter(~repeats)  # the first of each kept
    typed = lines.with_columns(
        *[_time(c).alias(c) for c in _TIMES], _int("price_e6").alias("price_e6"),
        _int("qty_e4").alias("qty_e4"),
        _int("provisional_cash_fen").alias("provisional_cash_fen"),
        pl.col("med_type").fill_null("21"), pl.col("filing").fill_null("not_needed"),
        n_lines=pl.len().over(_FIRST), stay=pl.col(_FIRST).rank("dense").cast(pl.Int64) - 1,
    )  # fmt: skip
    firsts = typed.filter(pl.col(_FIRST).is_first_distinct())  # each stay's first line
    enc = firsts.select(*ENCOUNTER_COLUMNS[:2], "row", *ENCOUNTER_COLUMNS[2:], "n_lines")
    hidden = [_FIRST, "n_lines", *(f"_{c}" for c in _TIMES)]
    return Parsed(typed.drop(hidden), enc, frame.height - lines.height)


def write_result(frame: pl.DataFrame, path: Path, *, unmasked: bool = False) -> None:
    """The result table as .xlsx, .csv or .parquet (by suffix), written beside and
    renamed, so a failed run leaves no partial file; ``insuree_id`` masked
    (``500102********0016``) unless ``unmasked``."""
    import os

    from yibao.services.access.disclosure import masked_ids

    if not unmasked:
        frame = masked_ids(frame, "insuree_id")
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".parquet":
        frame.write_parquet(tmp)
    elif suffix == ".csv":
        frame.write_csv(tmp)
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("结算结果")
        ws.append(frame.columns)
        for r in frame.iter_rows():
            ws.append(list(r))
        wb.save(tmp)
    else:
        raise InvalidRequest(f"{path.name}: the result file must be .xlsx, .csv or .parquet")
    os.replace(tmp, path)
