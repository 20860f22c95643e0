"""``yibao filings`` on both databases: take in as a township, forward, decide, the queue,
a bad date is one stderr line and exit 2; ``yibao pack list``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.registry_data import EMPLOYEE, load_examples
from yibao.adapters.cli.app import app
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

run = CliRunner().invoke


def test_filings_cli(cli_db: str) -> None:
    engine = make_engine(cli_db)
    load_examples(UnitOfWork(engine), "providers", "insurees")
    engine.dispose()
    r = run(app, ["filings", "take-in", "--kind", "temporary", "--insuree", EMPLOYEE,
                  "--dest", "420100", "--valid-from", "2020-01-24", "--covid",
                  "--township", "500102001", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)
    assert (f["state"], f["channel"]) == ("accepted", "township")
    r = run(app, ["filings", "forward", f["id"], "--township", "500102009"])
    assert r.exit_code == 2  # another township's
    assert run(app, ["filings", "forward", f["id"], "--township", "500102001"]).exit_code == 0
    r = run(app, ["filings", "decide", f["id"], "--refuse"])
    assert r.exit_code == 2
    assert "reason" in r.stderr
    r = run(app, ["filings", "decide", f["id"], "--approve", "--json"])
    assert json.loads(r.stdout)["state"] == "approved"
    r = run(app, ["filings", "take-in", "--kind", "temporary", "--insuree", EMPLOYEE,
                  "--dest", "420100", "--valid-from", "2020-13-01"])  # fmt: skip
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1
    r = run(app, ["pack", "list", "--json"])
    assert "hb-2020-example.yaml" in json.loads(r.stdout)["examples"]
