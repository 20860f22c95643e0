"""The FastAPI application: wiring, authentication, and the ONE error mapping.

``create_app(url=..., packs_dir=...)`` builds the app; ``yibao serve`` runs it under
uvicorn. Every ``YibaoError`` becomes RFC 9457 problem+json in one handler (STYLE §6),
and so does a request that fails validation (each problem names its field). Routes are
thin (routes.py, queries.py, deferred.py, nhsa.py): parse, call one service function,
render.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import orjson
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.core.errors import InvalidRequest, StoreNotReady, Unauthorized, YibaoError
from yibao.services.access import Principal, digest, verify_key
from yibao.services.context import Context
from yibao.services.requests import Reply, replay_or_run
from yibao.store.uow import UnitOfWork

__all__ = ["JSON", "Answer", "Caller", "Ctx", "IdemKey", "Mut", "Mutation", "Uow", "create_app",
           "dumps", "problem_response", "send"]  # fmt: skip

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


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(YibaoError)
    async def _yibao(_: Request, exc: YibaoError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.one_line())
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
        log.error("database: %s", str(exc.orig or exc).splitlines()[0])
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


# -- dependencies ------------------------------------------------------------------------


def _state(request: Request) -> Any:
    return request.app.state


async def get_uow(request: Request) -> UnitOfWork:
    """A fresh unit of work on the app's engine (one per request)."""
    return UnitOfWork(_state(request).engine)


async def get_ctx(request: Request) -> Context:
    ctx: Context = _state(request).ctx
    return ctx


async def get_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
    x_api_key: Annotated[str | None, Header(description="or the key alone")] = None,
) -> Principal:
    """The caller of an API key (``Authorization: Bearer …`` or ``X-API-Key``); verified
    keys are trusted for ``YIBAO_KEY_CACHE_S`` seconds in this process. Async: FastAPI
    would run a plain function in its thread pool, a hop per dependency per request."""
    key = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise Unauthorized("send an API key: Authorization: Bearer <key>")
    state = _state(request)
    cache: dict[str, tuple[Principal, float]] = state.keys
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    caller = await run_in_threadpool(verify_key, UnitOfWork(state.engine), key)
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = (caller, now + state.key_cache_s)
    return caller


Uow = Annotated[UnitOfWork, Depends(get_uow)]
Ctx = Annotated[Context, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(get_caller)]
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="Repeat-safe request id: same key + same body = the same answer",
    ),
]


JSON = "application/json"


def send(status: int, doc: Any) -> Response:
    """``doc`` as compact JSON with ``status``."""
    return Response(dumps(doc), status, media_type=JSON)


class Answer(NamedTuple):
    """A use case's answer whose status is not the route's usual one (202: deferred)."""

    status: int
    doc: Any


@dataclass(frozen=True, slots=True)
class Mutation:
    """A request that changes something, with its ``Idempotency-Key``:
    ``mut(asked, status, run)`` calls ``run(msgid)`` — one use case — once per (caller,
    key) and answers; the first answer is stored with the change, in its transaction, and
    the same key and body get it back byte for byte (``Idempotent-Replayed: true``), the
    same key with another body is 409. ``run`` may return an ``Answer`` whose status
    replaces ``status``."""

    request: Request
    uow: UnitOfWork
    ctx: Context
    caller: Principal
    key: str | None

    def __call__(self, asked: Any, status: int, run: Callable[[str | None], Any]) -> Response:
        def answer(out: Any) -> tuple[int, Any]:
            return (out.status, out.doc) if isinstance(out, Answer) else (status, out)

        if self.key is None:
            return send(*answer(run(None)))
        key = self.key
        op = f"{self.request.method} {self.request.url.path}"

        def first() -> Reply:
            code, doc = answer(run(key))
            return Reply(code, JSON, dumps(doc))

        reply = replay_or_run(self.uow, self.caller, key=key, channel="rest", operation=op,
                              fingerprint=digest([op, asked]), now=self.ctx.now(),
                              run=first)  # fmt: skip
        headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
        return Response(reply.body, reply.status, media_type=reply.content_type, headers=headers)


async def get_mutation(
    request: Request, uow: Uow, ctx: Ctx, caller: Caller, key: IdemKey = None
) -> Mutation:
    return Mutation(request, uow, ctx, caller, key)


Mut = Annotated[Mutation, Depends(get_mutation)]


def create_app(
    url: str | None = None,
    *,
    packs_dir: Path | None = None,
    ctx: Context | None = None,
    key_cache_s: float | None = None,
    check: bool = True,
) -> FastAPI:
    """The API on the database ``url`` (default ``YIBAO_DATABASE_URL``); the database
    must be migrated (``StoreNotReady`` otherwise, when ``check``)."""
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
    _install_errors(app)

    from yibao.adapters.api import deferred, nhsa, queries, routes

    app.include_router(queries.router)
    app.include_router(routes.router)
    app.include_router(deferred.router)
    app.include_router(nhsa.router)

    @app.get("/healthz", tags=["meta"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def dumps(doc: Any) -> str:
    """Compact JSON (UTF-8 text, dates and times as ISO 8601), by orjson."""
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


Runner = Callable[[str | None], tuple[int, Any]]
