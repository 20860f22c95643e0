"""The long fuzz run of issue 15 (``make bench``): at least ``--requests`` requests (10,000
by default) against the app in process (ASGI, no socket), on a fresh SQLite file or, with
``--pg`` (``YIBAO_TEST_PG``), a fresh PostgreSQL schema. Schemathesis generates valid and
invalid requests for every operation of the app's OpenAPI document (aimed at real stays
and sent with real keys, as tests/fuzz does), and hypothesis mutates real national
envelopes for ``POST /nhsa`` (tests/fuzz/envelopes.py).

Counted: 5xx answers; rows stored by a refused request (a 4xx, or ``infcode -1`` on the
envelope: the service tables' row counts before and after it, the audit log aside —
refusals are audited by design); answers the OpenAPI document does not allow; log lines
with an unmasked ID number. Each distinct failure is printed once with one request that
shows it. Exit status 1 when a 5xx, a stored row or a leaked ID was seen, or fewer requests
were sent than asked (the time ran out).

    python bench/fuzz.py --requests 10000 [--pg] [--seconds 900] [--seed 15]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.fuzz.envelopes import envelope_bodies  # noqa: E402
from tests.fuzz.world import (  # noqa: E402
    aim,
    build_world,
    counts_but_audit,
    dispose,
    leaks,
    logged_text,
    pick,
    problem_shape,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SENDERS = ("hospital", "hospital", "hospital", "hospital", "other", "clerk", "admin", None)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Tally:
    """What the run saw, with one example request per distinct failure."""

    def __init__(self) -> None:
        self.sent = Counter[str]()
        self.status = Counter[int]()
        self.server_errors = 0
        self.stored_rows = 0
        self.stored_requests = 0
        self.schema_violations = 0
        self.leaks = 0
        self.failures: dict[tuple[str, str], tuple[int, str]] = {}

    def fail(self, where: str, what: str, example: str) -> None:
        n, ex = self.failures.get((where, what), (0, example))
        self.failures[(where, what)] = (n + 1, ex)


def _cause(records: list[logging.LogRecord]) -> str:
    """The last line of the newest traceback logged: the exception, its message cut."""
    for r in reversed(records):
        if r.levelno >= logging.ERROR:
            text = logged_text(r).strip().splitlines()
            line = text[-1] if text else r.getMessage()
            return re.sub(r"reference [0-9a-f]+", "reference …", line)[:240]
    return "(nothing logged)"


def _stored(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before.get(k)}


def run(url: str, requests: int, seconds: float, seed_: int) -> Tally:
    capture = Capture()
    for name, level in (
        ("yibao", logging.DEBUG),
        ("uvicorn", logging.INFO),
        ("sqlalchemy", logging.WARNING),
    ):
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).addHandler(capture)
    world = build_world(url, asgi.get_client)
    client = asgi.get_client(world.app)
    tally = Tally()
    deadline = time.monotonic() + seconds
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    operations = [op.ok() for op in schema.get_all_operations()]

    def send_rest(case: Any, where: str) -> None:
        aim(case, world)
        before = counts_but_audit(world.uow)
        seen = len(capture.records)
        r = case.call(base_url=f"http://{asgi.HOST}", session=client)
        new = capture.records[seen:]
        tally.sent[where] += 1
        tally.status[r.status_code] += 1
        example = (
            f"{case.method} {r.request.url} body={str(r.request.body)[:300]!r} -> "
            f"{r.status_code} {r.content[:300]!r}"
        )
        if r.status_code >= 500:
            tally.server_errors += 1
            tally.fail(where, f"{r.status_code}: {_cause(new)}", example)
        else:
            try:
                case.validate_response(r, checks=CHECKS)
            except FailureGroup as group:
                tally.schema_violations += 1
                for f in group.exceptions:
                    tally.fail(where, f"schema: {f.title}: {str(f.message)[:160]}", example)
            except AssertionError as exc:
                tally.schema_violations += 1
                tally.fail(where, f"schema: {str(exc)[:200]}", example)
            shape = problem_shape(r)
            if shape:
                tally.schema_violations += 1
                tally.fail(where, f"problem: {shape}", example)
            if 400 <= r.status_code < 500:
                nothing_stored(where, before, f"stored on {r.status_code}", example)
        no_leaks(where, new)

    def nothing_stored(where: str, before: Any, what: str, example: str) -> None:
        """A refused request stored nothing (audit entries aside)."""
        diff = _stored(before, counts_but_audit(world.uow))
        if diff:
            tally.stored_rows += sum(diff.values())
            tally.stored_requests += 1
            tally.fail(where, f"{what}: {sorted(diff)}", example)

    def no_leaks(where: str, new: Any) -> None:
        """The request's log records hold no ID number."""
        found = leaks(new)
        if found:
            tally.leaks += len(found)
            tally.fail(where, "ID number in the log", found[0][:400])

    def send_envelope(body: str) -> None:
        sender = SENDERS[pick(body, len(SENDERS))]
        headers = {"content-type": "application/json"}
        if sender is not None:
            headers.update(world.h(sender))
        before = counts_but_audit(world.uow)
        seen = len(capture.records)
        r = client.post("/nhsa", data=body.encode("utf-8", "surrogatepass"), headers=headers)
        new = capture.records[seen:]
        tally.sent["POST /nhsa (envelope)"] += 1
        tally.status[r.status_code] += 1
        example = f"POST /nhsa as {sender}: {body[:400]!r} -> {r.status_code} {r.content[:300]!r}"
        where = "POST /nhsa (envelope)"
        if r.status_code >= 500:
            tally.server_errors += 1
            tally.fail(where, f"{r.status_code}: {_cause(new)}", example)
        else:
            try:
                refused = r.status_code >= 400 or json.loads(r.content).get("infcode") != 0
            except (ValueError, AttributeError):
                refused = True
                tally.schema_violations += 1
                tally.fail(where, "answer is not a JSON envelope", example)
            if refused:
                nothing_stored(where, before, "stored on a refusal", example)
        no_leaks(where, new)

    mode_n = {GenerationMode.POSITIVE: 0, GenerationMode.NEGATIVE: 1}

    def fire(op: Any, mode: GenerationMode, where: str, n: int) -> None:
        @settings(quiet, max_examples=per_round // 2)
        @seed(n)
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            if time.monotonic() < deadline:
                send_rest(case, where)

        with contextlib.suppress(Unsatisfiable):  # nothing to negate: no parameters, no body
            one()

    quiet = settings(
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    per_round = 40
    rnd = 0
    while sum(tally.sent.values()) < requests and time.monotonic() < deadline:
        for i, op in enumerate(operations):
            where = f"{op.method.upper()} {op.path}"
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fire(op, mode, where, seed_ * 1_000_003 + rnd * 1009 + i * 2 + mode_n[mode])

        @settings(quiet, max_examples=per_round * 6)
        @seed(seed_ * 7919 + rnd)
        @given(body=envelope_bodies(world))
        def envelope(body: str) -> None:
            if time.monotonic() < deadline:
                send_envelope(body)

        envelope()
        rnd += 1
        total = sum(tally.sent.values())
        print(
            f"  round {rnd}: {total} requests, {tally.server_errors} x 5xx, "
            f"{tally.stored_rows} stored rows",
            flush=True,
        )
    asgi.shutdown_lifespans()
    dispose(world)
    return tally


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=900.0, help="stop sending after this")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--pg", action="store_true", help="PostgreSQL (YIBAO_TEST_PG)")
    args = ap.parse_args()
    from yibao.store import migrate

    if args.pg:
        from common import schema_url

        base = os.environ.get("YIBAO_TEST_PG")
        if not base:
            print("--pg needs YIBAO_TEST_PG", file=sys.stderr)
            return 2
        url = schema_url(base, f"bench_fuzz_{os.getpid()}")
        where = "PostgreSQL"
    else:
        folder = tempfile.mkdtemp(prefix="yibao-fuzz-")
        url = f"sqlite:///{folder}/yibao.db"
        where = "SQLite"
    migrate.upgrade(url)
    t = time.perf_counter()
    tally = run(url, args.requests, args.seconds, args.seed)
    took = time.perf_counter() - t
    total = sum(tally.sent.values())
    for (op, what), (n, example) in sorted(tally.failures.items()):
        print(f"- {op}: {what} (x{n})\n    e.g. {example}")
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(tally.status.items()))
    print(f"status counts: {statuses}")
    print(
        f"fuzz ({where}): {total} requests in {took:.0f} s ({total / took:.0f}/s), "
        f"{tally.server_errors} x 5xx, {tally.stored_rows} rows stored by "
        f"{tally.stored_requests} refused requests, {tally.schema_violations} answers "
        f"outside the OpenAPI document, {tally.leaks} log lines with an ID number"
    )
    if args.pg:
        schema_url(base, f"bench_fuzz_{os.getpid()}")  # emptied again
    bad = tally.server_errors or tally.stored_rows or tally.leaks or total < args.requests
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
