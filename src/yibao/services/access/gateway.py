"""The national gateway's authentication and the operators' sign-ins (issue 16).

**Gateway** (``x-tif-*`` headers, docs/NHSA.md "Gateway authentication"): a caller of
the national gateway is a *client* (``x-tif-paasid``) holding a *token*, the shared
secret it signs with::

    x-tif-signature = sha256_hex(x-tif-timestamp + token + x-tif-nonce + x-tif-timestamp)

``x-tif-timestamp`` is Unix seconds and must lie within ``window_s`` of our clock; each
``x-tif-nonce`` is accepted once per client (``gateway_nonces``; nonces older than twice
the window are pruned as requests come). The token must be stored as it is (the
signature is computed with it), unlike an API key's secret; the CLI prints it once.
A verified client is the same ``Principal`` as a hospital API key of its provider:
role ``hospital``, msgids shared with that hospital's key.

**Sign-ins** (9001 签到 / 9002 签退): ``open_sign_in`` issues a ``sign_no`` to a hospital's
operator, ``close_sign_in`` closes it; ``check_sign_no`` refuses an envelope whose ``sign_no``
is unknown, another hospital's, or signed out — and one without a ``sign_no`` only
when the deployment requires it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from yibao.services.access.rights import Principal, audit, require
from yibao.store.uow import UnitOfWork

__all__ = [
    "DEFAULT_WINDOW_S",
    "CreatedClient",
    "GatewayRefused",
    "SignedIn",
    "authenticate_gateway",
    "check_sign_no",
    "close_sign_in",
    "create_client",
    "gateway_signature",
    "list_clients",
    "open_sign_in",
    "revoke_client",
]

DEFAULT_WINDOW_S = 300
"""How far ``x-tif-timestamp`` may be from our clock, either way (seconds)."""

_PAASID = re.compile(r"[0-9A-Za-z_.\-]{1,40}")
_NONCE = re.compile(r"[0-9A-Za-z_.\-]{1,64}")
_SIGNATURE = re.compile(r"[0-9A-Fa-f]{64}")
_CLI = Principal("cli", "admin", None)


# -- clients --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedClient:
    paasid: str
    provider_code: str
    token: str  # shown once


def create_client(
    uow: UnitOfWork, paasid: str, *, provider_code: str, by: str, now: dt.datetime
) -> CreatedClient:
    """A new gateway client of ``provider_code`` (a provider of the registry); the
    returned ``token`` is shown once. ``paasid``: 1–40 letters, digits, ``_ . -``."""
    if not _PAASID.fullmatch(paasid):
        raise InvalidRequest.of([("paasid", "1-40 letters, digits, '_', '.' or '-'")])
    with uow(write=True):
        if not uow.providers.where(code=provider_code):
            raise NotFound(f"provider {provider_code} is not in the registry")
        if uow.gateway.client(paasid) is not None:
            raise InvalidRequest.of([("paasid", f"{paasid} exists (a revoked one is kept)")])
        token = secrets.token_urlsafe(24)
        uow.gateway.insert_client({"paasid": paasid, "provider_code": provider_code,
                                   "token": token, "created_by": by[:64], "created_at": now,
                                   "revoked_at": None})  # fmt: skip
        audit(uow, _CLI, "gateway.create", "gateway_client", paasid, before=None,
              after={"paasid": paasid, "provider_code": provider_code}, at=now,
              detail={"by": by[:64]})  # fmt: skip
        uow.commit()
    return CreatedClient(paasid, provider_code, token)


def list_clients(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every client without its token."""
    with uow:
        return [{"paasid": r.paasid, "provider_code": r.provider_code,
                 "created_by": r.created_by, "created_at": r.created_at,
                 "revoked_at": r.revoked_at} for r in uow.gateway.clients()]  # fmt: skip


def revoke_client(uow: UnitOfWork, paasid: str, *, by: str, now: dt.datetime) -> None:
    """Revoke a client: its signatures are refused from the next request on."""
    with uow(write=True):
        if uow.gateway.revoke_client(paasid, now) == 0:
            raise NotFound(f"no active gateway client {paasid}")
        audit(uow, _CLI, "gateway.revoke", "gateway_client", paasid,
              before={"paasid": paasid, "revoked": False},
              after={"paasid": paasid, "revoked": True}, at=now,
              detail={"by": by[:64]})  # fmt: skip
        uow.commit()


# -- authentication -------------------------------------------------------------------------


