"""A settlement as a stored record and back: every field of the engine's ``Settlement``
(the facts its trace and ``setldetail`` are built from included), by name (record
version 2), so a stored settlement is explained and checked years later exactly as it
was computed (``yibao ledger check`` rebuilds them from here). And the ``settlements``
rows of a settlement and of its reversal, written alike by the service one by one and
by the bulk paths (re-entry, the deferred queue, re-settlement)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.core.engine.model import Accumulators, Settlement
from yibao.store.settlement_record import (
    RECORD_VERSION,
    acc_dict,
    acc_of,
    settlement_from_record,
    settlement_record,
    trace_rows,
)

__all__ = [
    "JSON_COLUMNS",
    "RECORD_VERSION",
    "acc_dict",
    "acc_of",
    "given_back",
    "reversal_row",
    "settlement_from_record",
    "settlement_record",
    "settlement_row",
    "trace_rows",
]

JSON_COLUMNS = ("accumulators_before", "accumulators_after", "record")
"""The JSON columns of a ``settlements`` row (text for COPY on PostgreSQL). The trace
and ``setldetail`` are not stored: rebuilt from the record when read (DECISIONS 0084)."""


def given_back(now: Accumulators, before: Accumulators, after: Accumulators) -> Accumulators:
    """The accumulators ``now`` less what one settlement moved (``after - before``, field
    by field: entitlements and bases, and what each fund paid): what its reversal leaves
    (SETTLEMENT.md §8)."""
    return now.minus(after.minus(before))


def settlement_row(s: Settlement, *, setl_id: str, encounter_id: str, provider_code: str,
                   psn_no: str, year: int, booked_on: dt.date, settled_at: dt.datetime,
                   discharge_date: dt.date, msgid: str | None, actor: str, med_type: str,
                   clr_type: str, central_share_bp: int, balance_before_fen: int,
                   balance_after_fen: int, explained: bool = True) -> dict[str, Any]:  # fmt: skip
    """The ``settlements`` row of a settlement (JSON columns as Python values); with
    ``explained``, also its ``trace`` (not a column: for the caller's answer)."""
    i = s.setlinfo
    row: dict[str, Any] = {
        "id": setl_id, "kind": "settlement", "reverses": None, "encounter_id": encounter_id,
        "provider_code": provider_code, "psn_no": psn_no, "year": year,
        "booked_on": booked_on, "settled_at": settled_at, "discharge_date": discharge_date,
        "msgid": msgid, "actor": actor, "pack_id": s.pack_id, "pack_sha256": s.pack_sha256,
        "med_type": med_type, "clr_type": clr_type, "central_share_bp": central_share_bp,
        "medfee_sumamt": i.medfee_sumamt, "fund_pay_sumamt": i.fund_pay_sumamt,
        "fiscal_pay": i.fiscal_pay, "acct_pay": i.acct_pay, "psn_cash_pay": i.psn_cash_pay,
        "accumulators_before": acc_dict(s.accumulators_before),
        "accumulators_after": acc_dict(s.accumulators_after),
        "balance_before_fen": balance_before_fen, "balance_after_fen": balance_after_fen,
        "record": settlement_record(s),
    }  # fmt: skip
    if explained:
        row["trace"] = trace_rows(s)
    return row


def reversal_row(row: Any, s: Settlement, *, rev_id: str, encounter_id: str,
                 booked_on: dt.date, settled_at: dt.datetime, msgid: str | None, actor: str,
                 accumulators_before: Accumulators, accumulators_after: Accumulators,
                 balance_before_fen: int) -> dict[str, Any]:  # fmt: skip
    """The ``settlements`` row reversing the stored settlement ``row`` (``s`` its
    engine form): amounts negated, the account payment given back, the settlement's
    record kept (its trace and ``setldetail`` with it)."""
    i = s.setlinfo
    return {
        "id": rev_id, "kind": "reversal", "reverses": row.id, "encounter_id": encounter_id,
        "provider_code": row.provider_code, "psn_no": row.psn_no, "year": row.year,
        "booked_on": booked_on, "settled_at": settled_at, "discharge_date": row.discharge_date,
        "msgid": msgid, "actor": actor, "pack_id": row.pack_id,
        "pack_sha256": row.pack_sha256, "med_type": row.med_type, "clr_type": row.clr_type,
        "central_share_bp": row.central_share_bp, "medfee_sumamt": -i.medfee_sumamt,
        "fund_pay_sumamt": -i.fund_pay_sumamt, "fiscal_pay": -i.fiscal_pay,
        "acct_pay": -i.acct_pay, "psn_cash_pay": -i.psn_cash_pay,
        "accumulators_before": acc_dict(accumulators_before),
        "accumulators_after": acc_dict(accumulators_after),
        "balance_before_fen": balance_before_fen,
        "balance_after_fen": balance_before_fen + i.acct_pay,
        "record": row.record,
    }  # fmt: skip
