"""A seeded synthetic region's procurement data, with injected events (issue 21 §6).

``generate(providers, drugs, start, end, seed)`` draws, with numpy over whole arrays
(hospital × drug × day):

- daily usage of each drug at each hospital (Poisson around a rate that rises with the
  epidemic, at most ``RAMP`` times), standing in for the settled fee lines;
- orders every 2–5 days topping up what was used since the last order, keeping a stock
  of ``BUFFER_DAYS`` days of the expected use, each from the hospital's supplier of that drug at the
  supplier's price (±1 %), delivered in 1–2 days (now and then 90–99 % of it);
- the listed price of each drug (挂网价: its base price + 5 %);
- and, unless ``inject=False``, five injected events, each with the signals it should
  raise (``Event.expect``): a supplier's price spike (+60 %), a supplier's delivery
  collapse (15 % delivered, late: shortages follow at its hospitals), a surge of use
  at one hospital (a shortage, and the larger orders that follow it), a panic purchase
  (two months' use at once) and an emergency purchase (应急采购) sold above its filed price.

Data begins ``history_days`` before ``start`` so the baselines exist. Prices are
``price_e6`` and quantities ``qty_e4``; the random draws are numpy's, seeded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from yibao.services.drugs.signals import Frames

__all__ = ["BUFFER_DAYS", "PANIC_DAYS", "RAMP", "Event", "Synth", "generate"]

BUFFER_DAYS = 14
RAMP = 1.8
PANIC_DAYS = 60  # a panic purchase: two months' use at once
E4 = 10_000


@dataclass(frozen=True, slots=True)
class Event:
    """An injected event and the signals (kind, code, provider, supplier) it should
    raise from ``start`` on (a signal's provider or supplier is "" when not its key)."""

    name: str
    start: dt.date
    end: dt.date
    expect: frozenset[tuple[str, str, str, str]]
    primary: str = ""  # the kind of signal that must be among them


@dataclass(frozen=True, slots=True)
class Synth:
    frames: Frames
    events: tuple[Event, ...] = field(default=())
    suppliers: dict[tuple[str, str], str] = field(default_factory=dict)
    filing: dict[str, object] | None = None  # the emergency purchase's filing

    def explains(self, signals: pl.DataFrame, slack_days: int = 10) -> pl.Series:
        """For each signal, whether an injected event explains it."""
        rows: list[bool] = []
        for s in signals.iter_rows(named=True):
            key = (s["kind"], s["code"], s["provider"], s["supplier"])
            rows.append(any(
                key in e.expect and e.start - dt.timedelta(days=1) <= s["first_day"]
                and s["first_day"] <= e.end + dt.timedelta(days=slack_days)
                for e in self.events
            ))  # fmt: skip
        return pl.Series("explained", rows, dtype=pl.Boolean)


def generate(providers: Sequence[str], drugs: Sequence[str], start: dt.date, end: dt.date,
             seed: int, *, history_days: int = 49, inject: bool = True) -> Synth:  # fmt: skip
    """The synthetic data of ``providers`` × ``drugs`` (national codes) from
    ``start - history_days`` to ``end``; events injected between ``start`` and ``end``."""
    rng = np.random.default_rng(seed)
    first = start - dt.timedelta(days=history_days)
    n_p, n_d, n_t = len(providers), len(drugs), (end - first).days + 1
    day0 = (start - first).days
    span = max(1, n_t - day0)
    # usage: a rate per hospital and drug, rising with the epidemic after ``start``
    rate = rng.lognormal(mean=2.0, sigma=0.6, size=(n_p, n_d)).clip(5, 200)
    t = np.arange(n_t)
    ramp = 1 + (RAMP - 1) * np.clip((t - day0) / span, 0, 1)
    lam = rate[:, :, None] * ramp[None, None, :]
    use = rng.poisson(lam)
    base_price = rng.integers(2, 400, size=n_d) * 250_000  # 0.5 … 100 yuan, price_e6
    n_sup = 3
    sup_of = rng.integers(0, n_sup, size=(n_p, n_d))  # each hospital's supplier of a drug
    sup_factor = rng.uniform(0.97, 1.03, size=(n_d, n_sup))
    events: list[Event] = []
    ev = _Events(rng, providers, drugs, sup_of, first, start, end) if inject else None
    if ev is not None:
        use = ev.surge(use)
    orders = _orders(rng, use, lam, sup_of, base_price, sup_factor, ev, n_t)
    if ev is not None:
        events = ev.events
    o = orders
    frame = pl.DataFrame({
        "p": o["p"], "d": o["d"], "t": o["t"], "s": o["s"],
        "price_e6": o["price"], "qty_ordered_e4": o["qty"] * E4,
        "qty_delivered_e4": o["got"], "delay": o["delay"],
    })  # fmt: skip
    pcodes = pl.Series(list(providers), dtype=pl.String)
    dcodes = pl.Series(list(drugs), dtype=pl.String)
    orders_df = frame.select(
        pl.format("PO{}-{}-{}-{}", "p", "d", "t", pl.int_range(pl.len())).alias("order_id"),
        (pl.lit(first) + pl.duration(days="t")).alias("order_date"),
        pcodes.gather(frame["p"]).alias("provider"),
        dcodes.gather(frame["d"]).alias("code"),
        pl.format("S{}-{}", pl.col("d") + 1, pl.col("s") + 1).alias("supplier"),
        "price_e6", "qty_ordered_e4", "qty_delivered_e4",
        pl.when(pl.col("qty_delivered_e4") > 0)
        .then(pl.lit(first) + pl.duration(days=pl.col("t") + pl.col("delay")))
        .alias("delivery_date"),
    )  # fmt: skip
    pi, di, ti = np.nonzero(use)
    usage = pl.DataFrame({
        "provider": pcodes.gather(pi), "code": dcodes.gather(di),
        "day": pl.Series(ti, dtype=pl.Int64), "qty_e4": use[pi, di, ti].astype(np.int64) * E4,
    }).with_columns((pl.lit(first) + pl.duration(days="day")).alias("day"))  # fmt: skip
    listed = pl.DataFrame({"code": list(drugs), "listed_price_e6": base_price * 105 // 100})
    lines, filings, filing = (None, None, None) if ev is None else ev.markup(base_price)
    suppliers = {
        (providers[p], drugs[d]): f"S{d + 1}-{sup_of[p, d] + 1}"
        for p in range(n_p) for d in range(n_d)
    } if n_p * n_d <= 10_000 else {}  # fmt: skip
    frames = Frames.of(orders_df, usage, listed, lines, filings)
    return Synth(frames, tuple(events), suppliers, filing)


def _orders(rng: np.random.Generator, use: np.ndarray, lam: np.ndarray, sup_of: np.ndarray,
            base_price: np.ndarray, sup_factor: np.ndarray, ev: _Events | None,
            n_t: int) -> dict[str, np.ndarray]:  # fmt: skip
    n_p, n_d, _ = use.shape
    cadence = rng.integers(2, 6, size=(n_p, n_d))
    phase = rng.integers(0, 5, size=(n_p, n_d)) % cadence
    t = np.arange(n_t)
    is_order = ((t[None, None, :] - phase[:, :, None]) % cadence[:, :, None]) == 0
    cum = np.concatenate([np.zeros((n_p, n_d, 1), dtype=np.int64), use.cumsum(axis=2)], axis=2)
    back = np.clip(t[None, None, :] - cadence[:, :, None] + 1, 0, None)
    qty = cum[:, :, t + 1] - np.take_along_axis(cum, back, axis=2)  # used since the last order
    # and the stock kept at ``BUFFER_DAYS`` of the expected use as it rises
    target = np.ceil(lam * BUFFER_DAYS).astype(np.int64)
    prev = np.take_along_axis(target, np.clip(t[None, None, :] - cadence[:, :, None], 0, None)
                              * np.ones_like(target), axis=2)  # fmt: skip
    first_order = is_order & (np.cumsum(is_order, axis=2) == 1)
    qty = qty + np.where(first_order, target, target - prev)
    if ev is not None:
        qty = ev.panic(qty, is_order, lam)
    pi, di, ti = np.nonzero(is_order & (qty > 0))
    q = qty[pi, di, ti]
    s = sup_of[pi, di]
    noise = rng.uniform(0.99, 1.01, size=len(q))
    price = (base_price[di] * sup_factor[di, s] * noise).round().astype(np.int64)
    delay = rng.integers(1, 3, size=len(q))
    share = np.where(rng.random(len(q)) < 0.05, rng.uniform(0.9, 0.99, len(q)), 1.0)
    out = {"p": pi, "d": di, "t": ti, "s": s, "qty": q, "price": price, "delay": delay,
           "share": share}  # fmt: skip
    if ev is not None:
        ev.spike(out)
        ev.collapse(rng, out)
    out["got"] = (out["qty"] * E4 * out["share"]).round().astype(np.int64)
    return out


class _Events:
    """Where the events fall (drawn once, seeded) and what each does to the arrays."""

    def __init__(self, rng: np.random.Generator, providers: Sequence[str],
                 drugs: Sequence[str], sup_of: np.ndarray, first: dt.date, start: dt.date,
                 end: dt.date) -> None:  # fmt: skip
        n_p, n_d = sup_of.shape
        if n_d < 5 or n_p < 4:
            raise ValueError("the events need at least 4 hospitals and 5 drugs")
        self.providers, self.drugs, self.sup_of, self.first = providers, drugs, sup_of, first
        self.d_spike, self.d_collapse, self.d_surge, self.d_panic, self.d_markup = (
            int(i) for i in rng.choice(n_d, size=5, replace=False)
        )
        self.p_surge, self.p_panic, self.p_markup = (
            int(i) for i in rng.choice(n_p, size=3, replace=False)
        )
        self.s_spike = int(np.bincount(sup_of[:, self.d_spike]).argmax())
        self.s_collapse = int(np.bincount(sup_of[:, self.d_collapse]).argmax())
        days = (end - start).days
        self.start, self.end = start, end
        self.at = {
            "spike": start + dt.timedelta(days=days * 3 // 10),
            "collapse": start + dt.timedelta(days=days * 4 // 10),
            "surge": start + dt.timedelta(days=days * 5 // 10),
            "panic": start + dt.timedelta(days=days // 5),
            "markup": start + dt.timedelta(days=days * 6 // 10),
        }
        self.collapse_to = min(end, self.at["collapse"] + dt.timedelta(days=7))
        self.events: list[Event] = []

    def _t(self, day: dt.date) -> int:
        return (day - self.first).days

    def _hospitals_of(self, d: int, s: int) -> list[str]:
        return [self.providers[int(p)] for p in np.nonzero(self.sup_of[:, d] == s)[0]]

    def surge(self, use: np.ndarray) -> np.ndarray:
        use = use.copy()
        t0 = self._t(self.at["surge"])
        use[self.p_surge, self.d_surge, t0:] *= 4
        p, d = self.providers[self.p_surge], self.drugs[self.d_surge]
        expect = frozenset({("shortage", d, p, ""), ("quantity", d, p, "")})
        self.events.append(Event("surge", self.at["surge"], self.end, expect, "shortage"))
        return use

    def panic(self, qty: np.ndarray, is_order: np.ndarray, lam: np.ndarray) -> np.ndarray:
        qty = qty.copy()
        p, d, t0 = self.p_panic, self.d_panic, self._t(self.at["panic"])
        t = t0 + int(np.nonzero(is_order[p, d, t0:])[0][0])
        qty[p, d, t] += int(lam[p, d, t] * PANIC_DAYS)
        day = self.first + dt.timedelta(days=t)
        expect = frozenset({("quantity", self.drugs[d], self.providers[p], "")})
        self.events.append(Event("panic", day, day, expect, "quantity"))
        return qty

    def spike(self, o: dict[str, np.ndarray]) -> None:
        d, s, t0 = self.d_spike, self.s_spike, self._t(self.at["spike"])
        hit = (o["d"] == d) & (o["s"] == s) & (o["t"] >= t0)
        o["price"] = np.where(hit, o["price"] * 16 // 10, o["price"])
        code = self.drugs[d]
        expect = {(k, code, p, "") for p in self._hospitals_of(d, s) for k in ("price", "listed")}
        self.events.append(Event("spike", self.at["spike"], self.end, frozenset(expect), "price"))

    def collapse(self, rng: np.random.Generator, o: dict[str, np.ndarray]) -> None:
        d, s = self.d_collapse, self.s_collapse
        t0, t1 = self._t(self.at["collapse"]), self._t(self.collapse_to)
        hit = (o["d"] == d) & (o["s"] == s) & (o["t"] >= t0) & (o["t"] <= t1)
        o["share"] = np.where(hit, 0.15, o["share"])
        o["delay"] = np.where(hit, rng.integers(4, 7, size=len(hit)), o["delay"])
        code = self.drugs[d]
        expect = {("delivery", code, "", f"S{d + 1}-{s + 1}")}
        expect |= {("shortage", code, p, "") for p in self._hospitals_of(d, s)}
        self.events.append(Event("collapse", self.at["collapse"], self.collapse_to,
                                 frozenset(expect), "delivery"))  # fmt: skip

    def markup(self, base_price: np.ndarray
               ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object]]:  # fmt: skip
        p, d, day = self.providers[self.p_markup], self.drugs[self.d_markup], self.at["markup"]
        filed = int(base_price[self.d_markup]) * 13 // 10  # bought dearer, off the platform
        days = [day + dt.timedelta(days=i) for i in range((self.end - day).days + 1)]
        marked = {days[len(days) // 2]}  # one day's lines sold 15 % above the filed price
        prices = [filed * 115 // 100 if x in marked else filed for x in days]
        lines = pl.DataFrame(
            {
                "provider": [p] * len(days),
                "code": [d] * len(days),
                "day": days,
                "price_e6": prices,
                "qty_e4": [20_000] * len(days),
            }
        )
        filings = pl.DataFrame({"filing_id": ["EP-SYNTH-1"], "provider": [p], "code": [d],
                                "price_e6": [filed], "valid_from": [day], "valid_to": [None]},
                               schema_overrides={"valid_to": pl.Date})  # fmt: skip
        self.events.append(Event("markup", min(marked), self.end,
                                 frozenset({("markup", d, p, "")}), "markup"))  # fmt: skip
        filing = {
            "provider": p,
            "code": d,
            "supplier": "应急供应商（示例）",
            "price_e6": filed,
            "qty_e4": 500 * E4,
            "on": day,
            "reason": "挂网产品无法满足临床需求（示例）",
        }
        return lines, filings, filing
