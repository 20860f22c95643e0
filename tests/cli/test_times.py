"""The CLI prints times in Beijing time, the zone of every business date (booked_on,
discharge_date), on SQLite (which keeps no zone) and PostgreSQL alike (issue 15)."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from tests.registry_data import EMPLOYEE, load_examples
from yibao.adapters.cli.app import app
from yibao.adapters.cli.common import beijing
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


def test_beijing_reads_a_time_without_a_zone_as_utc() -> None:
    utc = dt.datetime(2020, 2, 11, 20, 30, tzinfo=dt.UTC)
    assert beijing(utc).isoformat() == "2020-02-12T04:30:00+08:00"
    assert beijing(utc.replace(tzinfo=None)) == beijing(utc)


def test_history_and_queue_status_print_beijing_time(cli_db: str) -> None:
    engine = make_engine(cli_db)
    try:
        load_examples(UnitOfWork(engine))  # recorded 2020-01-24 09:30 UTC
    finally:
        engine.dispose()
    res = CliRunner().invoke(app, ["registry", "history", "insurees", EMPLOYEE])
    assert res.exit_code == 0, res.stderr
    assert "change set 6 2020-01-24 17:30 by test" in res.stdout
    res = CliRunner().invoke(app, ["deferred", "status", "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["as_of"].endswith("+08:00")
