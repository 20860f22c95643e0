"""What the fuzz tests (tests/fuzz) and the long run (bench/fuzz.py) share: the app on a
migrated database with the example registries, one key per role and a few stays to aim
at; the ASGI wrapper that logs an unhandled exception as uvicorn does; the scan of log
text for unmasked ID numbers; and the table counts that tell whether a refused request
stored anything."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tests.registry_data import CENTRE, CHANGED, DIBAO, EMPLOYEE, EXAMPLES, load_examples
from yibao.core.registry.identity import psn_no_problem
from yibao.services.access.rights import create_key
from yibao.services.encounters.context import CST, Context
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

__all__ = [
    "KNOWN_IDS",
    "NOW",
    "OTHER",
    "ROLES",
    "SENDERS",
    "World",
    "aim",
    "build_world",
    "content_type",
    "counts_but_audit",
    "describe",
    "id_numbers_in",
    "logged_text",
    "pick",
    "problem_shape",
    "uvicorn_like",
]

NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
OTHER = "H50010200002"
ROLES = ("hospital", "other", "clerk", "finance", "auditor", "admin")
ADMIT_TIME = "2020-02-03T09:00:00+08:00"
LINES = [
    {"sn": "1", "code": "YP-0002", "price_e6": 50_000_000, "qty_e4": 20_000},
    {"sn": "2", "code": "ZL-0001", "price_e6": 1_500_000_000, "qty_e4": 30_000},
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def _registry_ids() -> tuple[str, ...]:
    with (EXAMPLES / "insurees.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in (rows[0] if rows else {}) if c in ("psn_no", "insuree_id", "certno")]
    return tuple(sorted({r[c] for r in rows for c in cols if r[c]}))


def _demo_ids() -> tuple[str, ...]:
    """Every 18-character ID number written in the shipped examples (the registry, the
    four example cases); the demo district's are generated, and the check-digit scan
    (``id_numbers_in``) finds them."""
    folder = EXAMPLES.parent
    found: set[str] = set()
    for path in [*folder.glob("*.json"), *folder.glob("*.yaml"), *folder.glob("registry/*")]:
        found.update(_ID.findall(path.read_text(encoding="utf-8")))
    return tuple(sorted(found))


_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")


def _is_id_number(s: str) -> bool:
    """GB 11643: a birth date that exists and the check character (a lower-case x too)."""
    return psn_no_problem(s.upper()) is None


def id_numbers_in(text: str) -> list[str]:
    """The unmasked ID numbers (18 characters, valid check digit) in ``text``."""
    return [m for m in _ID.findall(text) if _is_id_number(m)]


KNOWN_IDS = tuple(sorted({*_registry_ids(), *_demo_ids()}))


def logged_text(record: logging.LogRecord) -> str:
    """A log record as a handler would write it: message, traceback, stack."""
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        text += "\n" + record.exc_text
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


def leaks(records: list[logging.LogRecord]) -> list[str]:
    """Log lines holding an unmasked ID number: one of the test data's, or any other."""
    out = []
    for r in records:
        text = logged_text(r)
        hits = [k for k in KNOWN_IDS if k in text] + id_numbers_in(text)
        if hits:
            out.append(f"{r.name} {r.levelname}: {sorted(set(hits))}: {text[:600]}")
    return out


def uvicorn_like(app: Asgi) -> Asgi:
    """``app`` as uvicorn runs it: an exception that escapes it (Starlette has sent the 500
    by then) is logged on ``uvicorn.error`` with its traceback, not raised to the client."""
    log = logging.getLogger("uvicorn.error")

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await app(scope, receive, watch)
        except Exception:
            log.exception("Exception in ASGI application\n")
            if not started and scope["type"] == "http":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Internal Server Error"})

    return wrapped


def counts_but_audit(uow: UnitOfWork) -> dict[str, int]:
    """Rows per service table but the audit log (a refused request is audited, by design:
    who, what, why)."""
    with uow:
        return {k: v for k, v in uow.hospital.counts().items() if k != "audit_log"}


def pick(seed: Any, n: int) -> int:
    """A stable choice in ``range(n)`` from any value (crc32 of its repr): the same case
    makes the same choice on every run."""
    return zlib.crc32(repr(seed).encode("utf-8", "surrogatepass")) % n


# who sends the request: the stay's hospital most often, another hospital, each other
# role, and (the last slot) whatever headers schemathesis generated
SENDERS = ("hospital", "hospital", "hospital", "hospital", *ROLES[1:], None)


def aim(case: Any, world: World) -> None:
    """Send ``case`` with a real key most of the time, and point half of its path
    parameters and body references at rows that exist (a stable choice per case)."""
    seed = (case.method, case.path, case.path_parameters, case.query, case.body)
    sender = SENDERS[pick(seed, len(SENDERS))]
    if sender is not None:
        case.headers = {
            k: v
            for k, v in (case.headers or {}).items()
            if k.lower() not in ("authorization", "x-api-key")
        }
        case.headers.update(world.h(sender))
    for name, value in list((case.path_parameters or {}).items()):
        known = world.ids.get(name) or []
        if known and pick((seed, name), 2):
            case.path_parameters[name] = known[pick((value, name), len(known))]
    if isinstance(case.body, dict):
        for name, ids in (("insuree_id", "psn_no"), ("encounter_id", "encounter_id")):
            if name in case.body and pick((seed, name), 2):
                known = world.ids[ids]
                case.body[name] = known[pick(case.body[name], len(known))]


