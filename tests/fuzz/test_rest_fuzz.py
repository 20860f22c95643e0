"""Schemathesis over the REST API's own OpenAPI document, on SQLite and PostgreSQL
(issue 15): every operation gets the schema's examples, its coverage cases (boundaries,
wrong types, missing and extra keys) and fuzzed requests, most of them sent with a real
key and aimed at real stays, settlements and insurees. Any 5xx fails; so does an answer
whose status, content type, headers or body the document does not allow, a problem
that is not RFC 9457 problem+json, a refused (4xx) request that stored a row, and a
log line holding an unmasked ID number."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import (
    World,
    aim,
    counts_but_audit,
    describe,
    leaks,
    logged_text,
    problem_shape,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
# no explain phase: it re-runs a failing case many times to annotate lines
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

# Bounded and reproducible (make test, 2 cores): a fixed seed, derandomized, and a few
# dozen fuzzed cases per operation and database besides the examples and coverage cases.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 15,
        "generation": {"max-examples": 25, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The app's OpenAPI document (the same on every database)."""
    from yibao.adapters.api.app import create_app

    return create_app("sqlite://", check=False).openapi()


# schemathesis's lazy loader (from_fixture) fails under pytest 9 (it sets a node's
# private _nodeid); the document is the app's own, loaded at collection instead, and
# each case is sent through an in-process ASGI client to the app of the database leg
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), phases=PHASES)
def test_no_5xx_and_every_answer_as_documented(
    case: Any, world: World, fuzz_log: pytest.LogCaptureFixture
) -> None:
    client = asgi.get_client(world.app)
    aim(case, world)
    before = counts_but_audit(world.uow)
    seen = len(fuzz_log.records)
    response = case.call(base_url=f"http://{asgi.HOST}", session=client)
    new = fuzz_log.records[seen:]
    if response.status_code >= 500:
        trace = "\n".join(logged_text(r) for r in new if r.levelno >= logging.ERROR)
        pytest.fail(f"{describe(case, response)}\n{trace[-3000:]}")
    case.validate_response(response, checks=CHECKS)
    shape = problem_shape(response)
    assert shape is None, f"{shape}\n{describe(case, response)}"
    if 400 <= response.status_code < 500:
        after = counts_but_audit(world.uow)
        assert after == before, f"a refused request stored rows\n{describe(case, response)}"
    leaked = leaks(new)
    assert not leaked, "unmasked ID numbers in the log:\n" + "\n".join(leaked)
