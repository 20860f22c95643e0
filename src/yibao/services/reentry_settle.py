"""Re-entry's settlement step: the file's stays settled in one batch-engine pass with the
accumulators and account balances carried from the store, then each stay's full
settlement (lines, facts: what its record and trace are built from) materialised by the
scalar engine from the state the batch says it started from, and checked to the fen
against the batch's row (DECISIONS 0065). Pure of I/O: frames and snapshots in,
``booking.Entry``s out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from yibao.core.engine import settle as engine_settle
from yibao.core.engine.batch import (
    covered,
    line_order,
    line_reasons,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.model import (
    SETLINFO_FIELDS,
    Accumulators,
    Encounter,
    Insuree,
    Line,
    Provider,
    SettleRequest,
)
from yibao.core.errors import InvariantBroken
from yibao.core.policy import PackSet
from yibao.services import booking

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


def _frame(stays: Sequence[Stay], psn_idx: dict[str, int]) -> pl.DataFrame:
    rows = []
    for s in stays:
        i, p, e, a = s.insuree, s.provider, s.encounter, s.accumulators
        rows.append((s.idx, psn_idx[i.id], i.scheme, i.resident_tier, i.insured_region,
                     i.assistance_category, p.code, p.region, p.level, p.covid_designated,
                     e.med_type, e.admit_date, e.discharge_date, list(e.diagnoses),
                     e.covid_status, e.filing, e.admission_seq,
                     None if e.transfer_from is None else -1, i.account_balance_fen,
                     a.basic_entitled_fen, a.serious_base_fen,
                     a.assistance_entitled_fen))  # fmt: skip
    schema: dict[str, Any] = {"encounter_id": pl.Int64, "insuree_id": pl.Int64, "scheme": pl.String,
              "resident_tier": pl.Int64, "insured_region": pl.String,
              "assistance_category": pl.String, "provider_code": pl.String,
              "provider_region": pl.String, "provider_level": pl.Int64,
              "covid_designated": pl.Boolean, "med_type": pl.String, "admit_date": pl.Date,
              "discharge_date": pl.Date, "diagnoses": pl.List(pl.String),
              "covid_status": pl.String, "filing": pl.String, "admission_seq": pl.Int64,
              "transfer_from": pl.Int64, "account_balance_fen": pl.Int64,
              "start_basic_entitled_fen": pl.Int64, "start_serious_base_fen": pl.Int64,
              "start_assistance_entitled_fen": pl.Int64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row").sort("encounter_id")


def _batch(enc: pl.DataFrame, lines: pl.DataFrame, packs: PackSet) -> pl.DataFrame:
    """The batch engine over the frames (as ``services.batch`` runs it over files)."""
    px = PolicyExprs.of(list(packs))
    cover = covered(enc.lazy(), px).collect()["encounter_id"]
    lf = lines.lazy()
    totals = line_totals(lf, cover).collect()
    order = line_order(lf).collect()
    runs = line_runs(lf).collect() if order["unsorted"].any() else order.head(0)
    bad = suspects(totals, order, runs.select("encounter_id"))
    bad_lines = line_reasons(lf.filter(pl.col("encounter_id").is_in(bad.implode()))).collect()
    settled, rejects = settle_frame(enc, totals, bad_lines, px)
    if rejects.height:
        eid, why = rejects.row(0)[0], rejects.row(0)[-1]
        raise InvariantBroken(f"the batch engine refused stay #{eid}: {why}")
    return settled


@dataclass
class BatchPass:
    """The batch pass: each stay's batch row and the state it started from (by idx)."""

    stays: dict[int, Stay]  # balance as the batch started the stay's year from
    rows: dict[int, dict[str, Any]]
    before: dict[int, tuple[Accumulators, int]]
    lines: pl.DataFrame
    packs: PackSet

    def order(self) -> list[Stay]:
        """Settlement order: per insuree, (discharge_date, encounter id)."""
        return sorted(self.stays.values(), key=settle_order)

    def entries(self, chunk: Sequence[Stay]) -> list[booking.Entry]:
        """The chunk's stays settled by the scalar engine from the state the batch
        carried to each (the full settlement: lines and facts, for its record and
        trace); the two must agree to the fen on every amount and on the state after."""
        ids = pl.Series([s.idx for s in chunk], dtype=pl.Int64)
        by_line = _engine_lines(self.lines.filter(pl.col("encounter_id").is_in(ids.implode())))
        out = []
        for s in chunk:
            acc, bal = self.before[s.idx]
            i = s.insuree
            ins = Insuree(i.id, i.scheme, i.resident_tier, i.insured_region,
                          i.assistance_category, bal, i.enrolled)  # fmt: skip
            req = SettleRequest(ins,
                                s.provider, s.encounter, by_line[s.idx], acc)  # fmt: skip
            day = s.encounter.discharge_date
            result = engine_settle(req, self.packs.select(s.insuree.insured_region, day))
            _agree(result, self.rows[s.idx], s.encounter_id)
            share = s.central_share_bp_of.get(result.facts.covid_status, 0) if result.covid else 0
            out.append(booking.Entry(result, s.provider.code, s.encounter.med_type, day, share,
                                     s.account_opening_fen, s.new))  # fmt: skip
        return out


