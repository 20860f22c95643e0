"""4101A 医保结算清单: a hospital uploads the settlement list of one of its settlements;
it is checked against the settlement and the disease registry and stored whole. A later
upload of the same settlement's list is a new version, never an overwrite.

Checks (docs/NHSA.md, "4101A"): ``setl_id`` is a settlement of the caller's hospital
(another hospital's is "not found", like one that does not exist) that has not been
reversed; ``mdtrt_id`` and ``psn_no`` are that settlement's; every diagnosis code is an
insurance disease code in force on the settlement's discharge date. The adapter checks
the document's shape (required fields) before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import InvalidRequest, Problem
from yibao.services.access.rights import Principal, require
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = ["ListedSettlement", "SettlementListIn", "list_versions", "upload_settlement_list"]


@dataclass(frozen=True, slots=True)
class SettlementListIn:
    """A decoded settlement list: its ids, its diagnosis codes with the key path each
    came from (``setlinfo.setl_id``, ``input.diseinfo[0].diag_code`` …), and the whole document."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    diagnosis_codes: tuple[tuple[str, str], ...]  # (path, code)
    document: Mapping[str, Any]
    paths: Mapping[str, str]  # setl_id / mdtrt_id / psn_no -> their key path


@dataclass(frozen=True, slots=True)
class ListedSettlement:
    """One stored upload: ``setl_list_id`` (the row's id) and its version (1, 2 …)."""

    setl_list_id: str
    setl_id: str
    version: int
    uploaded_at: dt.datetime


def upload_settlement_list(uow: UnitOfWork, caller: Principal, doc: SettlementListIn, *,
                           msgid: str | None, now: dt.datetime) -> ListedSettlement:  # fmt: skip
    """结算清单上传: validate ``doc`` against its settlement and the disease registry and
    store it as the settlement's next version."""
    require(caller, "encounter.write")
    path = doc.paths
    with uow(write=True):
        s = uow.exchange.lock_settlement(doc.setl_id)
        if (
            s is None
            or s.kind != "settlement"
            or (caller.role == "hospital" and s.provider_code != caller.provider_code)
        ):
            raise InvalidRequest.of([(path["setl_id"], f"settlement {doc.setl_id} not found")])
        problems: list[Problem] = []
        if (rev := uow.exchange.reversal_of(doc.setl_id)) is not None:
            problems.append((path["setl_id"], f"settlement {doc.setl_id} was reversed (结算撤销, "
                                              f"{rev}): no list for it"))  # fmt: skip
        if doc.mdtrt_id != s.encounter_id:
            problems.append((path["mdtrt_id"], f"{doc.mdtrt_id} is not the mdtrt_id of "
                                               f"settlement {doc.setl_id}"))  # fmt: skip
        if doc.psn_no != s.psn_no:
            problems.append((path["psn_no"], f"is not the insuree of settlement {doc.setl_id}"))
        on: dt.date = s.discharge_date
        codes = sorted({c for _, c in doc.diagnosis_codes})
        known = catalog.disease_codes_on(uow, codes, on) if codes else set()
        problems += [(p, f"{c} is not an insurance disease code in force on {on}")
                     for p, c in doc.diagnosis_codes if c not in known]  # fmt: skip
        if problems:
            raise InvalidRequest.of(problems)
        version = uow.exchange.last_list_version(doc.setl_id) + 1
        row_id = uow.exchange.insert_settlement_list({
            "setl_id": doc.setl_id, "version": version, "mdtrt_id": s.encounter_id,
            "provider_code": s.provider_code, "psn_no": s.psn_no, "document": dict(doc.document),
            "msgid": msgid, "actor": caller.actor[:64], "uploaded_at": now})  # fmt: skip
        uow.commit()
    return ListedSettlement(str(row_id), doc.setl_id, version, now)


def list_versions(uow: UnitOfWork, caller: Principal, setl_id: str) -> list[ListedSettlement]:
    """Every uploaded version of a settlement's list, oldest first (a hospital: only its
    own settlements')."""
    require(caller, "encounter.read")
    with uow:
        rows: Sequence[Any] = uow.exchange.settlement_lists(setl_id)
    if caller.role == "hospital":
        rows = [r for r in rows if r.provider_code == caller.provider_code]
    return [ListedSettlement(str(r.id), r.setl_id, r.version, r.uploaded_at) for r in rows]
