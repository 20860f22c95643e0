"""A settlement as the contract's JSON document (integer fen; shared/cases/README.md)."""

from __future__ import annotations

from typing import Any

from yibao.core.engine.model import Settlement

__all__ = ["settlement_to_dict"]


def settlement_to_dict(s: Settlement, *, with_trace: bool = True) -> dict[str, Any]:
    """The settlement with the national field names, every amount in fen."""
    acc = s.accumulators_after
    doc: dict[str, Any] = {
        "unit": "fen",
        "pack": {"id": s.pack_id, "sha256": s.pack_sha256},
        "encounter_id": s.encounter_id,
        "covid": s.covid,
        "overlay_clause": s.overlay_clause,
        "ratio_bp": s.ratio_bp,
        "setlinfo": s.setlinfo._asdict(),
        "setldetail": [r._asdict() for r in s.setldetail],
        "lines": [
            {
                "feedetl_sn": ln.feedetl_sn,
                "det_item_fee_sumamt": ln.det_item_fee_sumamt,
                "fulamt_ownpay_amt": ln.fulamt_ownpay_amt,
                "overlmt_amt": ln.overlmt_amt,
                "preselfpay_amt": ln.preselfpay_amt,
                "inscp_scp_amt": ln.inscp_scp_amt,
                "chrgitm_lv": ln.chrgitm_lv,
                "rule": ln.rule,
            }
            for ln in s.lines
        ],
        "accumulators_after": acc.as_dict(),
        "account_balance_after_fen": s.account_balance_after_fen,
    }
    if with_trace:
        doc["trace"] = [t._asdict() for t in s.trace]
    return doc
