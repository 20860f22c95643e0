"""The FastAPI application: wiring, authentication, and the ONE error mapping.

``create_app(url=..., packs_dir=...)`` builds the app; ``yibao serve`` runs it under
uvicorn. Every ``YibaoError`` becomes RFC 9457 problem+json in one handler (STYLE §6),
and so does a request that fails validation (each problem names its field). Routes are
thin (routes.py, queries.py, deferred.py, nhsa.py): parse, call one service function,
render.

Access (docs/API.md, "Authentication", "Audit"): the key's row is read on every request
(a revoked key is refused at once by every worker); a 401, 403 or 404 on a route is
written to the audit log (within a budget per worker), and so is every 200 answer to a
GET that shows an insuree's data (``PERSONAL``), before the answer leaves. Any other
exception is a 500 problem+json that names a reference and nothing else; its log line
holds the exception's type and frames, never its text (which can hold SQL with ID
numbers), and every log record is masked besides (``logs.install``).
"""

from __future__ import annotations

import gc
import logging
import secrets
import traceback
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.adapters.api import logs
from yibao.core.errors import InvalidRequest, StoreNotReady, YibaoError
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import (
    KeyRefused,
    Principal,
    RefusalBudget,
    audit_read,
    audit_refusal,
)
from yibao.services.encounters.context import Context
from yibao.store.uow import UnitOfWork

__all__ = ["PERSONAL", "create_app", "problem_response"]

log = logging.getLogger("yibao.api")
PROBLEM = "application/problem+json"


