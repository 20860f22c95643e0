"""Sign-in, sign-out (``/console/login``, ``/console/logout``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    VisitDep,
    page,
    redirect,
)
from yibao.services.access.users import SignInRefused, sign_in, sign_out

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/")
async def home(visit: VisitDep) -> Response:
    return redirect(visit, f"{PREFIX}/today" if visit.user else f"{PREFIX}/login")


@router.get("/login")
async def login_page(visit: VisitDep) -> Response:
    if visit.user is not None:
        return redirect(visit, f"{PREFIX}/today")
    return page(visit, "login.html", {"login": ""})


@router.post("/login")
async def login(visit: VisitDep, form: Form) -> Response:
    login_ = str(form.get("login") or "")
    password = str(form.get("password") or "")
    errors = {}
    if not login_.strip():
        errors["login"] = "请输入登录名"
    if not password:
        errors["password"] = "请输入密码"
    if errors:
        return page(visit, "login.html", {"login": login_, "errors": errors}, status=422)
    try:
        user = await run_in_threadpool(sign_in, visit.uow, login_, password, now=visit.now())
    except SignInRefused as exc:
        errors = {"locked" if exc.locked_until else "password": str(exc)}
        return page(visit, "login.html", {"login": login_, "errors": errors}, status=401)
    visit.session = visit.web.sessions.signed_in(user.login, int(user.password_set_at.timestamp()))
    visit.user = user
    return redirect(visit, f"{PREFIX}/today")


@router.post("/logout")
async def logout(visit: Signed, _csrf: Form) -> Response:
    await run_in_threadpool(sign_out, visit.uow, visit.caller, now=visit.now())
    visit.session = visit.web.sessions.read(None)  # anonymous, a new token
    visit.user = None
    return redirect(visit, f"{PREFIX}/login?out=1")
