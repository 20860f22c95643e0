"""Who may do what: API keys and the console's people (``users``), roles, the hospital
boundary, masking, and the audit log.

Roles (docs/API.md, "Roles"): ``hospital`` (one provider's encounters, its own
statements), ``clerk`` (district clerks: read everything, reverse a settlement),
``finance`` (statements, the ledger), ``auditor`` (read everything masked, the audit
log), ``admin`` (keys, the audit log). A hospital key never sees another hospital's
encounter: it is told "not found", not "forbidden", so nothing leaks.

Keys are ``yb_<key id>_<secret>``; only the sha256 of the secret is stored, the key is
printed once (``yibao keys create``). ``authenticate`` reads the key's row on every
request (one indexed read), so a revoked key is refused by every worker at once.

Refused attempts (401, 403, 404) and reads of personal data are audited
(``audit_refusal``, ``audit_read``): who (the key id, or ``anonymous``), what (method,
route, the resource id with ID numbers masked), why, when. Refusals are written within a
``RefusalBudget`` per process, so a flood of 401s costs a bounded number of inserts and
is still counted (docs/API.md, "Audit").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from yibao.core.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from yibao.core.privacy import mask_name, mask_psn_no
from yibao.core.registry.identity import psn_no_problem
from yibao.store.encounter_repo import Ops, key_state
from yibao.store.service_tables import ROLES
from yibao.store.uow import UnitOfWork

__all__ = [
    "ANONYMOUS",
    "PERMISSIONS",
    "ROLES",
    "CreatedKey",
    "KeyRefused",
    "Principal",
    "RefusalBudget",
    "audit",
    "audit_op",
    "audit_read",
    "audit_refusal",
    "authenticate",
    "create_key",
    "digest",
    "in_township",
    "list_keys",
    "mask_ids",
    "own",
    "require",
    "revoke_key",
    "show_name",
    "show_psn_no",
    "verify_key",
]

_CLERKS = ("clerk", "district_clerk")  # an API clerk key and a district clerk (区医保局 经办)
_READERS = ("clerk", "finance", "auditor", "district_clerk", "township_clerk", "supervisor")
_CONSOLE = ("district_clerk", "township_clerk", "finance", "supervisor", "auditor", "admin")

PERMISSIONS: dict[str, frozenset[str]] = {
    "insuree.read": frozenset({"hospital", *_READERS}),
    "encounter.write": frozenset({"hospital"}),
    "settlement.book": frozenset({"hospital", *_CLERKS}),  # bulk: re-entry, re-settlement
    "encounter.read": frozenset({"hospital", *_READERS}),
    "settlement.reverse": frozenset({"hospital", *_CLERKS}),
    "compensate": frozenset({"hospital"}),
    "cumulative.read": frozenset({"hospital", *_READERS}),
    "reconcile": frozenset({"hospital", "finance"}),
    "ledger.read": frozenset({"finance", "auditor", "supervisor"}),
    "audit.read": frozenset({"auditor", "admin", "supervisor"}),
    "keys.manage": frozenset({"admin"}),
    "deferred.read": frozenset({"hospital", *_READERS, "admin"}),
    "deferred.settle": frozenset({"hospital", *_CLERKS, "admin"}),
    "resettle": frozenset({*_CLERKS, "admin"}),
    # the console's own (issue 17): people, not machines
    "console": frozenset(_CONSOLE),  # sign in to the console at all
    "registry.read": frozenset({"hospital", *_READERS, "admin"}),  # providers, catalog
    "registry.import": frozenset({"district_clerk", "admin"}),
    "users.manage": frozenset({"admin"}),
    # out-of-area filings (issue 18): townships take in and forward, the district decides
    "filing.read": frozenset({*_READERS, "admin"}),
    "filing.intake": frozenset({"township_clerk", *_CLERKS}),
    "filing.decide": frozenset(_CLERKS),
    "clearing.manage": frozenset({"finance", *_CLERKS}),
    # manual claims (手工报销, issue 19): townships take in, forward and correct; the
    # district reviews (初审, 复核 by another person), settles and approves; finance pays
    "claim.intake": frozenset({"township_clerk", *_CLERKS}),
    "claim.review": frozenset(_CLERKS),
    "claim.pay": frozenset({"finance", *_CLERKS}),
    "claim.read": frozenset({*_READERS, "admin"}),
    # -- drugs (issue 21, d1): the district's clerks are the procurement (医保) agency;
    # supervisors investigate signals too; hospitals file their emergency purchases
    "drugs.read": frozenset({*_READERS, "admin"}),
    "drugs.import": frozenset(_CLERKS),
    "drugs.scan": frozenset({*_CLERKS, "supervisor"}),
    "drugs.signal": frozenset({*_CLERKS, "supervisor"}),
    "drugs.file": frozenset({"hospital", *_CLERKS}),
    "drugs.accept": frozenset(_CLERKS),
    # -- end drugs
    # -- funds (issue 20, g1): finance proposes, approves (two people), pays
    "funds.read": frozenset({"hospital", *_READERS, "admin"}),
    "funds.apply": frozenset({"hospital", *_CLERKS}),  # prepayments, subsidy claims
    "funds.approve": frozenset({"finance"}),
    "funds.clear": frozenset({"finance"}),  # prepare / void monthly statements
    "funds.confirm": frozenset({"hospital", *_CLERKS}),  # the hospital's confirmation
    "funds.pay": frozenset({"finance"}),
    "funds.budget": frozenset({"finance", *_CLERKS}),
    "funds.pages": frozenset({"finance", "district_clerk", "auditor", "admin"}),  # console (g2)
    # -- end funds
    # -- supervision (issue 22, s1): supervisors review; clerks may run a scan; a hospital
    # reads and answers its own flags
    "supervision.read": frozenset({"hospital", *_READERS, "admin"}),
    "supervision.scan": frozenset({"supervisor", *_CLERKS, "admin"}),
    "supervision.review": frozenset({"supervisor"}),
    "supervision.answer": frozenset({"hospital"}),
    # -- end supervision
    # -- supervision console (issue 22, s2): the review pages; flags are the district's,
    # not a township's (a township clerk works for its own township's insurees only)
    "supervision.pages": frozenset({"supervisor", "district_clerk", "finance", "auditor", "admin"}),
    # -- end supervision console
}
"""Permission -> the roles that have it (the role matrix of docs/API.md). API keys have
the roles hospital, clerk, finance, auditor, admin; the console's people
(``store.access_tables.USER_ROLES``) district_clerk (as an API clerk), township_clerk
(reads, only its township's insurees: ``in_township``), finance, supervisor (reads
everything masked, the ledger and the audit log), auditor (read-only), admin."""

SEES_PERSONAL = frozenset({"hospital", "clerk", "district_clerk", "township_clerk"})
"""Roles shown ID numbers and names unmasked (a hospital: only its own patients'; a
township clerk: only its township's)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a key's role and, for a hospital, its provider code."""

    key_id: str  # a console user: the login
    role: str
    provider_code: str | None
    township_code: str | None = None  # a township clerk's 乡镇 (issue 17)
    kind: str = "key"  # "key" (an API key) or "user" (a person at the console)

    @property
    def actor(self) -> str:
        """Who, as the audit log and events record it (``key:<id>``, ``user:<login>``)."""
        return f"{self.kind}:{self.key_id}"

    @property
    def principal(self) -> str:
        """Whose msgids / Idempotency-Keys these are: a hospital's provider code (unique
        per hospital across REST and the national envelope), else the key."""
        return self.provider_code if self.role == "hospital" and self.provider_code else self.actor

    @property
    def audit_role(self) -> str:
        """The role as the audit log records it (the role's own name)."""
        return self.role

    @property
    def sees_personal(self) -> bool:
        return self.role in SEES_PERSONAL

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def require(caller: Principal, permission: str) -> None:
    """``Forbidden`` unless the caller's role has ``permission``."""
    if not caller.may(permission):
        raise Forbidden(f"role {caller.role} may not {permission.replace('.', ' ')}")


def in_township(caller: Principal, township: str | None, what: str) -> None:
    """A township clerk acts only for its own township's insurees: ``Forbidden`` for
    anyone else's (the console says so plainly and the refusal is audited)."""
    if caller.role == "township_clerk" and township != caller.township_code:
        raise Forbidden(f"{what}不属于本乡镇（{caller.township_code}），无权查看或办理")


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
    try:
        text = orjson.dumps(doc, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate: still a digest
        text = json.dumps(doc, default=str, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8", "surrogatepass")  # fmt: skip
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
        "at": at, "actor": caller.actor, "role": caller.audit_role,
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


# -- refusals and reads of personal data ----------------------------------------------------

ANONYMOUS = "anonymous"
"""The actor of a refused request that named no key of ours."""

_ID_SHAPED = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_UNPRINTABLE = re.compile(  # control, bidirectional and zero-width characters, surrogates
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def _is_id_number(s: str) -> bool:
    """GB 11643: a birth date that exists and the check character (a lower-case x too)."""
    return psn_no_problem(s.upper()) is None


def _mask_match(m: re.Match[str]) -> str:
    text, start, end = m.string, m.start(), m.end()
    alone = (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum())  # fmt: skip
    found = m.group()
    return mask_psn_no(found) if alone or _is_id_number(found) else found


def mask_ids(text: str) -> str:
    """``text`` with its ID numbers masked (``500102********0016``): every 18-character
    run of 17 digits and a digit or X that stands alone, and one that touches letters
    when it is a valid ID number (birth date, check character) — so that our own ids
    (``M20200214100000…``) are left as they are. A longer run of digits is a number."""
    return _ID_SHAPED.sub(_mask_match, text)


def _clean(text: str, limit: int) -> str:
    """What a caller sent, fit for the audit log: ID numbers masked; control, bidi and
    zero-width characters and lone surrogates replaced by ``?`` (PostgreSQL and JSON
    refuse some, a reader is misled by others); at most ``limit`` characters."""
    return mask_ids(_UNPRINTABLE.sub("?", text[: limit * 2]))[:limit]


class RefusalBudget:
    """How many refused attempts one process writes to the audit log: ``burst`` at
    once, then ``per_s`` a second (a token bucket). One over the budget is not written
    but counted, and the next entry written says how many were left out
    (``detail.suppressed``): a flood of 401s costs at most ``per_s`` inserts a second
    and still leaves its size on record."""

    def __init__(self, per_s: float = 10.0, burst: int = 50,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.per_s, self.burst, self.clock = per_s, burst, clock
        self._tokens = float(burst)
        self._at = clock()
        self._suppressed = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """``None`` when over the budget (counted); else how many were left out since
        the last entry written (0 mostly)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens < 1.0:
                self._suppressed += 1
                return None
            self._tokens -= 1.0
            left_out, self._suppressed = self._suppressed, 0
            return left_out


def _who(caller: Principal | None) -> tuple[str, str, str | None]:
    if caller is None:
        return ANONYMOUS, "none", None
    return caller.actor, caller.audit_role, caller.provider_code


def audit_refusal(
    uow: UnitOfWork,
    caller: Principal | None,
    *,
    status: int,
    reason: str,
    method: str,
    route: str,
    entity: str,
    entity_id: str,
    at: dt.datetime,
    key_id: str | None = None,
    budget: RefusalBudget | None = None,
    suppressed: int = 0,
) -> bool:
    """Record a refused request (401, 403, 404): who (``caller``; for a 401 the
    ``key_id`` presented, ``key:<id>``, or ``anonymous`` without one), what (``method``,
    the ``route`` template, ``entity`` and its id), why (``reason``, the status), when.
    Everything a caller sent is cleaned (ID numbers masked, control characters replaced,
    lengths bounded). Within ``budget`` (``False`` when left out: counted for the next
    entry), or after the caller's own ``budget.take()`` gave ``suppressed``. One insert."""
    left_out = suppressed if budget is None else budget.take()
    if left_out is None:
        return False
    detail: dict[str, Any] = {"method": _clean(method, 10), "route": _clean(route, 120),
                              "status": status, "reason": _clean(reason, 200)}  # fmt: skip
    if left_out:
        detail["suppressed"] = left_out
    actor, role, provider = _who(caller)
    if caller is None and key_id:
        actor = f"key:{_clean(key_id, 16)}"  # as presented: not verified (role "none")
    _access_entry(uow, at, (actor, role, provider), "access.refused", entity, entity_id, detail)
    return True


def audit_read(
    uow: UnitOfWork,
    caller: Principal,
    *,
    method: str,
    route: str,
    entity: str,
    entity_id: str,
    at: dt.datetime,
    query: str = "",
) -> None:
    """Record that ``caller`` was shown an insuree's data (``personal.read``): the
    ``route`` and ``entity`` read, the ``query`` it asked with (ID numbers masked). One
    insert, committed before the data is answered."""
    detail: dict[str, Any] = {"method": _clean(method, 10), "route": _clean(route, 120)}
    if query:
        detail["query"] = _clean(query, 200)
    _access_entry(uow, at, _who(caller), "personal.read", entity, entity_id, detail)


def _access_entry(
    uow: UnitOfWork,
    at: dt.datetime,
    who: tuple[str, str, str | None],
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any],
) -> None:
    """One audit entry of an access (refused or a personal read), committed at once."""
    actor, role, provider = who
    with uow(write=True):
        uow.hospital.audit({
            "at": at, "actor": actor, "role": role, "provider_code": provider,
            "action": action, "entity": _clean(entity, 20),
            "entity_id": _clean(entity_id, 100), "msgid": None, "before_sha256": None,
            "after_sha256": None, "detail": detail,
        })  # fmt: skip
        uow.commit()


# -- keys ----------------------------------------------------------------------------------

_PREFIX = "yb"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key_id: str
    key: str  # shown once
    role: str
    provider_code: str | None


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


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


class KeyRefused(Unauthorized):
    """401, with why for the audit log (the answer itself says less) and the key id the
    caller presented, when it had the form of one (never the key)."""

    def __init__(self, message: str, *, reason: str, key_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.key_id = key_id


_KEY_ID = re.compile(r"[0-9A-Za-z]{1,16}")


def authenticate(uow: UnitOfWork, key: str, known: Principal | None = None) -> Principal:
    """The principal of a presented key; ``KeyRefused`` for anything else. The key's
    row is read every time (one indexed read, no transaction: ``store.key_state``), so
    a revocation holds from the next request on, in every process. ``known``: the
    principal this very key was verified as before (a cache), which skips the hash
    comparison but not the read."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or not _KEY_ID.fullmatch(parts[1]):
        raise KeyRefused("not a yibao API key", reason="not a yibao API key")
    key_id = parts[1]
    row = key_state(uow.engine, key_id)
    if row is None:
        raise KeyRefused("unknown or revoked API key", reason="unknown key id", key_id=key_id)
    same = known is not None and (known.key_id, known.role, known.provider_code) == (
        key_id, row.role, row.provider_code)  # fmt: skip
    if not same and not hmac.compare_digest(row.secret_sha256, _secret_hash(parts[2])):
        raise KeyRefused("unknown or revoked API key", reason="wrong secret", key_id=key_id)
    if row.revoked:
        raise KeyRefused("unknown or revoked API key", reason="revoked", key_id=key_id)
    return known if same and known is not None else Principal(key_id, row.role,
                                                                row.provider_code)  # fmt: skip


def verify_key(uow: UnitOfWork, key: str) -> Principal:
    """The principal of a presented key; ``Unauthorized`` (``KeyRefused``) otherwise."""
    return authenticate(uow, key)


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