def settle_order(s: Stay) -> tuple[str, Any, int]:
    """The sort key of settlement order: per insuree, (discharge_date, idx)."""
    return s.insuree.id, s.encounter.discharge_date, s.idx


def settle_stays(stays: Sequence[Stay], lines: pl.DataFrame,
                 packs: PackSet) -> list[booking.Entry]:  # fmt: skip
    """Every stay's booking entry, in settlement order per insuree (``batch_pass``, then
    each stay explained)."""
    done = batch_pass(stays, lines, packs)
    return done.entries(done.order())


def batch_pass(stays: Sequence[Stay], lines: pl.DataFrame, packs: PackSet) -> BatchPass:
    """Settle the stays in one batch pass per discharge year (an account carries across
    years: a later year starts from what the earlier ones left), and note the state each
    stay starts from.

    ``lines``: ``encounter_id`` (the stay's ``idx``), ``sn``, ``code``, ``category``,
    ``item_class``, ``selfpay_bp``, ``price_fen``, ``qty_milli``, ``price_cap_fen``,
    ``in_protocol``, ``temp_code``, sorted by ``encounter_id``, file order within."""
    psn_idx = {p: n for n, p in enumerate(sorted({s.insuree.id for s in stays}))}
    spent: dict[str, int] = defaultdict(int)  # account paid by earlier years of the file
    done = BatchPass({}, {}, {}, lines, packs)
    for year in sorted({s.encounter.discharge_date.year for s in stays}):
        part = [s for s in stays if s.encounter.discharge_date.year == year]
        if spent:  # a later year: the account starts from what the earlier ones left
            part = [dataclasses.replace(s, insuree=dataclasses.replace(
                s.insuree, account_balance_fen=s.insuree.account_balance_fen - spent[s.insuree.id]))
                for s in part]  # fmt: skip
        part.sort(key=settle_order)
        ids = pl.Series([s.idx for s in part])
        out = _batch(_frame(part, psn_idx),
                     lines.filter(pl.col("encounter_id").is_in(ids.implode())), packs)  # fmt: skip
        rows = {r["encounter_id"]: r for r in out.iter_rows(named=True)}
        state: dict[str, tuple[Accumulators, int]] = {}
        for s in part:
            r = rows[s.idx]
            start = (s.accumulators, s.insuree.account_balance_fen)
            done.before[s.idx] = state.get(s.insuree.id, start)
            state[s.insuree.id] = (Accumulators(r["basic_entitled_after_fen"],
                                                r["serious_base_after_fen"],
                                                r["assistance_entitled_after_fen"]),
                                   r["account_balance_after_fen"])  # fmt: skip
            spent[s.insuree.id] += r["acct_pay"]
            done.stays[s.idx], done.rows[s.idx] = s, r
    return done


_LINE_FIELDS = tuple(f.name for f in dataclasses.fields(Line))
_LINE_SLOTS = tuple(Line.__dict__[f].__set__ for f in _LINE_FIELDS)


def line_of(*values: Any) -> Line:
    """``Line(*values)``, its slots filled directly: the frozen dataclass's ``__init__``
    goes through ``object.__setattr__`` field by field, most of the cost of the 2 M lines
    of a 100k-stay import. The same object (a test holds them equal)."""
    line = object.__new__(Line)
    for put, v in zip(_LINE_SLOTS, values, strict=True):
        put(line, v)
    return line


def _engine_lines(lines: pl.DataFrame) -> dict[int, tuple[Line, ...]]:
    cols = ("encounter_id", *_LINE_FIELDS)
    out: dict[int, list[Line]] = defaultdict(list)
    ids, *rest = (lines[c].to_list() for c in cols)
    for eid, line in zip(ids, map(line_of, *rest), strict=True):
        out[eid].append(line)
    return {k: tuple(v) for k, v in out.items()}


def _agree(result: Any, row: dict[str, Any], eid: str) -> None:
    a = result.accumulators_after
    mine = (*result.setlinfo, a.basic_entitled_fen, a.serious_base_fen,
            a.assistance_entitled_fen, result.account_balance_after_fen)  # fmt: skip
    theirs = (*(row[f] for f in SETLINFO_FIELDS), row["basic_entitled_after_fen"],
              row["serious_base_after_fen"], row["assistance_entitled_after_fen"],
              row["account_balance_after_fen"])  # fmt: skip
    if mine != theirs:
        raise InvariantBroken(f"stay {eid}: the batch and scalar engines disagree: "
                              f"{theirs} != {mine}")  # fmt: skip
