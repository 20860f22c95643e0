"""Each watched drug's daily series over the region, for the console's charts and the
provincial report: the median purchase price, the quantity ordered, and the delivery
rate of the orders due that day (delivered within ``due_days``), computed with Polars."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from yibao.services.access.rights import Principal, require
from yibao.services.drugs.procurement import orders_frame
from yibao.services.drugs.rules import monitoring_rules
from yibao.store.uow import UnitOfWork

__all__ = ["DrugSeries", "drug_series", "series_frame"]


@dataclass(frozen=True, slots=True)
class DrugSeries:
    code: str
    days: tuple[dt.date, ...]
    price_e6: tuple[int | None, ...]  # the day's median purchase price (None: no order)
    qty_e4: tuple[int, ...]  # ordered that day
    rate_bp: tuple[int | None, ...]  # delivered in time / ordered, of orders due that day


def series_frame(orders: pl.DataFrame, start: dt.date, end: dt.date,
                 due_days: int) -> pl.DataFrame:  # fmt: skip
    """code, day, price_e6, qty_e4, rate_bp for every watched code and day."""
    days = pl.DataFrame({"day": pl.date_range(start, end, "1d", eager=True)})
    grid = orders.select("code").unique().join(days, how="cross")
    o = orders.rename({"order_date": "day"})
    bought = o.group_by("code", "day").agg(
        pl.col("price_e6").median().round().cast(pl.Int64).alias("price_e6"),
        pl.col("qty_ordered_e4").sum().alias("qty_e4"),
    )
    due = o.with_columns((pl.col("day") + pl.duration(days=due_days)).alias("due"))
    ok = pl.col("delivery_date").is_not_null() & (pl.col("delivery_date") <= pl.col("due"))
    rate = due.group_by("code", pl.col("due").alias("day")).agg(
        (pl.when(ok).then(pl.col("qty_delivered_e4")).otherwise(0).sum() * 10_000
         // pl.col("qty_ordered_e4").sum()).alias("rate_bp"),
    )  # fmt: skip
    return (
        grid.join(bought, on=["code", "day"], how="left")
        .join(rate, on=["code", "day"], how="left")
        .with_columns(pl.col("qty_e4").fill_null(0))
        .sort("code", "day")
    )


def drug_series(uow: UnitOfWork, caller: Principal, code: str, start: dt.date,
                end: dt.date) -> DrugSeries:  # fmt: skip
    """The daily series of one drug over ``start`` … ``end``."""
    require(caller, "drugs.read")
    rules = monitoring_rules(end)
    with uow:
        rows = uow.drugs.orders(start, end, [code])
    f = series_frame(orders_frame(rows), start, end, rules.signals.delivery.due_days)
    f = f.filter(pl.col("code") == code)
    days = tuple(pl.date_range(start, end, "1d", eager=True).to_list())
    if f.is_empty():
        return DrugSeries(code, days, (None,) * len(days), (0,) * len(days), (None,) * len(days))
    return DrugSeries(code, tuple(f["day"].to_list()), tuple(f["price_e6"].to_list()),
                      tuple(f["qty_e4"].to_list()), tuple(f["rate_bp"].to_list()))  # fmt: skip
