"""用户与密钥 (admins): the console's users (create, disable, reset a password) and the
API keys (create — shown once —, revoke)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    errors_of,
    page,
    redirect,
)
from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.services.access.rights import ROLES, create_key, list_keys, require, revoke_key
from yibao.services.access.users import (
    ROLE_NAMES,
    create_user,
    disable_user,
    list_users,
    reset_password,
)

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


async def _admin_page(visit: Visit, status: int = 200, **extra: Any) -> Response:
    caller = visit.caller
    require(caller, "users.manage")
    users = await run_in_threadpool(list_users, visit.uow, caller)
    keys = await run_in_threadpool(list_keys, visit.uow)
    ctx = {
        "nav": "admin",
        "users": users,
        "keys": keys,
        "roles": ROLE_NAMES,
        "key_roles": ROLES,
        "now": visit.now(),
        "errors": {},
        "asked": {},
        **extra,
    }
    return page(visit, "admin.html", ctx, status=status)


@router.get("/admin")
async def admin(visit: Signed) -> Response:
    return await _admin_page(visit)


@router.post("/admin/users")
async def add_user(visit: Signed, form: Form) -> Response:
    require(visit.caller, "users.manage")
    asked = {k: str(form.get(k) or "") for k in ("login", "role", "township", "name")}
    try:
        await run_in_threadpool(
            lambda: create_user(
                visit.uow,
                visit.caller,
                login=asked["login"],
                role=asked["role"],
                password=str(form.get("password") or ""),
                township_code=asked["township"].strip() or None,
                display_name=asked["name"],
                now=visit.now(),
            )
        )
    except InvalidRequest as exc:
        return await _admin_page(visit, 422, errors=errors_of(exc), asked=asked)
    except Conflict as exc:
        return await _admin_page(visit, 409, errors={"login": exc.one_line()}, asked=asked)
    return await _admin_page(visit, notice=f"已创建用户 {asked['login']}")


@router.post("/admin/users/{login}/disable")
async def disable(visit: Signed, _csrf: Form, login: str) -> Response:
    try:
        await run_in_threadpool(
            lambda: disable_user(visit.uow, visit.caller, login, now=visit.now())
        )
    except Conflict as exc:
        return await _admin_page(visit, 409, errors={"_users": exc.one_line()})
    return redirect(visit, f"{PREFIX}/admin")


@router.post("/admin/users/{login}/reset")
async def reset(visit: Signed, form: Form, login: str) -> Response:
    try:
        await run_in_threadpool(
            lambda: reset_password(
                visit.uow, visit.caller, login, str(form.get("password") or ""), now=visit.now()
            )
        )
    except InvalidRequest as exc:
        msg = errors_of(exc).get("password", exc.one_line())
        return await _admin_page(visit, 422, errors={f"reset_{login}": msg})
    return await _admin_page(visit, notice=f"已重置 {login} 的密码")


@router.post("/admin/keys")
async def add_key(visit: Signed, form: Form) -> Response:
    require(visit.caller, "keys.manage")
    asked = {k: str(form.get(k) or "").strip() for k in ("role", "provider", "label")}
    try:
        made = await run_in_threadpool(
            lambda: create_key(
                visit.uow,
                role=asked["role"],
                provider_code=asked["provider"] or None,
                label=asked["label"] or asked["role"],
                by=visit.caller.actor,
                now=visit.now(),
            )
        )
    except InvalidRequest as exc:
        errs = {f"key_{k}": v for k, v in errors_of(exc).items()}
        return await _admin_page(visit, 422, errors=errs, asked=asked)
    except NotFound as exc:
        return await _admin_page(visit, 422, errors={"key_provider": exc.one_line()}, asked=asked)
    return await _admin_page(visit, new_key=made)


@router.post("/admin/keys/{key_id}/revoke")
async def revoke(visit: Signed, _csrf: Form, key_id: str) -> Response:
    require(visit.caller, "keys.manage")
    await run_in_threadpool(
        lambda: revoke_key(visit.uow, key_id, by=visit.caller.actor, now=visit.now())
    )
    return redirect(visit, f"{PREFIX}/admin")
