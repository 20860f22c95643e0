"""Who may do what: API keys, roles, the hospital boundary, masking, and the audit log.

Roles (docs/API.md, "Roles"): ``hospital`` (one provider's encounters, its own
statements), ``clerk`` (district clerks: read everything, reverse a settlement),
``finance`` (statements, the ledger), ``auditor`` (read everything masked, the audit
log), ``admin`` (keys, the audit log). A hospital key never sees another hospital's
encounter: it is told "not found", not "forbidden", so nothing leaks.

Keys are ``yb_<key id>_<secret>``; only the sha256 of the secret is stored, the key is
printed once (``yibao keys create``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from yibao.core.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from yibao.core.privacy import mask_name, mask_psn_no
from yibao.store.hospital import ROLES
from yibao.store.hospital_repo import Ops
from yibao.store.uow import UnitOfWork

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "CreatedKey",
    "Principal",
    "audit",
    "audit_op",
    "create_key",
    "digest",
    "list_keys",
    "own",
    "require",
    "revoke_key",
    "show_name",
    "show_psn_no",
    "verify_key",
]

PERMISSIONS: dict[str, frozenset[str]] = {
    "insuree.read": frozenset({"hospital", "clerk", "finance", "auditor"}),
    "encounter.write": frozenset({"hospital"}),
    "settlement.book": frozenset({"hospital", "clerk"}),  # bulk: re-entry, re-settlement
    "encounter.read": frozenset({"hospital", "clerk", "finance", "auditor"}),
    "settlement.reverse": frozenset({"hospital", "clerk"}),
    "compensate": frozenset({"hospital"}),
    "cumulative.read": frozenset({"hospital", "clerk", "finance", "auditor"}),
    "reconcile": frozenset({"hospital", "finance"}),
    "ledger.read": frozenset({"finance", "auditor"}),
    "audit.read": frozenset({"auditor", "admin"}),
    "keys.manage": frozenset({"admin"}),
    "deferred.read": frozenset({"hospital", "clerk", "finance", "auditor", "admin"}),
    "deferred.settle": frozenset({"hospital", "clerk", "admin"}),
    "resettle": frozenset({"clerk", "admin"}),
}
"""Permission -> the roles that have it (the role matrix of docs/API.md)."""

SEES_PERSONAL = frozenset({"hospital", "clerk"})
"""Roles shown ID numbers and names unmasked (a hospital: only its own patients')."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a key's role and, for a hospital, its provider code."""

    key_id: str
    role: str
    provider_code: str | None

    @property
    def actor(self) -> str:
        """Who, as the audit log and events record it."""
        return f"key:{self.key_id}"

    @property
    def principal(self) -> str:
        """Whose msgids / Idempotency-Keys these are: a hospital's provider code (unique
        per hospital across REST and the national envelope), else the key."""
        return self.provider_code if self.role == "hospital" and self.provider_code else self.actor

    @property
    def sees_personal(self) -> bool:
        return self.role in SEES_PERSONAL

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def require(caller: Principal, permission: str) -> None:
    """``Forbidden`` unless the caller's role has ``permission``."""
    if not caller.may(permission):
        raise Forbidden(f"role {caller.role} may not {permission.replace('.', ' ')}")


def own(caller: Principal, provider_code: str, what: str) -> None:
    """A hospital sees only its own provider's records: anything else is not found."""
    if caller.role == "hospital" and caller.provider_code != provider_code:
        raise NotFound(f"{what} not found")


def show_psn_no(caller: Principal, psn_no: str) -> str:
    return psn_no if caller.sees_personal else mask_psn_no(psn_no)


def show_name(caller: Principal, name: str) -> str:
    return name if caller.sees_personal else mask_name(name)


