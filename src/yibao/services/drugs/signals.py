"""The signals, computed with Polars over the whole region in one vectorised pass (no
Python loop over rows): 渝医保发〔2020〕3号 四（四）, the provincial notice 四（一）.

``scan(frames, rules, start, end)`` takes the region's procurement orders, the usage
of each drug at each hospital (settled fee lines), the listed prices, the settled lines
of drugs bought in an emergency and the accepted filings, and returns one row per
signal (an *episode*: trigger days of one drug at one hospital — or one supplier — no
more than ``episode_gap_days`` apart), each with its evidence (the series that
triggered it, from ``evidence_days`` before its first day):

- ``price``: a hospital bought a drug above the region's recent median price of it
  (the median of the daily medians over ``baseline_days`` before) by more than a share;
- ``listed``: above the listed price (挂网价 / 限价) by more than a share;
- ``quantity``: a hospital's purchases of a drug over ``window_days`` far above their
  baseline (robust z-score: median and MAD of the same sum over the weeks before);
- ``delivery``: a supplier's delivery rate of a drug (delivered within ``due_days`` of
  the order, over the orders due in ``window_days``) below a threshold;
- ``shortage``: days of stock at a hospital (deliveries − usage since the data began,
  over the mean daily usage) below a threshold;
- ``markup``: a settled line of an emergency purchase above its filed purchase price
  (零差率销售).

Prices are ``price_e6`` and quantities ``qty_e4`` (integers); every comparison with a
threshold is done in integers. Only the quantity signal's z-score is a float: it is a
statistic, not an amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from yibao.services.drugs.rules import Rules

__all__ = [
    "FILING_SCHEMA",
    "KINDS",
    "LINE_SCHEMA",
    "LISTED_SCHEMA",
    "ORDER_SCHEMA",
    "SIGNAL_SCHEMA",
    "USAGE_SCHEMA",
    "Frames",
    "scan",
]

KINDS = ("price", "listed", "quantity", "delivery", "shortage", "markup")

ORDER_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "order_id": pl.String,
    "order_date": pl.Date,
    "provider": pl.String,
    "code": pl.String,
    "supplier": pl.String,
    "price_e6": pl.Int64,
    "qty_ordered_e4": pl.Int64,
    "qty_delivered_e4": pl.Int64,
    "delivery_date": pl.Date,
}
USAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "provider": pl.String, "code": pl.String, "day": pl.Date, "qty_e4": pl.Int64,
}  # fmt: skip
LISTED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "code": pl.String, "listed_price_e6": pl.Int64,
}  # fmt: skip
LINE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "provider": pl.String, "code": pl.String, "day": pl.Date, "price_e6": pl.Int64,
    "qty_e4": pl.Int64,
}  # fmt: skip
FILING_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "filing_id": pl.String, "provider": pl.String, "code": pl.String,
    "price_e6": pl.Int64, "valid_from": pl.Date, "valid_to": pl.Date,
}  # fmt: skip
SIGNAL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "kind": pl.String,
    "code": pl.String,
    "provider": pl.String,  # "" for a supplier's signal
    "supplier": pl.String,  # "" unless the signal is a supplier's
    "first_day": pl.Date,
    "last_day": pl.Date,
    "days": pl.Int64,  # trigger days in the episode
    "value": pl.Int64,  # the worst value (unit: ``measure``)
    "reference": pl.Int64,  # what it was compared with on that day
    "measure": pl.String,
    "evidence": pl.List(pl.Struct({"day": pl.Date, "value": pl.Int64, "reference": pl.Int64})),
}
_EVIDENCE = ["day", "value", "reference"]
_MEASURES = {
    "price": "price_e6", "listed": "price_e6", "quantity": "qty_e4",
    "delivery": "rate_bp", "shortage": "days_e2", "markup": "price_e6",
}  # fmt: skip
_WORST_IS_LOW = {"delivery", "shortage"}


@dataclass(frozen=True, slots=True)
class Frames:
    """What a scan reads (schemas above); empty frames are fine."""

    orders: pl.DataFrame
    usage: pl.DataFrame
    listed: pl.DataFrame
    lines: pl.DataFrame
    filings: pl.DataFrame

    @classmethod
    def of(cls, orders: pl.DataFrame, usage: pl.DataFrame | None = None,
           listed: pl.DataFrame | None = None, lines: pl.DataFrame | None = None,
           filings: pl.DataFrame | None = None) -> Frames:  # fmt: skip
        def typed(df: pl.DataFrame | None, schema: dict[str, pl.DataType | type[pl.DataType]]
                  ) -> pl.DataFrame:  # fmt: skip
            if df is None:
                return pl.DataFrame(schema=schema)
            return df.select([pl.col(c).cast(t) for c, t in schema.items()])

        return cls(typed(orders, ORDER_SCHEMA), typed(usage, USAGE_SCHEMA),
                   typed(listed, LISTED_SCHEMA), typed(lines, LINE_SCHEMA),
                   typed(filings, FILING_SCHEMA))  # fmt: skip


def scan(frames: Frames, rules: Rules, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Every signal whose first trigger day is in ``start`` … ``end`` (SIGNAL_SCHEMA),
    ordered by first day, kind, code, provider, supplier."""
    parts = [
        _price(frames, rules),
        _quantity(frames, rules),
        _delivery(frames, rules, end),
        _shortage(frames, rules, end),
        _markup(frames, rules),
    ]
    out: list[pl.DataFrame] = []
    for kind_series in parts:
        for kind, (trig, series) in kind_series.items():
            trig = trig.filter(pl.col("day") <= end)
            out.append(_episodes(kind, trig, series, rules).filter(
                pl.col("first_day").is_between(start, end)))  # fmt: skip
    signals = pl.concat(out, how="vertical") if out else pl.DataFrame(schema=SIGNAL_SCHEMA)
    return signals.sort(["first_day", "kind", "code", "provider", "supplier"])


