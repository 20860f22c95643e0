"""The scalar engine over the batch tables: settle each row one by one, in order.

The reference for ``yibao batch settle`` (SETTLEMENT.md §6): encounter and line rows
(the batch contract's schema) become ``SettleRequest``s, settled in (insuree, year,
discharge_date, encounter_id) order with the accumulators and the account balance
carried from one to the next. Used by the tests and by ``bench/batch.py`` for the
scalar-to-batch ratio; it is a Python loop, not a production path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import polars as pl

from yibao.core.engine import (
    Accumulators,
    Encounter,
    Insuree,
    Line,
    Provider,
    Settlement,
    SettleRequest,
)
from yibao.core.engine.batch import OUT_COLUMNS
from yibao.core.engine.model import ACCUMULATOR_FIELDS
from yibao.core.engine.settle import settle
from yibao.core.policy import PackSet, Policy

__all__ = [
    "ordered",
    "requests_of",
    "scalar_settle",
    "settle_in_order",
    "settlements_in_order",
]


def requests_of(enc: pl.DataFrame, lines: pl.DataFrame) -> list[SettleRequest]:
    """One request per encounter row, with the row's starting state (not carried yet)."""
    by_enc: dict[int, list[Line]] = defaultdict(list)
    for r in lines.iter_rows(named=True):
        by_enc[r["encounter_id"]].append(
            Line(
                sn=r["sn"],
                code=r["code"],
                category=r["category"],
                item_class=r["item_class"],
                selfpay_bp=r["selfpay_bp"],
                price_e6=r["price_e6"],
                qty_e4=r["qty_e4"],
                price_cap_e6=r["price_cap_e6"],
                in_protocol=r["in_protocol"],
                temp_code=r["temp_code"],
            )
        )
    out = []
    for r in enc.iter_rows(named=True):
        tf = r["transfer_from"]
        out.append(
            SettleRequest(
                insuree=Insuree(
                    id=str(r["insuree_id"]),
                    scheme=r["scheme"],
                    resident_tier=r["resident_tier"],
                    insured_region=r["insured_region"],
                    assistance_category=r["assistance_category"],
                    account_balance_fen=r["account_balance_fen"],
                    enrolled=True,
                ),
                provider=Provider(
                    code=r["provider_code"],
                    region=r["provider_region"],
                    level=r["provider_level"],
                    covid_designated=r["covid_designated"],
                ),
                encounter=Encounter(
                    id=str(r["encounter_id"]),
                    med_type=r["med_type"],
                    admit_date=r["admit_date"],
                    discharge_date=r["discharge_date"],
                    diagnoses=tuple(r["diagnoses"]),
                    covid_status=r["covid_status"],
                    filing=r["filing"],
                    admission_seq=r["admission_seq"],
                    transfer_from=None if tf is None else str(tf),
                ),
                lines=tuple(by_enc.get(r["encounter_id"], ())),
                accumulators=Accumulators(
                    **{f: r[f"start_{f}"] for f in ACCUMULATOR_FIELDS},
                ),
            )
        )
    return out


def ordered(reqs: list[SettleRequest]) -> list[SettleRequest]:
    """The settlement order of SETTLEMENT.md §6 (ids are the tables' integers)."""

    def key(q: SettleRequest) -> tuple[int, int, dt.date, int]:
        day = q.encounter.discharge_date
        return int(q.insuree.id), day.year, day, int(q.encounter.id)

    return sorted(reqs, key=key)


def scalar_settle(enc: pl.DataFrame, lines: pl.DataFrame, packs: Sequence[Policy]) -> pl.DataFrame:
    """Settle every row one by one with carried state; ``OUT_COLUMNS``, by encounter_id."""
    return settle_in_order(ordered(requests_of(enc, lines)), packs)


def settlements_in_order(reqs: Sequence[SettleRequest],
                         packs: Sequence[Policy]) -> list[Settlement]:  # fmt: skip
    """Settle requests given in ``ordered`` order, carrying state per insuree-year: the
    scalar engine's settlements, in that order."""
    pack_set = PackSet(packs)
    state: dict[tuple[str, int], tuple[Accumulators, int]] = {}
    out = []
    for q in reqs:
        key = (q.insuree.id, q.encounter.discharge_date.year)
        acc, balance = state.get(key, (q.accumulators, q.insuree.account_balance_fen))
        ins = dataclasses.replace(q.insuree, account_balance_fen=balance)
        q = dataclasses.replace(q, accumulators=acc, insuree=ins)
        s = settle(q, pack_set.select(q.insuree.insured_region, q.encounter.discharge_date))
        state[key] = (s.accumulators_after, s.account_balance_after_fen)
        out.append(s)
    return out


def settle_in_order(reqs: Sequence[SettleRequest], packs: Sequence[Policy]) -> pl.DataFrame:
    """``settlements_in_order`` as the batch's ``OUT_COLUMNS``, by encounter_id."""
    rows = []
    for s in settlements_in_order(reqs, packs):
        after = {f"{f.removesuffix('_fen')}_after_fen": v
                 for f, v in s.accumulators_after.as_dict().items()}  # fmt: skip
        rows.append(
            {
                "encounter_id": int(s.encounter_id),
                "covid": s.covid,
                **s.setlinfo._asdict(),
                **after,
                "account_balance_after_fen": s.account_balance_after_fen,
            }
        )
    schema = {c: (pl.Boolean if c == "covid" else pl.Int64) for c in OUT_COLUMNS}
    return pl.DataFrame(rows, schema=schema).sort("encounter_id")