def digest(doc: Any) -> str:
    """sha256 of the canonical JSON of ``doc`` (sorted keys, compact, UTF-8; dates and
    times as ISO 8601; any other object as its text)."""
    text = orjson.dumps(doc, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(text).hexdigest()


def audit_op(
    caller: Principal,
    action: str,
    entity: str,
    entity_id: str,
    *,
    before: Any,
    after: Any,
    at: dt.datetime,
    msgid: str | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The audit entry as a statement for ``uow.hospital.batch`` (see ``audit``)."""
    return Ops.insert_audit, {
        "at": at, "actor": caller.actor, "role": caller.role,
        "provider_code": caller.provider_code, "action": action, "entity": entity,
        "entity_id": entity_id, "msgid": msgid,
        "before_sha256": None if before is None else digest(before),
        "after_sha256": None if after is None else digest(after),
        "detail": detail or {},
    }  # fmt: skip


def audit(
    uow: UnitOfWork,
    caller: Principal,
    action: str,
    entity: str,
    entity_id: str,
    *,
    before: Any,
    after: Any,
    at: dt.datetime,
    msgid: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry: who, when, what, and the sha256 of before and after
    (``None`` where there was nothing). ``detail`` must hold no unmasked personal data."""
    uow.hospital.batch([audit_op(caller, action, entity, entity_id, before=before, after=after,
                                 at=at, msgid=msgid, detail=detail)])  # fmt: skip


# -- keys ----------------------------------------------------------------------------------

_PREFIX = "yb"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key_id: str
    key: str  # shown once
    role: str
    provider_code: str | None


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(
    uow: UnitOfWork,
    *,
    role: str,
    provider_code: str | None,
    label: str,
    by: str,
    now: dt.datetime,
) -> CreatedKey:
    """A new key; the returned ``key`` is the only copy. A hospital key names a provider
    that exists in the registry; other roles name none."""
    problems = []
    if role not in ROLES:
        problems.append(("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    if role == "hospital" and not provider_code:
        problems.append(("provider", "a hospital key needs --provider CODE"))
    if role != "hospital" and provider_code:
        problems.append(("provider", f"a {role} key is not tied to a provider"))
    if problems:
        raise InvalidRequest.of(problems)
    with uow(write=True):
        if provider_code and not uow.providers.where(code=provider_code):
            raise NotFound(f"provider {provider_code} is not in the registry")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        uow.hospital.insert_key({
            "key_id": key_id, "secret_sha256": _secret_hash(secret), "role": role,
            "provider_code": provider_code, "label": label[:100], "created_by": by[:64],
            "created_at": now, "revoked_at": None,
        })  # fmt: skip
        who = Principal("cli", "admin", None)
        audit(uow, who, "key.create", "api_key", key_id, before=None,
              after={"key_id": key_id, "role": role, "provider_code": provider_code},
              at=now, detail={"by": by[:64], "label": label[:100]})  # fmt: skip
        uow.commit()
    return CreatedKey(key_id, f"{_PREFIX}_{key_id}_{secret}", role, provider_code)


def verify_key(uow: UnitOfWork, key: str) -> Principal:
    """The principal of a presented key; ``Unauthorized`` for anything else."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise Unauthorized("not a yibao API key")
    with uow:
        row = uow.hospital.key(parts[1])
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    if not hmac.compare_digest(row.secret_sha256, _secret_hash(parts[2])):
        raise Unauthorized("unknown or revoked API key")
    return Principal(row.key_id, row.role, row.provider_code)


def list_keys(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every key without its secret hash."""
    with uow:
        return [{"key_id": r.key_id, "role": r.role, "provider_code": r.provider_code,
                 "label": r.label, "created_at": r.created_at, "revoked_at": r.revoked_at}
                for r in uow.hospital.api_keys()]  # fmt: skip


def revoke_key(uow: UnitOfWork, key_id: str, *, by: str, now: dt.datetime) -> None:
    """Revoke a key (its row keeps who created it and when it was revoked)."""
    with uow(write=True):
        if uow.hospital.revoke_key(key_id, now) == 0:
            raise NotFound(f"no active key {key_id}")
        audit(uow, Principal("cli", "admin", None), "key.revoke", "api_key", key_id,
              before={"key_id": key_id, "revoked": False},
              after={"key_id": key_id, "revoked": True}, at=now,
              detail={"by": by[:64]})  # fmt: skip
        uow.commit()