def problem_response(exc: YibaoError) -> JSONResponse:
    """RFC 9457 problem details for any error of the tree."""
    body = {
        "type": f"/problems/{exc.code}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.one_line(),
        "errors": [{"field": path, "message": msg} for path, msg in exc.problems],
    }
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(body, exc.status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "(body)"


def _validation(exc: RequestValidationError) -> InvalidRequest:
    problems = []
    for e in exc.errors():
        msg = "unknown key" if e["type"] == "extra_forbidden" else str(e["msg"])
        problems.append((_field(tuple(e["loc"])), msg))
    return InvalidRequest.of(problems or [("(body)", "invalid request")])


# -- the audit of refusals and of reads of personal data -------------------------------------

AUDITED = frozenset({401, 403, 404})
"""Refusals written to the audit log: on a route (a path that matches none is a 404 of
the router, not a refusal of a resource, and is not audited)."""

PERSONAL = frozenset({
    "/v1/insurees/{psn_no}",
    "/v1/insurees/{psn_no}/cumulative",
    "/v1/encounters",
    "/v1/encounters/{encounter_id}",
    "/v1/encounters/{encounter_id}/fees",
    "/v1/encounters/{encounter_id}/deferral",
    "/v1/settlements/{settlement_id}",
    "/v1/claims", "/v1/claims/overdue", "/v1/claims/{claim_id}",  # 手工报销 (issue 19)
    "/v1/claims/{claim_id}/settlement", "/v1/claims/{claim_id}/statement",
    "/v1/claim-batches/{batch_id}/bank-file",
    "/v1/filings", "/v1/filings/{filing_id}",  # 异地就医备案 (issue 18)
})  # fmt: skip
"""The GET routes whose answer shows an insuree's data: each 200 is audited
(``personal.read``) before it is sent. The national envelope's 1101/5203/5303 are
audited in nhsa.py through the same service call (``access.audit_read``)."""

_ENTITY = {"encounter_id": "encounter", "settlement_id": "settlement", "psn_no": "insuree",
           "filing_id": "filing", "claim_id": "claim",
           "batch_id": "claim_payment_batch"}  # fmt: skip


def _resource(scope: Scope) -> tuple[str, str, str]:
    """(route template, entity, entity id) of a routed request: the first path parameter
    that names a record (an ID number masked), else the route itself."""
    template = str(getattr(scope.get("route"), "path", ""))
    params: Mapping[str, Any] = scope.get("path_params") or {}
    for name, value in params.items():
        if name in _ENTITY:
            shown = mask_psn_no(str(value)) if name == "psn_no" else str(value)
            return template, _ENTITY[name], shown
    return template, "route", template


def _caller_of(scope: Scope) -> Principal | None:
    caller = (scope.get("state") or {}).get("caller")
    return caller if isinstance(caller, Principal) else None


async def _audit_refusal(request: Request, exc: YibaoError) -> None:
    """One audit entry for a refused request, within the worker's budget; a failure to
    write it is logged and the refusal answered all the same (nothing was shown)."""
    state = request.app.state
    if "route" not in request.scope:
        return
    left_out = state.refusals.take()  # on the event loop: over budget costs no thread hop
    if left_out is None:
        return
    template, entity, entity_id = _resource(request.scope)
    refused = exc if isinstance(exc, KeyRefused) else None
    try:
        await run_in_threadpool(
            audit_refusal, UnitOfWork(state.engine), _caller_of(request.scope),
            status=exc.status, reason=refused.reason if refused else exc.one_line(),
            method=request.method, route=template, entity=entity, entity_id=entity_id,
            at=state.ctx.now(), key_id=refused.key_id if refused else None,
            suppressed=left_out,
        )  # fmt: skip
    except Exception as failed:  # the refusal stands; the log says the entry is missing
        log.warning("refusal %s on %s not audited: %s", exc.status, template,
                    _summary(failed))  # fmt: skip


async def _audit_read(scope: Scope) -> bool:
    """The ``personal.read`` entry of a 200 GET on a ``PERSONAL`` route; ``False`` when it
    could not be written (the answer is then withheld)."""
    state = scope["app"].state
    caller = _caller_of(scope)
    if caller is None:  # every PERSONAL route needs a key: it cannot happen
        return False
    template, entity, entity_id = _resource(scope)
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        await run_in_threadpool(
            audit_read, UnitOfWork(state.engine), caller, method=scope["method"],
            route=template, entity=entity, entity_id=entity_id, at=state.ctx.now(),
            query=query,
        )  # fmt: skip
    except Exception as failed:
        log.error("read of %s not audited, answer withheld: %s", template, _summary(failed))
        return False
    return True


def _summary(exc: BaseException) -> str:
    """An exception as a log line may show it: its type, for a database error the
    SQLSTATE and the schema objects named, the frames — never its text, which can hold
    the SQL, its values, or what the caller sent."""
    parts = [type(exc).__qualname__]
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    if orig is not None:
        parts.append(f"({type(orig).__module__}.{type(orig).__qualname__})")
        diag = getattr(orig, "diag", None)
        for name in ("sqlstate", "table_name", "column_name", "constraint_name"):
            value = getattr(orig, name, None) or getattr(diag, name, None)
            if value:
                parts.append(f"{name}={value}")
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/yibao/" in f.filename][-5:]  # where in our code
    shown = ours + frames[-1:] if frames and (not ours or frames[-1] is not ours[-1]) else ours
    where = " < ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})"
                       for f in reversed(shown))  # fmt: skip
    return " ".join(parts) + (f" at {where}" if where else "")


def _internal(ref: str) -> JSONResponse:
    err = YibaoError(f"the server failed on this request; it is logged under reference {ref}")
    err.code, err.status, err.title = "internal", 500, "Internal error"
    return problem_response(err)


_UNAUDITED = StoreNotReady(
    "the read could not be recorded in the audit log; nothing was shown, retry the request"
)