def describe(case: Any, response: Any) -> str:
    return (
        f"{case.method} {response.request.url}\nheaders: {dict(response.request.headers)}\n"
        f"body: {response.request.body!r}\n-> {response.status_code} {response.content[:800]!r}"
    )


def content_type(response: Any) -> str:
    for name, values in response.headers.items():
        if name.lower() == "content-type":
            return str(values[0])
    return ""


def problem_shape(response: Any) -> str | None:
    """What is wrong with a problem+json answer, or None."""
    if not content_type(response).startswith("application/problem+json"):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return "problem+json body is not JSON"
    if not isinstance(body, dict) or set(body) != {"type", "title", "status", "detail", "errors"}:
        return f"problem+json keys {sorted(body) if isinstance(body, dict) else type(body)}"
    if body["status"] != response.status_code:
        return f"problem status {body['status']} on a {response.status_code} answer"
    bad = [
        e
        for e in body["errors"]
        if not (
            isinstance(e, dict)
            and set(e) == {"field", "message"}
            and all(isinstance(v, str) for v in e.values())
        )
    ]
    return f"problem errors not [{{field, message}}]: {bad}" if bad else None


@dataclass
class World:
    """The app under test and what it holds."""

    app: Asgi
    fastapi: Any
    uow: UnitOfWork
    keys: dict[str, str]
    engine: Any
    ids: dict[str, list[str]] = field(default_factory=dict)

    def h(self, role: str = "hospital") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def build_world(db_url: str, client_for: Callable[[Asgi], Any]) -> World:
    """The app on the migrated, empty database ``db_url``: the example registries, a key
    per role, and stays in every state (admitted with lines, settled, reversed and
    settled again, cancelled), a transfer filing. ``client_for(app)`` gives a
    requests-like client on the app (``schemathesis.python.asgi.get_client``)."""
    from yibao.adapters.api.app import create_app
    from yibao.packs import PACKS_DIR

    engine = make_engine(db_url)
    uow = UnitOfWork(engine)
    load_examples(uow)
    keys = {}
    for role in ROLES:
        made = create_key(
            uow,
            role="hospital" if role == "other" else role,
            provider_code={"hospital": CENTRE, "other": OTHER}.get(role),
            label=role,
            by="fuzz",
            now=NOW,
        )
        keys[role] = made.key
    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)
    fastapi = create_app(db_url, ctx=ctx)
    world = World(uvicorn_like(fastapi), fastapi, uow, keys, engine)
    c = client_for(world.app)
    h = world.h()

    def ok(r: Any, *codes: int) -> Any:
        assert r.status_code in codes, (r.request.method, r.request.url, r.status_code, r.text)
        return r.json()

    def admit(psn: str, when: str = ADMIT_TIME, role: str = "hospital") -> str:
        body = {
            "insuree_id": psn,
            "admit_time": when,
            "diagnoses": [{"code": "B99.900", "main": True}],
        }
        return str(ok(c.post("/v1/encounters", json=body, headers=world.h(role)), 201)["id"])

    settled = admit(EMPLOYEE)
    ok(c.post(f"/v1/encounters/{settled}/fees", json={"lines": LINES}, headers=h), 200)
    s1 = ok(
        c.post(
            f"/v1/encounters/{settled}/settlement", json={"discharge_date": "2020-02-12"}, headers=h
        ),
        201,
    )["settlement_id"]
    rev = ok(c.post(f"/v1/settlements/{s1}/reversal", headers=h), 201)["settlement_id"]
    s2 = ok(c.post(f"/v1/encounters/{settled}/settlement", json={}, headers=h), 201)
    open_ = admit(DIBAO)
    ok(c.post(f"/v1/encounters/{open_}/fees", json={"lines": LINES}, headers=h), 200)
    cancelled = admit(CHANGED, "2020-02-05T09:00:00+08:00")
    ok(c.post(f"/v1/encounters/{cancelled}/cancellation", headers=h), 200)
    sender = admit(EMPLOYEE, "2020-02-13T09:00:00+08:00")
    filing = ok(
        c.post(
            "/v1/transfers",
            json={"insuree_id": EMPLOYEE, "to_provider": OTHER, "transfer_date": "2020-02-14"},
            headers=h,
        ),
        201,
    )
    world.ids = {
        "encounter_id": [settled, open_, cancelled, sender],
        "settlement_id": [s1, rev, s2["settlement_id"]],
        "filing_id": [str(filing["filing_id"])],
        "psn_no": [EMPLOYEE, DIBAO, CHANGED, *KNOWN_IDS],
        "sn": ["1", "2"],
        "msgid": [],
    }
    return world


def dispose(world: World) -> None:
    from yibao import bootstrap

    bootstrap.dispose_engines()
    world.engine.dispose()
