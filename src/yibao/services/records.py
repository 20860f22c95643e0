"""A settlement as a stored record and back: every field of the engine's ``Settlement``
(the facts its trace and ``setldetail`` are built from included), positional lists for
the tuples, so a stored settlement is explained and checked years later exactly as it
was computed (``yibao ledger check`` rebuilds them from here). And the ``settlements``
rows of a settlement and of its reversal, written alike by the service one by one and
by the bulk paths (re-entry, the deferred queue, re-settlement)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.core.engine.model import Accumulators, Facts, LineResult, SetlInfo, Settlement

__all__ = [
    "JSON_COLUMNS",
    "RECORD_VERSION",
    "acc_list",
    "given_back",
    "reversal_row",
    "settlement_from_record",
    "settlement_record",
    "settlement_row",
]

RECORD_VERSION = 1


JSON_COLUMNS = ("accumulators_before", "accumulators_after", "record", "setldetail", "trace")
"""The JSON columns of a ``settlements`` row (text for COPY on PostgreSQL)."""


def acc_list(a: Accumulators) -> list[int]:
    """Accumulators as stored: [basic, serious, assistance]."""
    return [a.basic_entitled_fen, a.serious_base_fen, a.assistance_entitled_fen]



def given_back(now: Accumulators, before: Accumulators, after: Accumulators) -> Accumulators:
    """The accumulators ``now`` less what one settlement moved (``after - before``):
    what its reversal leaves (SETTLEMENT.md §8)."""
    moved = zip(acc_list(now), acc_list(after), acc_list(before), strict=True)
    return Accumulators(*(n - (a - b) for n, a, b in moved))


def settlement_row(s: Settlement, *, setl_id: str, encounter_id: str, provider_code: str,
                   psn_no: str, year: int, booked_on: dt.date, settled_at: dt.datetime,
                   discharge_date: dt.date, msgid: str | None, actor: str, med_type: str,
                   clr_type: str, central_share_bp: int, balance_before_fen: int,
                   balance_after_fen: int) -> dict[str, Any]:  # fmt: skip
    """The ``settlements`` row of a settlement (JSON columns as Python values)."""
    i = s.setlinfo
    return {
        "id": setl_id, "kind": "settlement", "reverses": None, "encounter_id": encounter_id,
        "provider_code": provider_code, "psn_no": psn_no, "year": year,
        "booked_on": booked_on, "settled_at": settled_at, "discharge_date": discharge_date,
        "msgid": msgid, "actor": actor, "pack_id": s.pack_id, "pack_sha256": s.pack_sha256,
        "med_type": med_type, "clr_type": clr_type, "central_share_bp": central_share_bp,
        "medfee_sumamt": i.medfee_sumamt, "fund_pay_sumamt": i.fund_pay_sumamt,
        "fiscal_pay": i.fiscal_pay, "acct_pay": i.acct_pay, "psn_cash_pay": i.psn_cash_pay,
        "accumulators_before": acc_list(s.accumulators_before),
        "accumulators_after": acc_list(s.accumulators_after),
        "balance_before_fen": balance_before_fen, "balance_after_fen": balance_after_fen,
        "record": settlement_record(s), "setldetail": [r._asdict() for r in s.setldetail],
        "trace": [t._asdict() for t in s.trace],
    }  # fmt: skip


def reversal_row(row: Any, s: Settlement, *, rev_id: str, encounter_id: str,
                 booked_on: dt.date, settled_at: dt.datetime, msgid: str | None, actor: str,
                 accumulators_before: Accumulators, accumulators_after: Accumulators,
                 balance_before_fen: int) -> dict[str, Any]:  # fmt: skip
    """The ``settlements`` row reversing the stored settlement ``row`` (``s`` its
    engine form): amounts negated, the account payment given back, the settlement's
    record, ``setldetail`` and trace kept."""
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
        "accumulators_before": acc_list(accumulators_before),
        "accumulators_after": acc_list(accumulators_after),
        "balance_before_fen": balance_before_fen,
        "balance_after_fen": balance_before_fen + i.acct_pay,
        "record": row.record, "setldetail": row.setldetail, "trace": row.trace,
    }  # fmt: skip


def settlement_record(s: Settlement) -> dict[str, Any]:
    """The settlement as JSON-ready data (ints, strings, bools, lists)."""
    return {
        "v": RECORD_VERSION,
        "pack_id": s.pack_id,
        "pack_sha256": s.pack_sha256,
        "encounter_id": s.encounter_id,
        "insuree_id": s.insuree_id,
        "covid": s.covid,
        "overlay_clause": s.overlay_clause,
        "ratio_bp": s.ratio_bp,
        "setlinfo": list(s.setlinfo),
        "lines": [list(ln) for ln in s.lines],
        "accumulators_before": acc_list(s.accumulators_before),
        "accumulators_after": acc_list(s.accumulators_after),
        "account_balance_before_fen": s.account_balance_before_fen,
        "account_balance_after_fen": s.account_balance_after_fen,
        "facts": list(s.facts),
    }


def settlement_from_record(d: dict[str, Any]) -> Settlement:
    """The engine's ``Settlement`` from ``settlement_record``'s data."""
    if d.get("v") != RECORD_VERSION:
        raise ValueError(f"settlement record version {d.get('v')!r} is not {RECORD_VERSION}")
    return Settlement(
        d["pack_id"],
        d["pack_sha256"],
        d["encounter_id"],
        d["insuree_id"],
        d["covid"],
        d["overlay_clause"],
        d["ratio_bp"],
        SetlInfo(*d["setlinfo"]),
        tuple(LineResult(*ln) for ln in d["lines"]),
        Accumulators(*d["accumulators_before"]),
        Accumulators(*d["accumulators_after"]),
        d["account_balance_before_fen"],
        d["account_balance_after_fen"],
        Facts(*d["facts"]),
    )
