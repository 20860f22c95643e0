"""`yibao deferred status|settle` and the queue run after `yibao import insurees`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.deferred.helpers import HOSPITAL, NEWCOMER, context, stay
from tests.registry_data import load_examples
from yibao.adapters.cli.app import app
from yibao.services.stays.deferred import queue as dq
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

HEADER = (
    "psn_no,name,scheme,resident_tier,insured_region,township,assistance_category,"
    "assistance_from,assistance_to,account_opening_fen,enrolled,valid_from,valid_to"
)


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_status_then_import_settles_the_queue(cli_db: str, tmp_path: Path) -> None:
    import datetime as dt

    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow)
    ctx = context()
    enc = stay(uow, ctx, NEWCOMER, dt.date(2020, 2, 10), insured_region="500102")
    assert isinstance(dq.settle_or_defer(uow, ctx, HOSPITAL, enc.id), dq.Deferral)
    res = _run("deferred", "status", "--json")
    assert res.exit_code == 0, res.stderr  # type: ignore[attr-defined]
    doc = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert (doc["count"], doc["advance_fen"]) == (1, 26500)
    assert doc["rows"][0]["reason"] == "not_enrolled"
    table = _run("deferred", "status")
    assert "not_enrolled" in table.stdout
    assert "265.00" in table.stdout
    assert "0 settled" in _run("deferred", "settle").stdout  # type: ignore[attr-defined]
    csv = tmp_path / "insurees.csv"
    csv.write_text(f"{HEADER}\n{NEWCOMER},新参保,employee,,500102,500102001,none,,,0,true,"
                   "2020-01-01,\n", encoding="utf-8")  # fmt: skip
    imported = _run("import", "insurees", str(csv))
    assert imported.exit_code == 0, imported.stderr  # type: ignore[attr-defined]
    assert "deferred queue: 1 settled" in imported.stdout  # type: ignore[attr-defined]
    assert "empty" in _run("deferred", "status").stdout  # type: ignore[attr-defined]
    assert _run("ledger", "check").exit_code == 0  # type: ignore[attr-defined]
    bad = _run("deferred", "status", "--provider")
    assert bad.exit_code == 2  # type: ignore[attr-defined]
    uow.engine.dispose()


def test_bulk_job_raises_the_thresholds_and_restores_them() -> None:
    import gc

    from yibao.adapters.cli.common import bulk_job

    before = gc.get_threshold()
    with bulk_job():
        assert gc.get_threshold() == (100_000, 50, 1000)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), bulk_job():
        raise RuntimeError("a failed command restores them too")
    assert gc.get_threshold() == before