class Guard:
    """The outermost of our layers. A 200 answer to a GET on a ``PERSONAL`` route is
    audited before its first byte leaves (503 instead when the entry cannot be
    written). An exception nothing handled becomes 500 problem+json with a reference;
    the log line under that reference has the route and ``_summary`` — no request data,
    no exception text — and the exception goes no further (uvicorn would log its text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = withheld = False

        async def watch(message: Message) -> None:
            nonlocal started, withheld
            if withheld:
                return
            if message["type"] == "http.response.start":
                if (message["status"] == 200 and scope["method"] == "GET"
                        and getattr(scope.get("route"), "path", None) in PERSONAL
                        and not await _audit_read(scope)):  # fmt: skip
                    withheld = True
                    await problem_response(_UNAUDITED)(scope, receive, send)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            ref = secrets.token_hex(6)
            template = getattr(scope.get("route"), "path", None) or "(no route)"
            log.error("500 %s %s reference %s: %s", scope.get("method"), template, ref,
                      _summary(exc))  # fmt: skip
            if not (started or withheld):
                await _internal(ref)(scope, receive, send)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(YibaoError)
    async def _yibao(request: Request, exc: YibaoError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.one_line())
        elif exc.status in AUDITED:
            await _audit_refusal(request, exc)
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(_validation(exc))

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # Connection lost or refused (PostgreSQL restarted, network), or an operational
        # failure such as a deadlock: nothing of the request was committed, so the
        # hospital may retry it as it is (DECISIONS 0050).
        if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
            raise exc
        log.error("database: %s", _summary(exc))
        resp = problem_response(StoreNotReady("the database could not complete the request "
                                              "(connection lost or unavailable); nothing "
                                              "was recorded, retry the request"))  # fmt: skip
        resp.headers["Retry-After"] = "1"
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        err = YibaoError(str(exc.detail))
        err.code, err.status, err.title = "http", exc.status_code, "HTTP error"
        return problem_response(err)


def create_app(
    url: str | None = None,
    *,
    packs_dir: Path | None = None,
    ctx: Context | None = None,
    key_cache_s: float | None = None,
    refusals: RefusalBudget | None = None,
    check: bool = True,
) -> FastAPI:
    """The API on the database ``url`` (default ``YIBAO_DATABASE_URL``); the database
    must be migrated (``StoreNotReady`` otherwise, when ``check``). ``refusals``: how
    many refused requests this worker writes to the audit log (default 50 at once, then
    10 a second)."""
    from yibao import bootstrap

    s = bootstrap.settings()
    url = url or s.database_url
    if check:
        from yibao.store.migrate import check_current

        check_current(url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # what start-up built (modules, packs, routes) lives as long as the worker: kept
        # out of the collector's full passes, which otherwise walk it all again and
        # stall the requests in flight (DECISIONS 0055)
        gc.collect()
        gc.freeze()
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="yibao hospital settlement API",
        version="1",
        summary="医保结算: admission, fee lines, settlement, reversal, 冲正 and statements "
        "for designated hospitals; the national envelope at POST /nhsa.",
        description="Amounts are integer fen, ratios basis points, unit prices millionths of "
        "a yuan (price_e6), quantities ten-thousandths (qty_e4). Errors are RFC 9457 "
        "problem+json. docs/API.md has roles, idempotency and examples.",
        lifespan=lifespan,
    )
    app.state.engine = bootstrap.engine_for(
        url, pool_size=s.pool_size, overflow=s.pool_overflow, pre_ping=s.pool_pre_ping
    )
    app.state.ctx = ctx or bootstrap.hospital_context(
        s if packs_dir is None else s.model_copy(update={"packs_dir": packs_dir})
    )
    app.state.keys = {}
    app.state.key_cache_s = s.key_cache_s if key_cache_s is None else key_cache_s
    app.state.refusals = refusals or RefusalBudget()
    logs.install()
    _install_errors(app)
    app.add_middleware(Guard)

    from yibao.adapters.api import claims, deferred, funds, nhsa, queries, routes

    app.include_router(queries.router)
    app.include_router(routes.router)
    app.include_router(deferred.router)
    app.include_router(nhsa.router)
    app.include_router(claims.router)  # 手工报销 (issue 19)
    from yibao.adapters.api import drugs  # drug monitoring (issue 21)

    app.include_router(drugs.router)
    app.include_router(funds.router)  # fund management (issue 20)
    from yibao.adapters.api import filings  # out-of-area care (issue 18)

    app.include_router(filings.router)
    from yibao.adapters.api import supervision  # fund supervision (issue 22)

    supervision.mount(app)
    from yibao.adapters.web import mount_console  # the bureau's console at /console/

    mount_console(app, secret=s.console_secret, secret_file=s.console_secret_file)

    @app.get("/healthz", tags=["meta"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
