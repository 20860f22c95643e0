"""Hypothesis over the national envelope (``POST /nhsa``) on SQLite and PostgreSQL (issue
15): real messages of every supported infno, mutated (hostile values anywhere, keys
dropped or added, infno swapped), and random bodies. The answer is always the response
envelope (HTTP 200, ``infcode`` 0 or -1 with an ``err_msg`` of at most 200 characters)
or a status the OpenAPI document gives for ``/nhsa`` as problem+json — never a 5xx; a
refused message (``infcode`` -1, 4xx) stores no row; no log line holds an unmasked ID
number."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz.envelopes import envelope_bodies
from tests.fuzz.world import World, counts_but_audit, leaks, logged_text, pick

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
# no explain phase: it re-runs a failing case many times to annotate lines
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

SENDERS = ("hospital", "hospital", "hospital", "hospital", "other", "clerk", "admin", None)


def _documented() -> set[int]:
    from yibao.adapters.api.app import create_app

    doc = create_app("sqlite://", check=False).openapi()
    return {int(code) for code in doc["paths"]["/nhsa"]["post"]["responses"]}


DOCUMENTED = _documented()


def check_answer(status: int, ctype: str, content: bytes) -> str | None:
    """What is wrong with an answer of ``POST /nhsa``, or None."""
    if status not in DOCUMENTED:
        return f"status {status} is not documented for POST /nhsa (only {sorted(DOCUMENTED)})"
    try:
        body = json.loads(content)
    except ValueError:
        return "the answer is not JSON"
    if status != 200:
        if (
            not ctype.startswith("application/problem+json")
            or not isinstance(body, dict)
            or (set(body) != {"type", "title", "status", "detail", "errors"})
        ):
            return f"a {status} that is not problem+json"
        return None
    if not isinstance(body, dict) or body.get("infcode") not in (0, -1):
        return "HTTP 200 without infcode 0 or -1"
    if not isinstance(body.get("inf_refmsgid"), str) or len(body["inf_refmsgid"]) != 30:
        return f"inf_refmsgid {body.get('inf_refmsgid')!r} is not 30 characters"
    if body["infcode"] == -1:
        msg = body.get("err_msg")
        if not isinstance(msg, str) or not 0 < len(msg) <= 200:
            return f"infcode -1 with err_msg {msg!r}"
    return None


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=PHASES,
)
@given(data=st.data())
def test_the_envelope_answers_every_message(
    data: st.DataObject, world: World, fuzz_log: pytest.LogCaptureFixture
) -> None:
    from schemathesis.python import asgi

    body = data.draw(envelope_bodies(world), label="body")
    sender = SENDERS[pick(body, len(SENDERS))]
    headers = {"content-type": "application/json"}
    if sender is not None:
        headers.update(world.h(sender))
    elif pick((body, 1), 2):
        headers["Authorization"] = "Bearer yb_nobody_x"
    before = counts_but_audit(world.uow)
    seen = len(fuzz_log.records)
    r = asgi.get_client(world.app).post(
        "/nhsa", data=body.encode("utf-8", "surrogatepass"), headers=headers
    )
    new = fuzz_log.records[seen:]
    asked = f"POST /nhsa as {sender}: {body[:1500]!r}\n-> {r.status_code} {r.content[:800]!r}"
    if r.status_code >= 500:
        trace = "\n".join(logged_text(x) for x in new if x.levelno >= logging.ERROR)
        pytest.fail(f"{asked}\n{trace[-3000:]}")
    wrong = check_answer(r.status_code, r.headers.get("content-type", ""), r.content)
    assert wrong is None, f"{wrong}\n{asked}"
    refused = r.status_code >= 400 or json.loads(r.content).get("infcode") == -1
    if refused:
        assert counts_but_audit(world.uow) == before, f"a refused message stored rows\n{asked}"
    leaked = leaks(new)
    assert not leaked, "unmasked ID numbers in the log:\n" + "\n".join(leaked)
