"""A manual claim's inputs, who may act on it, and the one way its state changes
(``move``: the claim row, an append-only event, an audit entry, the step's clock)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from yibao.core.errors import Conflict, NotFound
from yibao.core.privacy import mask_account, mask_name, mask_psn_no
from yibao.services.access.rights import Principal, audit, in_township, require
from yibao.services.claims import limits
from yibao.store.uow import UnitOfWork

__all__ = [
    "STATUS_NAMES",
    "ClaimIn",
    "ClaimView",
    "DiagnosisIn",
    "InvoiceIn",
    "load",
    "may",
    "move",
    "view_of",
]

_CLERKS = frozenset({"clerk", "district_clerk"})

STATUS_NAMES = {
    "received": "已受理",
    "forwarded": "已移交",
    "reviewed": "已初审",
    "checked": "已复核",
    "settled": "已结算",
    "approved": "已审批",
    "in_batch": "支付中",
    "paid": "已支付",
    "returned": "退回补正",
    "rejected": "不予报销",
}


def may(caller: Principal, permission: str) -> None:
    """``Forbidden`` unless the caller's role has the claim ``permission`` (the roles are
    in ``access.rights.PERMISSIONS``, the one place for permissions)."""
    require(caller, permission)


@dataclass(frozen=True, slots=True)
class DiagnosisIn:
    code: str
    main: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceIn:
    code: str  # 发票代码
    number: str  # 发票号码
    issued_on: dt.date
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ClaimIn:
    """What the township counter takes in (受理)."""

    psn_no: str
    provider_code: str  # the registry's code, or the treating provider's own
    admit_date: dt.date
    discharge_date: dt.date
    diagnoses: tuple[DiagnosisIn, ...]
    invoices: tuple[InvoiceIn, ...]
    payee_name: str
    payee_bank: str
    payee_account: str
    med_type: str = "21"
    covid_status: str | None = None  # None: from the diagnoses
    provider_name: str | None = None  # required for a provider outside the registry
    provider_region: str | None = None  # 就医地, likewise
    provider_level: int | None = None  # likewise


@dataclass(frozen=True, slots=True)
class ClaimView:
    """A claim as shown: personal data masked unless the role sees it; the bank
    account always masked."""

    id: str
    status: str
    status_name: str
    psn_no: str
    insuree_name: str | None
    township: str | None
    provider_code: str
    provider_name: str
    provider_region: str
    networked: bool
    med_type: str
    admit_date: dt.date
    discharge_date: dt.date
    diagnoses: list[dict[str, Any]]
    payee_name: str
    payee_bank: str
    payee_account: str  # masked
    missing: str | None
    step: str | None  # the step it waits for
    step_started_at: dt.datetime
    due_at: dt.datetime | None
    paused_days_left: int | None
    overdue: bool
    first_reviewer: str | None
    second_reviewer: str | None
    settlement_id: str | None
    version: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def view_of(row: Any, caller: Principal, now: dt.datetime, name: str | None = None) -> ClaimView:
    sees = caller.role in {"township_clerk", *_CLERKS}
    due = row.due_at
    due = due if due is None or due.tzinfo else due.replace(tzinfo=dt.UTC)
    return ClaimView(
        row.id,
        row.status,
        STATUS_NAMES[row.status],
        row.psn_no if sees else mask_psn_no(row.psn_no),
        None if name is None else (name if sees else mask_name(name)),
        row.township,
        row.provider_code,
        row.provider_name,
        row.provider_region,
        row.networked,
        row.med_type,
        row.admit_date,
        row.discharge_date,
        list(row.diagnoses),
        row.payee_name if sees else mask_name(row.payee_name),
        row.payee_bank,
        mask_account(row.payee_account),
        row.missing,
        limits.STEP_NAMES.get(row.status),
        row.step_started_at,
        due,
        row.clock_left,
        due is not None and due < now,
        row.first_reviewer,
        row.second_reviewer,
        row.settlement_id,
        row.version,
    )


def load(uow: UnitOfWork, caller: Principal, claim_id: str, *, lock: bool = False) -> Any:
    """The claim row (locked for a change), or NotFound; a township clerk sees only its
    township's claims."""
    row = uow.claims.claim(claim_id, lock=lock)
    if row is None:
        raise NotFound(f"claim {claim_id} not found")
    in_township(caller, row.township, f"报销申请 {claim_id} ")
    return row


def move(
    uow: UnitOfWork,
    caller: Principal,
    row: Any,
    to: str,
    kind: str,
    at: dt.datetime,
    *,
    allowed_from: tuple[str, ...],
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """The one state change of a claim: status ``row.status`` -> ``to`` (refused unless
    from ``allowed_from``), the claim row updated, one event appended, one audit entry;
    the clock restarts for the step ``to`` waits for (a step's limit, data)."""
    if row.status not in allowed_from:
        have = STATUS_NAMES.get(row.status, row.status)
        raise Conflict(
            f"claim {row.id} is {row.status} ({have}): cannot {kind} "
            f"(needs {' or '.join(allowed_from)})"
        )
    seq = row.version + 1
    new = {
        "status": to,
        "version": seq,
        "updated_at": at,
        "step_started_at": at,
        "due_at": limits.due_at(to, at),
        "clock_left": None,
    } | (values or {})
    uow.claims.update_claim(row.id, new)
    uow.claims.add_event(
        {
            "claim_id": row.id,
            "seq": seq,
            "kind": kind,
            "status_from": row.status,
            "status_to": to,
            "at": at,
            "actor": caller.actor,
            "detail": detail or {},
        }
    )
    audit(
        uow,
        caller,
        f"claim.{kind}",
        "claim",
        row.id,
        before={"status": row.status, "version": row.version},
        after={"status": to, "version": seq},
        at=at,
        detail=detail,
    )
