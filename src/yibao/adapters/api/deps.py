"""What every route takes: the unit of work, the context, the caller (an API key read on
every request), the ``Idempotency-Key`` mutation runner, and the JSON answer. The
routers (routes.py, queries.py, deferred.py, nhsa.py) import these; app.py wires them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import orjson
from fastapi import Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool

from yibao.services.access.rights import KeyRefused, Principal, authenticate, digest
from yibao.services.encounters.context import Context
from yibao.services.encounters.requests import Reply, replay_or_run
from yibao.store.uow import UnitOfWork

__all__ = ["JSON", "Answer", "Caller", "Ctx", "IdemKey", "Mut", "Mutation", "Runner", "Uow",
           "dumps", "send"]  # fmt: skip

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
    """The caller of an API key (``Authorization: Bearer …`` or ``X-API-Key``). The key's
    row is read on every request (``access.authenticate``: one indexed read, in a
    thread), so a revoked key is refused from the next request on, by every worker; a
    key verified before (``YIBAO_KEY_CACHE_S``) skips only the hash comparison. Async:
    FastAPI would run a plain function in its thread pool, a hop per dependency."""
    key = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise KeyRefused("send an API key: Authorization: Bearer <key>", reason="no key")
    state = _state(request)
    cache: dict[str, tuple[Principal, float]] = state.keys
    hit = cache.get(key)
    now = time.monotonic()
    known = hit[0] if hit is not None and hit[1] > now else None
    try:
        caller = await run_in_threadpool(authenticate, UnitOfWork(state.engine), key, known)
    except KeyRefused:
        cache.pop(key, None)
        raise
    if caller is not known:
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (caller, now + state.key_cache_s)
    request.state.caller = caller
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


def dumps(doc: Any) -> str:
    """Compact JSON (UTF-8 text, dates and times as ISO 8601), by orjson."""
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


Runner = Callable[[str | None], tuple[int, Any]]
