"""What every console page shares: the router whose routes turn errors into pages, the
visit (session cookie, the signed-in user), CSRF on every POST, rendering, the audit of
refusals and of personal reads (as the API does, services/access/rights)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from yibao.adapters.web.formats import BEIJING, FILTERS
from yibao.adapters.web.session import COOKIE, MAX_AGE_S, Session, Sessions, console_secret
from yibao.core.errors import InvalidRequest, YibaoError
from yibao.services.access.rights import Principal, audit_read, audit_refusal
from yibao.services.access.users import UserView, current_user
from yibao.store.uow import UnitOfWork

__all__ = [
    "PREFIX",
    "ConsoleRoute",
    "Form",
    "Signed",
    "Visit",
    "VisitDep",
    "Web",
    "errors_of",
    "page",
    "parse_date",
    "personal_read",
    "redirect",
]

PREFIX = "/console"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Web:
    """The console's state on the app: templates, the session signer (built on first
    use: the demo's secret file is written only when the console is used)."""

    secret: str | None
    secret_file: Path
    templates: Jinja2Templates = field(init=False)
    jobs: dict[str, Any] = field(default_factory=dict)
    _sessions: Sessions | None = None

    def __post_init__(self) -> None:
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.filters.update(FILTERS)

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = Sessions(console_secret(self.secret, self.secret_file))
        return self._sessions


class SignInNeeded(Exception):
    """The page needs a signed-in user: go to the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


@dataclass
class Visit:
    """One request to the console: the session and, when signed in, the user."""

    request: Request
    session: Session
    user: UserView | None

    @property
    def web(self) -> Web:
        web: Web = self.request.app.state.console
        return web

    @property
    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.request.app.state.engine)

    @property
    def caller(self) -> Principal:
        if self.user is None:
            raise SignInNeeded
        return self.user.principal

    def now(self) -> dt.datetime:
        now: dt.datetime = self.request.app.state.ctx.now()
        return now


def _stamp(user: UserView) -> int:
    return int(user.password_set_at.timestamp())


async def get_visit(request: Request) -> Visit:
    web: Web = request.app.state.console
    session = web.sessions.read(request.cookies.get(COOKIE))
    user = None
    if session.login is not None:
        user = await run_in_threadpool(
            current_user, UnitOfWork(request.app.state.engine), session.login
        )
        if user is None or _stamp(user) != session.stamp:  # disabled, or password reset
            user = None
            session = Session(None, 0, session.csrf, dirty=True)
    visit = Visit(request, session, user)
    request.state.visit = visit
    return visit


async def get_signed(visit: Annotated[Visit, Depends(get_visit)]) -> Visit:
    if visit.user is None:
        raise SignInNeeded
    return visit


async def get_form(request: Request, visit: Annotated[Visit, Depends(get_visit)]) -> FormData:
    """The posted form, after its CSRF token is checked (``CsrfRefused`` otherwise)."""
    form = await request.form(max_files=2, max_fields=200)
    if not visit.session.csrf_ok(form.get("csrf")):
        raise CsrfRefused
    return form


VisitDep = Annotated[Visit, Depends(get_visit)]
Signed = Annotated[Visit, Depends(get_signed)]
Form = Annotated[FormData, Depends(get_form)]


def _with_cookie(visit: Visit | None, resp: Response) -> Response:
    if visit is not None and visit.session.dirty:
        resp.set_cookie(
            COOKIE,
            visit.web.sessions.dump(visit.session),
            max_age=MAX_AGE_S,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=visit.request.url.scheme == "https",
        )
    return resp


def page(
    visit: Visit, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> Response:
    """Render ``template`` with what every page has (the user, the CSRF token, today)."""
    ctx = {
        "me": visit.user,
        "csrf": visit.session.csrf,
        "errors": {},
        "prefix": PREFIX,
        "today": visit.now().astimezone(BEIJING).date(),
        **(context or {}),
    }
    resp = visit.web.templates.TemplateResponse(visit.request, template, ctx, status_code=status)
    return _with_cookie(visit, resp)


def redirect(visit: Visit | None, to: str) -> Response:
    """303 to ``to`` (after a POST: the browser GETs it)."""
    return _with_cookie(visit, RedirectResponse(to, status_code=303))


def errors_of(exc: InvalidRequest) -> dict[str, str]:
    """A service's problems by form field (the first segment of each path)."""
    out: dict[str, str] = {}
    for path, msg in exc.problems or [("", str(exc))]:
        name = path.split(".")[0] or "_form"
        out[name] = f"{out[name]}；{msg}" if name in out else msg
    return out


def parse_date(text: str | None, name: str, errors: dict[str, str]) -> dt.date | None:
    """A form's YYYY-MM-DD; an error beside ``name`` otherwise (empty: None)."""
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        errors[name] = "日期格式为 YYYY-MM-DD"
        return None


async def personal_read(visit: Visit, entity: str, entity_id: str, query: str = "") -> None:
    """Record that the user was shown an insuree's data unmasked (``personal.read``),
    before the page is sent; masked pages are not personal reads."""
    caller = visit.caller
    if not caller.sees_personal:
        return
    await run_in_threadpool(
        audit_read,
        visit.uow,
        caller,
        method=visit.request.method,
        route=visit.request.url.path,
        entity=entity,
        entity_id=entity_id,
        at=visit.now(),
        query=query,
    )


_TITLES = {401: "请先登录", 403: "无权操作", 404: "未找到", 409: "操作冲突", 422: "输入有误"}


async def _refused(request: Request, status: int, reason: str) -> None:
    visit: Visit | None = getattr(request.state, "visit", None)
    caller = visit.user.principal if visit is not None and visit.user is not None else None
    state = request.app.state
    await run_in_threadpool(
        audit_refusal,
        UnitOfWork(state.engine),
        caller,
        status=status,
        reason=reason,
        method=request.method,
        route=request.url.path,
        entity="console",
        entity_id=request.url.path,
        at=state.ctx.now(),
        budget=state.refusals,
    )


def _error_page(request: Request, status: int, message: str) -> Response:
    visit: Visit | None = getattr(request.state, "visit", None)
    web: Web = request.app.state.console
    ctx: dict[str, Any] = {
        "me": visit.user if visit else None,
        "csrf": visit.session.csrf if visit else "",
        "prefix": PREFIX,
        "status": status,
        "title": _TITLES.get(status, "出错了"),
        "message": message,
        "errors": {},
    }
    resp = web.templates.TemplateResponse(request, "error.html", ctx, status_code=status)
    return _with_cookie(visit, resp)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ConsoleRoute(APIRoute):
    """A console route: errors become pages, never problem+json. Not signed in: to the
    sign-in page. A POST without its CSRF token: 403 page. ``Forbidden``/``NotFound``:
    a page saying so plainly (refusals audited, like the API's)."""

    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except SignInNeeded:
                if request.headers.get("HX-Request"):
                    return Response(status_code=204, headers={"HX-Redirect": f"{PREFIX}/login"})
                return RedirectResponse(f"{PREFIX}/login", status_code=303)
            except CsrfRefused:
                await _refused(request, 403, "missing or wrong CSRF token")
                return _error_page(
                    request,
                    403,
                    "表单已失效或缺少安全令牌（CSRF），请求已拒绝。请刷新页面后重新提交。",
                )
            except YibaoError as exc:
                if exc.status in (401, 403, 404):
                    await _refused(request, exc.status, exc.one_line())
                return _error_page(request, exc.status if exc.status < 500 else 500, exc.one_line())

        return handler
