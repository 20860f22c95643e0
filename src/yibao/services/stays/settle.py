"""Re-entry's settlement step: the file's stays settled in one batch-engine pass with the
accumulators and account balances carried from the store, each stay's full settlement
(lines, facts: what its record and trace are built from) read from the batch's columns
(``core.engine.batch_explain``, DECISIONS 0092; it replaced the scalar engine's
re-computation of DECISIONS 0065). Pure of I/O: frames and snapshots in,
``booking.Entry``s out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from yibao.core.engine.batch import (
    covered,
    line_order,
    line_reasons,
    line_results,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_explain import settlements
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.model import Accumulators, Encounter, Insuree, Provider, Settlement
from yibao.core.errors import InvariantBroken
from yibao.core.policy import PackSet
from yibao.services.stays import booking

__all__ = ["BatchPass", "Stay", "batch_pass", "settle_order", "settle_stays"]


@dataclass(frozen=True, slots=True)
class Stay:
    """One stay of the file, with everything the engine reads (from the store)."""

    idx: int  # the batch's integer encounter id: the order of ``encounter_id``
    encounter_id: str
    insuree: Insuree  # account_balance_fen: opening + the store's movements (set per year)
    account_opening_fen: int
    provider: Provider
    encounter: Encounter
    accumulators: Accumulators  # the store's, for the discharge year
    central_share_bp_of: dict[str, int]  # overlay status -> bp (empty: none)
    new: booking.NewEncounter  # re-settlement passes None: the encounter is in the store


_SCHEMA: dict[str, Any] = {
    "encounter_id": pl.Int64, "insuree_id": pl.Int64, "scheme": pl.String,
    "resident_tier": pl.Int64, "insured_region": pl.String, "assistance_category": pl.String,
    "provider_code": pl.String, "provider_region": pl.String, "provider_level": pl.Int64,
    "covid_designated": pl.Boolean, "med_type": pl.String, "admit_date": pl.Date,
    "discharge_date": pl.Date, "diagnoses": pl.List(pl.String), "covid_status": pl.String,
    "filing": pl.String, "admission_seq": pl.Int64, "transfer_from": pl.Int64,
    "account_balance_fen": pl.Int64, "start_basic_entitled_fen": pl.Int64,
    "start_basic_paid_fen": pl.Int64, "start_serious_base_fen": pl.Int64,
    "start_serious_paid_fen": pl.Int64, "start_assistance_entitled_fen": pl.Int64,
    "start_assistance_paid_fen": pl.Int64,
}  # fmt: skip
"""The batch engine's encounter table, as ``_frame`` builds it from the stays."""


def _frame(stays: Sequence[Stay], psn_idx: dict[str, int]) -> pl.DataFrame:
    ins = [s.insuree for s in stays]
    prov = [s.provider for s in stays]
    enc = [s.encounter for s in stays]
    acc = [s.accumulators for s in stays]
    cols: tuple[list[Any], ...] = (
        [s.idx for s in stays], [psn_idx[i.id] for i in ins], [i.scheme for i in ins],
        [i.resident_tier for i in ins], [i.insured_region for i in ins],
        [i.assistance_category for i in ins], [p.code for p in prov], [p.region for p in prov],
        [p.level for p in prov], [p.covid_designated for p in prov],
        [e.med_type for e in enc], [e.admit_date for e in enc], [e.discharge_date for e in enc],
        [list(e.diagnoses) for e in enc], [e.covid_status for e in enc],
        [e.filing for e in enc], [e.admission_seq for e in enc],
        [None if e.transfer_from is None else -1 for e in enc],
        [i.account_balance_fen for i in ins], [a.basic_entitled_fen for a in acc],
        [a.basic_paid_fen for a in acc], [a.serious_base_fen for a in acc],
        [a.serious_paid_fen for a in acc], [a.assistance_entitled_fen for a in acc],
        [a.assistance_paid_fen for a in acc],
    )  # fmt: skip
    series = [pl.Series(n, c, dtype=t) for (n, t), c in zip(_SCHEMA.items(), cols, strict=True)]
    return pl.DataFrame(series).sort("encounter_id")


