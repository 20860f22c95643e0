"""The scalar engine as the batch engine's oracle: settle table rows one by one.

``scalar_settle`` turns encounter and line rows (the batch contract's schema) into
``SettleRequest``s and settles them in (insuree, year, discharge_date, encounter_id)
order, carrying the accumulators and the account balance from one to the next, exactly
as SETTLEMENT.md §6 says the batch must agree with. ``to_tables`` goes the other way, so
hypothesis-made requests can be fed to the batch engine.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from yibao.core.engine import Accumulators, Encounter, Insuree, Line, Provider, SettleRequest
from yibao.core.engine.batch import OUT_COLUMNS
from yibao.core.engine.settle import settle
from yibao.core.policy import PackSet, Policy

E_SCHEMA: dict[str, Any] = {
    "encounter_id": pl.Int64,
    "insuree_id": pl.Int64,
    "scheme": pl.String,
    "resident_tier": pl.Int8,
    "insured_region": pl.String,
    "assistance_category": pl.String,
    "provider_code": pl.String,
    "provider_region": pl.String,
    "provider_level": pl.Int8,
    "covid_designated": pl.Boolean,
    "med_type": pl.String,
    "admit_date": pl.Date,
    "discharge_date": pl.Date,
    "diagnoses": pl.List(pl.String),
    "covid_status": pl.String,
    "filing": pl.String,
    "admission_seq": pl.Int16,
    "transfer_from": pl.Int64,
    "account_balance_fen": pl.Int64,
    "start_basic_entitled_fen": pl.Int64,
    "start_serious_base_fen": pl.Int64,
    "start_assistance_entitled_fen": pl.Int64,
}
L_SCHEMA: dict[str, Any] = {
    "encounter_id": pl.Int64,
    "sn": pl.String,
    "code": pl.String,
    "category": pl.String,
    "item_class": pl.String,
    "selfpay_bp": pl.Int32,
    "price_fen": pl.Int64,
    "qty_milli": pl.Int64,
    "price_cap_fen": pl.Int64,
    "in_protocol": pl.Boolean,
    "temp_code": pl.Boolean,
}


def requests_of(enc: pl.DataFrame, lines: pl.DataFrame) -> list[SettleRequest]:
    """One request per encounter row, with the row's starting state (not carried yet)."""
    by_enc: dict[int, list[Line]] = defaultdict(list)
    for r in lines.iter_rows(named=True):
        by_enc[r["encounter_id"]].append(
            Line(
                r["sn"],
                r["code"],
                r["category"],
                r["item_class"],
                r["selfpay_bp"],
                r["price_fen"],
                r["qty_milli"],
                r["price_cap_fen"],
                r["in_protocol"],
                r["temp_code"],
            )
        )
    out = []
    for r in enc.iter_rows(named=True):
        tf = r["transfer_from"]
        out.append(
            SettleRequest(
                Insuree(
                    str(r["insuree_id"]),
                    r["scheme"],
                    r["resident_tier"],
                    r["insured_region"],
                    r["assistance_category"],
                    r["account_balance_fen"],
                    True,
                ),
                Provider(
                    r["provider_code"],
                    r["provider_region"],
                    r["provider_level"],
                    r["covid_designated"],
                ),
                Encounter(
                    str(r["encounter_id"]),
                    r["med_type"],
                    r["admit_date"],
                    r["discharge_date"],
                    tuple(r["diagnoses"]),
                    r["covid_status"],
                    r["filing"],
                    r["admission_seq"],
                    None if tf is None else str(tf),
                ),
                tuple(by_enc.get(r["encounter_id"], ())),
                Accumulators(
                    r["start_basic_entitled_fen"],
                    r["start_serious_base_fen"],
                    r["start_assistance_entitled_fen"],
                ),
            )
        )
    return out


def scalar_settle(enc: pl.DataFrame, lines: pl.DataFrame, packs: Sequence[Policy]) -> pl.DataFrame:
    """Settle every row one by one with carried state; ``OUT_COLUMNS``, by encounter_id."""
    pack_set = PackSet(packs)
    reqs = requests_of(enc, lines)
    reqs.sort(
        key=lambda q: (
            int(q.insuree.id),
            q.encounter.discharge_date.year,
            q.encounter.discharge_date,
            int(q.encounter.id),
        )
    )
    state: dict[tuple[str, int], tuple[Accumulators, int]] = {}
    rows = []
    for q in reqs:
        key = (q.insuree.id, q.encounter.discharge_date.year)
        acc, balance = state.get(key, (q.accumulators, q.insuree.account_balance_fen))
        q = dataclasses.replace(
            q, accumulators=acc, insuree=dataclasses.replace(q.insuree, account_balance_fen=balance)
        )
        s = settle(q, pack_set.select(q.insuree.insured_region, q.encounter.discharge_date))
        state[key] = (s.accumulators_after, s.account_balance_after_fen)
        a = s.accumulators_after
        rows.append(
            (
                int(s.encounter_id),
                s.covid,
                *s.setlinfo,
                a.basic_entitled_fen,
                a.serious_base_fen,
                a.assistance_entitled_fen,
                s.account_balance_after_fen,
            )
        )
    schema = {c: (pl.Boolean if c == "covid" else pl.Int64) for c in OUT_COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("encounter_id")


def to_tables(
    reqs: Iterable[tuple[int, int, SettleRequest]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(encounter_id, insuree_id, request) rows as the batch contract's two tables."""
    e_rows, l_rows = [], []
    for eid, iid, q in reqs:
        ins, prov, enc, acc = q.insuree, q.provider, q.encounter, q.accumulators
        tf = None if enc.transfer_from is None else eid - 1
        e_rows.append(
            (
                eid,
                iid,
                ins.scheme,
                ins.resident_tier,
                ins.insured_region,
                ins.assistance_category,
                prov.code,
                prov.region,
                prov.level,
                prov.covid_designated,
                enc.med_type,
                enc.admit_date,
                enc.discharge_date,
                list(enc.diagnoses),
                enc.covid_status,
                enc.filing,
                enc.admission_seq,
                tf,
                ins.account_balance_fen,
                acc.basic_entitled_fen,
                acc.serious_base_fen,
                acc.assistance_entitled_fen,
            )
        )
        l_rows += [
            (
                eid,
                ln.sn,
                ln.code,
                ln.category,
                ln.item_class,
                ln.selfpay_bp,
                ln.price_fen,
                ln.qty_milli,
                ln.price_cap_fen,
                ln.in_protocol,
                ln.temp_code,
            )
            for ln in q.lines
        ]
    return (
        pl.DataFrame(e_rows, schema=E_SCHEMA, orient="row"),
        pl.DataFrame(l_rows, schema=L_SCHEMA, orient="row"),
    )


def differences(batch: pl.DataFrame, scalar: pl.DataFrame, limit: int = 5) -> list[str]:
    """Field-by-field differences between two ``OUT_COLUMNS`` frames (empty: equal)."""
    if batch.height != scalar.height:
        return [f"{batch.height} rows != {scalar.height} rows"]
    out = []
    for col in OUT_COLUMNS:
        diff = batch.filter(batch[col] != scalar[col])
        if diff.height:
            eid = diff["encounter_id"][0]
            got = batch.filter(pl.col("encounter_id") == eid)[col][0]
            want = scalar.filter(pl.col("encounter_id") == eid)[col][0]
            out.append(f"{col}: {diff.height} rows differ, e.g. encounter {eid}: {got} != {want}")
    return out[:limit]