class GatewayRefused(Unauthorized):
    """401 of the gateway's headers, with why (for the audit log and the answer) and the
    paasid presented (never the token)."""

    def __init__(self, message: str, *, reason: str, paasid: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.paasid = paasid


def gateway_signature(timestamp: str, token: str, nonce: str) -> str:
    """``sha256_hex(timestamp + token + nonce + timestamp)``, lower-case hex."""
    text = f"{timestamp}{token}{nonce}{timestamp}".encode()
    return hashlib.sha256(text).hexdigest()


def _refuse(cn: str, en: str, reason: str, paasid: str | None = None) -> GatewayRefused:
    return GatewayRefused(f"网关认证失败: {cn} (gateway authentication failed: {en})",
                          reason=reason, paasid=paasid)  # fmt: skip


def authenticate_gateway(
    uow: UnitOfWork,
    *,
    paasid: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    now: dt.datetime,
    window_s: int = DEFAULT_WINDOW_S,
) -> Principal:
    """The hospital principal of a gateway-signed request, or ``GatewayRefused``: a
    missing header, a timestamp outside ``window_s``, an unknown or revoked client, a
    signature that does not match (hex compared case-insensitively), or a nonce seen
    before. The nonce is recorded (and old ones pruned) only for a good signature, in
    a transaction of its own committed here."""
    names = {"x-tif-paasid": paasid, "x-tif-timestamp": timestamp, "x-tif-nonce": nonce,
             "x-tif-signature": signature}  # fmt: skip
    if missing := [k for k, v in names.items() if not v]:
        raise _refuse(f"缺少 {', '.join(missing)}", f"{', '.join(missing)} missing", "missing")
    assert paasid and timestamp and nonce  # noqa: PT018 (narrowed for mypy)
    assert signature
    if not _PAASID.fullmatch(paasid):
        raise _refuse("x-tif-paasid 未登记", "unknown x-tif-paasid", "bad paasid")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise _refuse("x-tif-timestamp 须为 Unix 秒", "x-tif-timestamp is not Unix seconds",
                      "bad timestamp", paasid)  # fmt: skip
    skew = int(timestamp) - int(now.timestamp())
    if abs(skew) > window_s:
        raise _refuse(f"x-tif-timestamp 超出 {window_s} 秒时间窗",
                      f"x-tif-timestamp is {abs(skew)} s from the server's clock, more than "
                      f"{window_s} s", "stale timestamp", paasid)  # fmt: skip
    if not _NONCE.fullmatch(nonce):
        raise _refuse("x-tif-nonce 格式错误", "x-tif-nonce is not 1-64 letters, digits, '_.-'",
                      "bad nonce", paasid)  # fmt: skip
    with uow(write=True):
        row = uow.gateway.client(paasid)
        if row is None or row.revoked_at is not None:
            raise _refuse("x-tif-paasid 未登记或已注销", "unknown or revoked x-tif-paasid",
                          "unknown client" if row is None else "revoked", paasid)  # fmt: skip
        good = _SIGNATURE.fullmatch(signature) is not None and hmac.compare_digest(
            gateway_signature(timestamp, row.token, nonce), signature.lower())  # fmt: skip
        if not good:
            raise _refuse("x-tif-signature 签名不符", "x-tif-signature does not match",
                          "bad signature", paasid)  # fmt: skip
        if not uow.gateway.remember_nonce(paasid, nonce, now):
            raise _refuse("x-tif-nonce 重复(重放)", "x-tif-nonce was used before (a replay)",
                          "replayed nonce", paasid)  # fmt: skip
        uow.gateway.forget_nonces(now - dt.timedelta(seconds=2 * window_s))
        uow.commit()
        return Principal(f"tif-{paasid}", "hospital", row.provider_code)


# -- sign-ins (9001 / 9002) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedIn:
    sign_no: str
    at: dt.datetime


def _sign_no(at: dt.datetime) -> str:
    """30 characters: ``S`` + UTC yyyyMMddHHmmss + 15 random digits."""
    return f"S{at.astimezone(dt.UTC):%Y%m%d%H%M%S}{secrets.randbelow(10**15):015d}"


def open_sign_in(
    uow: UnitOfWork,
    caller: Principal,
    *,
    opter_no: str,
    mac: str | None,
    ip: str | None,
    now: dt.datetime,
) -> SignedIn:
    """9001 签到: a new ``sign_no`` for ``opter_no`` of the caller's hospital."""
    require(caller, "encounter.write")
    problems = []
    for name, value, most in (("opter_no", opter_no, 30), ("mac", mac, 20), ("ip", ip, 50)):
        if value is not None and not 0 < len(value) <= most:
            problems.append((name, f"1-{most} characters"))
    if problems:
        raise InvalidRequest.of(problems)
    assert caller.provider_code is not None
    sign_no = _sign_no(now)
    with uow(write=True):
        uow.gateway.insert_sign_in({"sign_no": sign_no, "provider_code": caller.provider_code,
                                    "opter_no": opter_no, "mac": mac, "ip": ip,
                                    "actor": caller.actor[:64], "signed_in_at": now,
                                    "signed_out_at": None})  # fmt: skip
        uow.commit()
    return SignedIn(sign_no, now)


def _valid_sign_in(uow: UnitOfWork, caller: Principal, sign_no: str) -> Any:
    row = uow.gateway.sign_in(sign_no)
    if row is None or row.provider_code != caller.provider_code:
        raise Forbidden(f"sign_no {sign_no} 不是本机构的签到编号 (not a sign-in of this "
                        "hospital: sign in with 9001)")  # fmt: skip
    if row.signed_out_at is not None:
        raise Forbidden(f"sign_no {sign_no} 已签退 (signed out: sign in again with 9001)")
    return row


def close_sign_in(
    uow: UnitOfWork, caller: Principal, *, sign_no: str, opter_no: str | None, now: dt.datetime
) -> dt.datetime:
    """9002 签退: close the caller's hospital's open sign-in ``sign_no``; the time."""
    require(caller, "encounter.write")
    with uow(write=True):
        row = _valid_sign_in(uow, caller, sign_no)
        if opter_no is not None and opter_no != row.opter_no:
            raise Forbidden(f"sign_no {sign_no} 属于另一操作员 (signed in by another "
                            "operator)")  # fmt: skip
        uow.gateway.sign_out(sign_no, now)
        uow.commit()
    return now


def check_sign_no(
    uow: UnitOfWork, caller: Principal, sign_no: str | None, *, required: bool
) -> None:
    """An envelope's ``sign_no``: none is accepted unless ``required``; one given must be
    an open sign-in of the caller's hospital (``Forbidden`` otherwise)."""
    if sign_no is None:
        if required:
            raise Forbidden("缺少 sign_no: 请先签到(9001) (sign_no missing: sign in with 9001)")
        return
    with uow:
        _valid_sign_in(uow, caller, sign_no)
