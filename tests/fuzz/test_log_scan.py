"""The fuzz tests' own instruments can fail: the log scan finds an unmasked ID number
(the test data's, or any with a valid check digit, in a message or a traceback) and
passes masked ones; the uvicorn-like wrapper logs an escaped exception with its
traceback and answers 500."""

from __future__ import annotations

import logging
import sys

import pytest
from schemathesis.python import asgi

from tests.fuzz.world import KNOWN_IDS, id_numbers_in, leaks, logged_text, uvicorn_like
from tests.registry_data import DIBAO, EMPLOYEE


def _record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("yibao.api", logging.ERROR, __file__, 1, msg, None, info)


def test_the_scan_finds_unmasked_ids_and_passes_masked_ones() -> None:
    assert EMPLOYEE in KNOWN_IDS
    assert DIBAO in KNOWN_IDS
    assert id_numbers_in(f"psn_no={EMPLOYEE}, x=12345678901234567890") == [EMPLOYEE]
    assert id_numbers_in("11010519491231002X") == ["11010519491231002X"]  # GB 11643 example
    assert id_numbers_in("110105194912310021") == []  # wrong check digit
    assert leaks([_record(f"insuree {EMPLOYEE} not found")])
    assert not leaks([_record("insuree 500102********0016 not found")])
    exc = ValueError(f"[parameters: ('{DIBAO}', 1)]")
    assert leaks([_record("Exception in ASGI application", exc)])


def test_an_escaped_exception_is_logged_and_answered_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"psn_no {EMPLOYEE}")

    r = asgi.get_client(uvicorn_like(broken)).get("/x")
    assert r.status_code == 500
    [rec] = [x for x in caplog.records if x.name == "uvicorn.error"]
    # the traceback is in the record (exc_info, or exc_text once the app's log filter
    # has masked it: then the ID number is gone from it)
    assert "RuntimeError: psn_no" in logged_text(rec)
    assert sys.exc_info() == (None, None, None)
