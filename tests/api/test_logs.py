"""No ID number in a log (issue 15): a database error carrying a psn_no answers 500
problem+json without internals and leaves no unmasked ID number in any log record; the
engines hide SQL parameters; every log record of the process is masked where it is made."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.api.conftest import Api
from tests.api.test_rest import _admit
from tests.registry_data import EMPLOYEE
from yibao.adapters.api import logs
from yibao.services.access.rights import mask_ids
from yibao.services.encounters import lifecycle as encounters
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

MASKED = "500102********0016"
BAD_ROW = "INSERT INTO account_balances (psn_no, moved_fen, updated_at) VALUES (:p, NULL, NULL)"
"""A NOT NULL violation whose parameter is an ID number: PostgreSQL echoes the row in
the error's own text (DETAIL: Failing row contains (500102…, null, null))."""


def _written(records: list[logging.LogRecord]) -> str:
    """The records as handlers write them: the standard formatter, and the message,
    traceback and stack by hand as other formatters do."""
    out = []
    fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for r in records:
        out.append(fmt.format(r))
        out.append(r.getMessage())
        if r.exc_info:
            out.append(fmt.formatException(r.exc_info))
        out += [r.exc_text or "", r.stack_info or "", repr(r.args)]
    return "\n".join(out)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    return caplog


def test_a_database_error_with_a_psn_no_is_500_and_logged_masked(
    api: Api, every_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = _admit(api)

    def broken(uow: UnitOfWork, *_: Any, **__: Any) -> Any:
        with uow:
            uow.session.execute(text(BAD_ROW), {"p": EMPLOYEE})
        raise AssertionError("the insert fails")

    monkeypatch.setattr(encounters, "encounter", broken)
    every_log.clear()
    r = api.client.get(f"/v1/encounters/{eid}", headers=api.h("clerk"))
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert (body["type"], body["status"], body["errors"]) == ("/problems/internal", 500, [])
    ref = re.fullmatch(r"the server failed on this request; it is logged under reference "
                       r"([0-9a-f]{12})", body["detail"])  # fmt: skip
    assert ref is not None, body
    for internal in ("SQL", "account_balances", "NotNull", "Integrity", EMPLOYEE, "psn_no"):
        assert internal not in r.text
    written = _written(every_log.records)
    assert EMPLOYEE not in written
    assert "500102" not in written.replace(MASKED, "")  # no other form of it either
    (line,) = [x for x in every_log.records if ref.group(1) in x.getMessage()]
    assert line.levelno == logging.ERROR
    assert "/v1/encounters/{encounter_id}" in line.getMessage()
    assert "IntegrityError" in line.getMessage()  # what failed, by its type


def test_an_unexpected_error_holding_an_id_number_is_500_and_logged_masked(
    api: Api, every_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"insuree {EMPLOYEE} 张三丰 broke something")

    monkeypatch.setattr(encounters, "encounter", broken)
    every_log.clear()
    r = api.client.get("/v1/encounters/E1", headers=api.h("clerk"))
    assert r.status_code == 500
    assert r.json()["type"] == "/problems/internal"
    assert EMPLOYEE not in r.text
    assert "张三丰" not in r.text
    written = _written(every_log.records)
    assert EMPLOYEE not in written
    assert "张三丰" not in written  # the exception's text is not logged at all
    assert "RuntimeError" in written


def test_the_engines_hide_sql_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert engine.hide_parameters
        with pytest.raises(DBAPIError) as got, engine.begin() as conn:
            conn.execute(text(BAD_ROW), {"p": EMPLOYEE})
        shown = str(got.value)
        assert "[SQL parameters hidden due to hide_parameters=True]" in shown
        if engine.dialect.name == "sqlite":
            assert EMPLOYEE not in shown
        else:  # PostgreSQL's own text holds the row: the log's masking is what hides it
            assert EMPLOYEE in shown
            assert EMPLOYEE not in mask_ids(shown)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["yibao.api", "uvicorn.error", "sqlalchemy.engine.Engine"])
def test_every_record_is_masked_message_arguments_traceback_and_stack(
    name: str, every_log: pytest.LogCaptureFixture
) -> None:
    logs.install()
    log = logging.getLogger(name)
    try:
        raise ValueError(f"bad row ({EMPLOYEE}, null)")
    except ValueError:
        log.exception(f"failed for {EMPLOYEE}: %s %r %s", EMPLOYEE, ("x", EMPLOYEE),
                      ValueError(EMPLOYEE), stack_info=True)  # fmt: skip
    log.warning("params %(p)s", {"p": EMPLOYEE})
    log.warning("psn%s|%sX", "500102198003150016", "50010219800315001")
    (r1, r2, r3) = [r for r in every_log.records if r.name == name]
    assert r1.exc_info is None  # formatted (masked) when made: the exception holds the ID
    assert "ValueError: bad row (500102********0016, null)" in (r1.exc_text or "")
    assert r2.getMessage() == f"params {MASKED}"
    assert r3.getMessage() == f"psn{MASKED}|{MASKED[:-1]}X"
    written = _written(every_log.records) + every_log.text
    assert EMPLOYEE not in written
    assert MASKED in written


def test_uvicorns_access_log_keeps_its_arguments_masked() -> None:
    from uvicorn.logging import AccessFormatter

    logs.install()
    args = ("127.0.0.1:5000", "GET", f"/v1/insurees/{EMPLOYEE}?on=2020-02-12", "1.1", 200)
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(access.name, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               args, None)  # fmt: skip
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s',
                           use_colors=False).format(record)  # fmt: skip
    assert line == f'127.0.0.1:5000 - "GET /v1/insurees/{MASKED}?on=2020-02-12 HTTP/1.1" 200 OK'


def test_our_own_ids_and_big_numbers_are_left_alone() -> None:
    for kept in ("M202002141000001687fe74670ca71", "offset=9223372036854775808",
                 "S20200214100000123456", "12345678901234567"):  # fmt: skip
        assert mask_ids(kept) == kept
    assert mask_ids(f"[{EMPLOYEE}]") == f"[{MASKED}]"
    assert mask_ids(f"no{EMPLOYEE}x") == f"no{MASKED}x"  # a valid one, even among letters


def test_installing_twice_masks_once() -> None:
    logs.install()
    factory = logging.getLogRecordFactory()
    logs.install()
    assert logging.getLogRecordFactory() is factory
    assert getattr(factory, "yibao_masks", False)
    assert sys.modules["yibao.adapters.api.logs"] is logs