Part = dict[str, tuple[pl.DataFrame, pl.DataFrame]]
"""kind -> (trigger rows, the series): both keyed by code, provider, supplier, day, with
``value`` and ``reference``."""


def _keyed(df: pl.DataFrame, *, provider: bool, supplier: bool) -> pl.DataFrame:
    return df.with_columns(
        *([] if provider else [pl.lit("").alias("provider")]),
        *([] if supplier else [pl.lit("").alias("supplier")]),
    ).select(["code", "provider", "supplier", "day", "value", "reference"])


def _price(f: Frames, r: Rules) -> Part:
    rule = r.signals.price
    o = f.orders.rename({"order_date": "day"})
    daily = (
        o.group_by("code", "day").agg(pl.col("price_e6").median().alias("med")).sort("code", "day")
    )
    base = daily.rolling(
        "day", period=f"{rule.baseline_days}d", closed="left", group_by="code"
    ).agg(
        pl.col("med").median().round().cast(pl.Int64).alias("reference"),
        pl.len().alias("n_days"),
    )  # fmt: skip
    base = base.filter(pl.col("n_days") >= rule.min_baseline_days).drop("n_days")
    paid = o.group_by("code", "provider", "day").agg(pl.col("price_e6").max().alias("value"))
    series = paid.join(base, on=["code", "day"], how="inner")
    over = pl.col("value") * 10_000 > pl.col("reference") * (10_000 + rule.above_baseline_bp)
    listed = paid.join(f.listed, on="code", how="inner").rename(
        {"listed_price_e6": "reference"}
    )  # fmt: skip
    over_listed = pl.col("value") * 10_000 > pl.col("reference") * (10_000 + rule.above_listed_bp)
    return {
        "price": (_keyed(series.filter(over), provider=True, supplier=False),
                  _keyed(series, provider=True, supplier=False)),
        "listed": (_keyed(listed.filter(over_listed), provider=True, supplier=False),
                   _keyed(listed, provider=True, supplier=False)),
    }  # fmt: skip


