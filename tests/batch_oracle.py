"""The scalar engine as the batch engine's oracle, and the way back to tables.

``scalar_settle`` (tests.batch_scalar) settles table rows one by one in order
with carried accumulators and balance, exactly as SETTLEMENT.md §6 says the batch must
agree with. ``to_tables`` goes the other way, so hypothesis-made requests can be fed to
the batch engine; ``differences`` compares two outputs field by field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from tests.batch_scalar import requests_of, scalar_settle
from yibao.core.engine import SettleRequest
from yibao.core.engine.batch import OUT_COLUMNS

__all__ = ["E_SCHEMA", "L_SCHEMA", "differences", "requests_of", "scalar_settle", "to_tables"]

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
    "start_basic_paid_fen": pl.Int64,
    "start_serious_paid_fen": pl.Int64,
    "start_assistance_paid_fen": pl.Int64,
}
L_SCHEMA: dict[str, Any] = {
    "encounter_id": pl.Int64,
    "sn": pl.String,
    "code": pl.String,
    "category": pl.String,
    "item_class": pl.String,
    "selfpay_bp": pl.Int32,
    "price_e6": pl.Int64,
    "qty_e4": pl.Int64,
    "price_cap_e6": pl.Int64,
    "in_protocol": pl.Boolean,
    "temp_code": pl.Boolean,
}


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
                acc.basic_paid_fen,
                acc.serious_paid_fen,
                acc.assistance_paid_fen,
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
                ln.price_e6,
                ln.qty_e4,
                ln.price_cap_e6,
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