def _batch(enc: pl.DataFrame, lines: pl.DataFrame, packs: PackSet,
           stays: Sequence[Stay]) -> dict[int, Settlement]:  # fmt: skip
    """The batch engine over the frames (as ``services.batch`` runs it over files), and
    each stay's full settlement built from its columns (``batch_explain``)."""
    px = PolicyExprs.of(list(packs))
    cover = covered(enc.lazy(), px).collect()["encounter_id"]
    lf = lines.lazy()
    totals, order, results = pl.collect_all([line_totals(lf, cover), line_order(lf),
                                             line_results(lf, cover)])  # fmt: skip
    runs = line_runs(lf).collect() if order["unsorted"].any() else order.head(0)
    bad = suspects(totals, order, runs.select("encounter_id"))
    bad_lines = line_reasons(lf.filter(pl.col("encounter_id").is_in(bad.implode()))).collect()
    settled, rejects = settle_frame(enc, totals, bad_lines, px, explain=True)
    if rejects.height:
        eid, why = rejects.row(0)[0], rejects.row(0)[-1]
        raise InvariantBroken(f"the batch engine refused stay #{eid}: {why}")
    by_idx = {s.idx: s for s in stays}
    idx = settled["encounter_id"].to_list()
    mine = [by_idx[i] for i in idx]
    made = settlements(settled, results, px, [s.encounter_id for s in mine],
                       [s.insuree.id for s in mine])  # fmt: skip
    return dict(zip(idx, made, strict=True))


@dataclass
class BatchPass:
    """The batch pass: each stay and its settlement (by idx)."""

    stays: dict[int, Stay]  # balance as the batch started the stay's year from
    settled: dict[int, Settlement]

    def order(self) -> list[Stay]:
        """Settlement order: per insuree, (discharge_date, encounter id)."""
        return sorted(self.stays.values(), key=settle_order)

    def entries(self, chunk: Sequence[Stay]) -> list[booking.Entry]:
        """The chunk's stays as booking entries: each its settlement from the batch
        (amounts, lines, facts, the state before and after)."""
        out = []
        for s in chunk:
            result = self.settled[s.idx]
            share = s.central_share_bp_of.get(result.facts.covid_status, 0) if result.covid else 0
            out.append(booking.Entry(result, s.provider.code, s.encounter.med_type,
                                     s.encounter.discharge_date, share, s.account_opening_fen,
                                     s.new))  # fmt: skip
        return out


def settle_order(s: Stay) -> tuple[str, Any, int]:
    """The sort key of settlement order: per insuree, (discharge_date, idx)."""
    return s.insuree.id, s.encounter.discharge_date, s.idx


def settle_stays(stays: Sequence[Stay], lines: pl.DataFrame,
                 packs: PackSet) -> list[booking.Entry]:  # fmt: skip
    """Every stay's booking entry, in settlement order per insuree (``batch_pass``)."""
    done = batch_pass(stays, lines, packs)
    return done.entries(done.order())


def batch_pass(stays: Sequence[Stay], lines: pl.DataFrame, packs: PackSet) -> BatchPass:
    """Settle the stays in one batch pass per discharge year (an account carries across
    years: a later year starts from what the earlier ones left).

    ``lines``: ``encounter_id`` (the stay's ``idx``), ``sn``, ``code``, ``category``,
    ``item_class``, ``selfpay_bp``, ``price_e6``, ``qty_e4``, ``price_cap_e6``,
    ``in_protocol``, ``temp_code``, sorted by ``encounter_id``, file order within."""
    psn_idx = {p: n for n, p in enumerate(sorted({s.insuree.id for s in stays}))}
    spent: dict[str, int] = defaultdict(int)  # account paid by earlier years of the file
    done = BatchPass({}, {})
    for year in sorted({s.encounter.discharge_date.year for s in stays}):
        part = [s for s in stays if s.encounter.discharge_date.year == year]
        if spent:  # a later year: the account starts from what the earlier ones left
            part = [dataclasses.replace(s, insuree=dataclasses.replace(
                s.insuree, account_balance_fen=s.insuree.account_balance_fen - spent[s.insuree.id]))
                for s in part]  # fmt: skip
        part.sort(key=settle_order)
        ids = pl.Series([s.idx for s in part])
        made = _batch(
            _frame(part, psn_idx),
            lines.filter(pl.col("encounter_id").is_in(ids.implode())),
            packs,
            part,
        )
        for s in part:
            done.stays[s.idx] = s
        for idx, m in made.items():
            done.settled[idx] = m
            spent[m.insuree_id] += m.setlinfo.acct_pay
    return done
