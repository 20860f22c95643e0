"""How the REST resources render the service's results: plain dicts of JSON values
(integer fen, ISO dates; ``app.send`` writes them), ID numbers and names masked unless
the caller's role may see them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.core.engine.model import Accumulators
from yibao.core.engine.serialize import settlement_to_dict
from yibao.services.access.rights import Principal, show_psn_no
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST
from yibao.services.stays.deferred.model import Deferral

__all__ = ["acc_doc", "beijing", "deferral_doc", "encounter_doc", "line_doc", "settlement_doc"]


def beijing(t: dt.datetime | None) -> dt.datetime | None:
    """A stored instant in Beijing time (+08:00), the zone ``booked_on`` and every date
    of the API are in; the database may hand it back in UTC or the session's zone (a
    naive value is the store's UTC)."""
    if t is None:
        return None
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(CST)


def acc_doc(a: Accumulators) -> dict[str, int]:
    """The six accumulators by name: for each capped fund what its cap is measured on and
    what it has paid (SETTLEMENT.md §2)."""
    return a.as_dict()


def encounter_doc(caller: Principal, e: uc.EncounterState) -> dict[str, Any]:
    return {
        "id": e.id,
        "provider_code": e.provider_code,
        "insuree_id": show_psn_no(caller, e.insuree_id),
        "insured_region": e.insured_region,
        "insutype": e.scheme_code,
        "med_type": e.med_type,
        "admit_time": e.admit_time,
        "discharge_time": e.discharge_time,
        "discharge_date": e.discharge_date,
        "diagnoses": [{"code": d.code, "main": d.main} for d in e.diagnoses],
        "covid_status": e.covid_status,
        "filing": e.filing,
        "transfer_from": e.transfer_from,
        "status": e.status,
        "settlement_id": e.settlement_id,
        "version": e.version,
    }


def settlement_doc(caller: Principal, r: uc.Settled) -> dict[str, Any]:
    """``settlement_to_dict`` plus ids (a reversal: its negated amounts, no lines)."""
    head: dict[str, Any] = {
        "settlement_id": r.settlement_id,
        "kind": r.kind,
        "reverses": r.reverses,
        "insuree_id": show_psn_no(caller, r.insuree_id),
        "provider_code": r.provider_code,
        "med_type": r.med_type,
        "clr_type": r.clr_type,
        "discharge_date": r.discharge_date,
        "settled_at": beijing(r.settled_at),
        "booked_on": r.booked_on,
        "msgid": r.msgid,
        "central_share_bp": r.central_share_bp,
        "account_balance_before_fen": r.balance_before_fen,
        "accumulators_before": acc_doc(r.accumulators_before),
    }
    if r.kind == "reversal":
        head.update(
            {
                "encounter_id": r.encounter_id,
                "unit": "fen",
                "setlinfo": {k: -v for k, v in r.settlement.setlinfo._asdict().items()},
            }
        )
    else:
        head.update(settlement_to_dict(r.settlement, with_trace=False))
        head["trace"] = r.trace
    head["accumulators_after"] = acc_doc(r.accumulators_after)
    head["account_balance_after_fen"] = r.balance_after_fen
    return head


def line_doc(ln: uc.StoredLine, split: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sn": ln.sn,
        "reverses_sn": ln.reverses_sn,
        "code": ln.code,
        "hospital_code": ln.hospital_code,
        "category": ln.category,
        "item_class": ln.item_class,
        "selfpay_bp": ln.selfpay_bp,
        "price_e6": ln.price_e6,
        "qty_e4": ln.qty_e4,
        "amount_fen": ln.amount_fen,
        "price_cap_e6": ln.price_cap_e6,
        "in_protocol": ln.in_protocol,
        "temp_code": ln.temp_code,
        "catalog_region": ln.catalog_region,
        "protocol_edition": ln.protocol_edition,
        "service_date": ln.service_date,
        "cancelled": ln.cancelled,
    }
    if split is not None:
        doc["split"] = {
            "fulamt_ownpay_amt": split.fulamt_ownpay_amt,
            "overlmt_amt": split.overlmt_amt,
            "preselfpay_amt": split.preselfpay_amt,
            "inscp_scp_amt": split.inscp_scp_amt,
            "rule": split.rule,
        }
    return doc


def deferral_doc(d: Deferral) -> dict[str, Any]:
    """A deferral as the API shows it (no personal data beyond the stay's id)."""
    return {
        "deferral_id": d.id,
        "encounter_id": d.encounter_id,
        "status": "deferred" if d.open else "settled",
        "reason": d.reason,
        "provider_code": d.provider_code,
        "discharge_date": d.discharge_date,
        "medfee_sumamt": d.medfee_sumamt,
        "advance_fen": d.advance_fen,
        "provisional": d.provisional,
        "deferred_at": beijing(d.deferred_at),
        "cleared_at": beijing(d.cleared_at),
        "settlement_id": d.settlement_id,
    }