def _grid(keys: pl.DataFrame, first: dt.date, last: dt.date) -> pl.DataFrame:
    days = pl.DataFrame({"day": pl.date_range(first, last, "1d", eager=True)})
    return keys.join(days, how="cross")


def _span(*cols: pl.Series) -> tuple[dt.date, dt.date] | None:
    s = pl.concat([c.drop_nulls() for c in cols])
    if s.is_empty():
        return None
    return s.min(), s.max()  # type: ignore[return-value]


def _dense(parts: dict[str, pl.DataFrame], first: dt.date, last: dt.date) -> pl.DataFrame:
    """Every (provider, code) of ``parts`` × every day ``first`` … ``last``, in that order,
    with each part's ``value`` summed into a column named after it (0 where none): the
    grid built by position (numpy scatter, integers), without joining or sorting it."""
    keys = pl.concat([df.select("provider", "code") for df in parts.values()])
    providers = keys["provider"].unique().sort()
    codes = keys["code"].unique().sort()
    n, n_c = (last - first).days + 1, codes.len()
    p_at = {v: i for i, v in enumerate(providers.to_list())}
    c_at = {v: i for i, v in enumerate(codes.to_list())}
    size = providers.len() * n_c * n
    cols: dict[str, object] = {}
    for name, df in parts.items():
        df = df.filter(pl.col("day").is_between(first, last))
        at = (
            df["provider"].replace_strict(p_at, return_dtype=pl.Int64).to_numpy() * n_c
            + df["code"].replace_strict(c_at, return_dtype=pl.Int64).to_numpy()
        ) * n + (df["day"] - first).dt.total_days().to_numpy()
        dense = np.zeros(size, dtype=np.int64)
        np.add.at(dense, at, df["value"].to_numpy().astype(np.int64))
        cols[name] = dense
    group = np.arange(size, dtype=np.int64) // n
    days = pl.date_range(first, last, "1d", eager=True)
    return pl.DataFrame({
        "provider": providers.gather(group // n_c),
        "code": codes.gather(group % n_c),
        "day": days.gather(np.arange(size, dtype=np.int64) % n),
        **cols,
    })  # fmt: skip


def _day_index(n: int) -> pl.Expr:
    """The row's day within its group, on a grid of ``n`` days per group in order."""
    return pl.int_range(pl.len(), dtype=pl.Int64) % n


def _within(expr: pl.Expr, day: pl.Expr, need: int) -> pl.Expr:
    """``expr`` where its window (``need`` days back) lies within the row's own group."""
    return pl.when(day >= need).then(expr)


def _quantity(f: Frames, r: Rules) -> Part:
    """Each (hospital, drug)'s purchases over ``window_days`` against the median and MAD
    of the same sums over the ``baseline_days`` before that window. The medians are
    taken (numpy, over a gathered window matrix) only where a signal is possible — the
    sum at least ``min_ratio_bp`` × the window's minimum, which the median is not below
    — and over the days of the groups that signal, for their evidence."""
    rule = r.signals.quantity
    o = f.orders
    span = _span(o["order_date"])
    if span is None:
        return {}
    bought = o.select("provider", "code", pl.col("order_date").alias("day"),
                      pl.col("qty_ordered_e4").alias("value"))  # fmt: skip
    n = (span[1] - span[0]).days + 1
    w, b = rule.window_days, rule.baseline_days
    ready = 2 * w + b - 2  # the first day whose baseline window holds whole sums
    i = _day_index(n)
    g = _dense({"q": bought}, *span).with_columns(
        _within(pl.col("q").rolling_sum(w), i, w - 1).alias("value"), i.alias("i"),
    )  # fmt: skip
    low = _within(pl.col("value").shift(w).rolling_min(b), i, ready)
    g = g.with_columns(
        (low.is_not_null() & (pl.col("value") * 10_000 >= low * rule.min_ratio_bp)
         & (pl.col("value") > 0)).alias("maybe"),
    )  # fmt: skip
    values = g["value"].fill_null(0).to_numpy()
    rows = np.flatnonzero(g["maybe"].to_numpy())
    med, mad = _baseline(values, rows, w, b)
    scale = np.maximum(np.maximum(1.4826 * mad, 0.25 * med), 10_000.0)
    ref = np.rint(med).astype(np.int64)
    v = values[rows]
    hit = ((v - med) / scale >= rule.robust_z) & (ref > 0) & (v * 10_000 >= ref * rule.min_ratio_bp)
    cols = ["provider", "code", "day", "value"]
    trig = g[rows[hit]].select(cols).with_columns(pl.Series("reference", ref[hit]))
    hit_keys = trig.select("provider", "code").unique()
    near = g.with_row_index("_r").join(hit_keys, on=["provider", "code"], how="semi")
    at = near["_r"].to_numpy().astype(np.int64)
    ok = g["i"].to_numpy()[at] >= ready
    s_med, _ = _baseline(values, at[ok], w, b)
    series = (
        g[at[ok]].select(cols).with_columns(pl.Series("reference", np.rint(s_med).astype(np.int64)))
    )
    return {"quantity": (_keyed(trig, provider=True, supplier=False),
                         _keyed(series, provider=True, supplier=False))}  # fmt: skip


def _baseline(values: np.ndarray, rows: np.ndarray, w: int, b: int
              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The median and MAD of the ``b`` sums ending ``w`` … ``w + b - 1`` days before each
    of ``rows`` (one window matrix, vectorised)."""
    if rows.size == 0:
        return np.zeros(0), np.zeros(0)
    window = values[rows[:, None] - w - np.arange(b)[None, :]]
    med = np.median(window, axis=1)
    return med, np.median(np.abs(window - med[:, None]), axis=1)


def _delivery(f: Frames, r: Rules, end: dt.date) -> Part:
    rule = r.signals.delivery
    o = f.orders.with_columns(
        (pl.col("order_date") + pl.duration(days=rule.due_days)).alias("day")
    ).filter(pl.col("day") <= end)
    in_time = pl.col("delivery_date").is_not_null() & (pl.col("delivery_date") <= pl.col("day"))
    per_day = o.group_by("code", "supplier", "day").agg(
        pl.col("qty_ordered_e4").sum().alias("ordered"),
        pl.when(in_time).then(pl.col("qty_delivered_e4")).otherwise(0).sum().alias("delivered"),
        pl.len().alias("n"),
    )
    span = _span(per_day["day"])
    if span is None:
        return {}
    by = ["code", "supplier"]
    w = rule.window_days
    g = (
        _grid(per_day.select(by).unique(), *span)
        .join(per_day, on=[*by, "day"], how="left")
        .with_columns(pl.col("ordered", "delivered", "n").fill_null(0))
        .sort(*by, "day")
        .with_columns(
            pl.col("ordered").rolling_sum(w, min_samples=1).over(by).alias("o7"),
            pl.col("delivered").rolling_sum(w, min_samples=1).over(by).alias("d7"),
            pl.col("n").rolling_sum(w, min_samples=1).over(by).alias("n7"),
        )
        .filter(pl.col("o7") > 0)
        .with_columns(
            (pl.col("d7") * 10_000 // pl.col("o7")).alias("value"),
            pl.lit(rule.min_rate_bp, pl.Int64).alias("reference"),
        )
    )
    hit = (pl.col("value") < rule.min_rate_bp) & (pl.col("n7") >= rule.min_orders)
    return {"delivery": (_keyed(g.filter(hit), provider=False, supplier=True),
                         _keyed(g, provider=False, supplier=True))}  # fmt: skip


def _shortage(f: Frames, r: Rules, end: dt.date) -> Part:
    rule = r.signals.stock
    got = f.orders.filter(pl.col("delivery_date").is_not_null()).select(
        "provider", "code", pl.col("delivery_date").alias("day"),
        pl.col("qty_delivered_e4").alias("value"))  # fmt: skip
    used = f.usage.select("provider", "code", "day", pl.col("qty_e4").alias("value"))
    span = _span(f.orders["order_date"], got["day"], used["day"])
    if span is None:
        return {}
    first, last = span[0], min(span[1], end)
    if last < first:
        return {}
    n, u = (last - first).days + 1, rule.usage_days
    i = _day_index(n)
    g = (
        _dense({"inflow": got, "used": used}, first, last)
        .with_columns((pl.col("inflow") - pl.col("used")).alias("net"))
        .with_columns(pl.col("net").cum_sum().alias("cum"))
        .with_columns(
            # the stock since the group's first day: the running sum less what the groups
            # before it summed (the running sum's value before the group's first row)
            (pl.col("cum") - pl.when(i == 0).then(pl.col("cum") - pl.col("net"))
             .forward_fill()).alias("stock"),
            _within(pl.col("used").rolling_sum(u), i, u - 1).alias("used_w"),
        )
        .filter(pl.col("day") >= first + dt.timedelta(days=rule.warmup_days))
        .filter(pl.col("used_w") > 0)
        .with_columns(
            (pl.max_horizontal(pl.col("stock"), pl.lit(0)) * u * 100 // pl.col("used_w"))
            .alias("value"),
            pl.lit(rule.min_days * 100, pl.Int64).alias("reference"),
        )
    )  # fmt: skip
    hit = pl.col("stock") * u < pl.col("used_w") * rule.min_days
    return {"shortage": (_keyed(g.filter(hit), provider=True, supplier=False),
                         _keyed(g, provider=True, supplier=False))}  # fmt: skip


def _markup(f: Frames, r: Rules) -> Part:
    rule = r.signals.markup
    j = f.lines.join(f.filings, on=["provider", "code"], how="inner", suffix="_filed").filter(
        (pl.col("day") >= pl.col("valid_from"))
        & (pl.col("valid_to").is_null() | (pl.col("day") <= pl.col("valid_to")))
    )
    daily = j.group_by("provider", "code", "day").agg(
        pl.col("price_e6").max().alias("value"),
        pl.col("price_e6_filed").min().alias("reference"),
    )
    hit = pl.col("value") * 10_000 > pl.col("reference") * (10_000 + rule.tolerance_bp)
    return {"markup": (_keyed(daily.filter(hit), provider=True, supplier=False),
                       _keyed(daily, provider=True, supplier=False))}  # fmt: skip


def _episodes(kind: str, trig: pl.DataFrame, series: pl.DataFrame, r: Rules) -> pl.DataFrame:
    """Trigger days of one key no more than ``episode_gap_days`` apart make one signal,
    with its worst day and the series around it as evidence."""
    keys = ["code", "provider", "supplier"]
    if trig.is_empty():
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    gap = pl.col("day").diff().over(keys).dt.total_days()
    t = trig.sort([*keys, "day"]).with_columns(
        (gap.is_null() | (gap > r.episode_gap_days)).cum_sum().alias("ep")
    )
    worst = pl.col("value").arg_min() if kind in _WORST_IS_LOW else pl.col("value").arg_max()
    eps = t.group_by("ep").agg(
        *[pl.col(k).first() for k in keys],
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_day"),
        pl.len().cast(pl.Int64).alias("days"),
        pl.col("value").gather(worst).first().alias("value"),
        pl.col("reference").gather(worst).first().alias("reference"),
    )
    ev = (
        series.join(eps.select("ep", *keys, "first_day", "last_day"), on=keys, how="inner")
        .filter(
            pl.col("day").is_between(
                pl.col("first_day") - pl.duration(days=r.evidence_days), pl.col("last_day")
            )
        )
        .sort("ep", "day")
        .group_by("ep")
        .agg(pl.struct(_EVIDENCE).alias("evidence"))
    )
    return (
        eps.join(ev, on="ep", how="left")
        .with_columns(pl.lit(kind).alias("kind"), pl.lit(_MEASURES[kind]).alias("measure"))
        .select([pl.col(c).cast(t) for c, t in SIGNAL_SCHEMA.items()])
    )
