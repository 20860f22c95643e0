"""Bulk re-settlement (both databases): a pack correction adds a second overlay version
covering suspected patients from a date; the run recomputes, reports, reverses and
re-settles with ledger entries, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from tests.deferred.helpers import CLERK, FEES, HOSPITAL, Clock, books_ok, stay
from tests.registry_data import DIBAO, EMPLOYEE, load_examples
from yibao.core.errors import Forbidden
from yibao.core.policy import PackSet
from yibao.core.policy.model import Policy
from yibao.packs import PACKS_DIR
from yibao.packs.files import load_pack
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context
from yibao.services.stays.resettle import run as rs
from yibao.store.uow import UnitOfWork

SUSPECTED = (uc.Diagnosis("J18.900", True), uc.Diagnosis("Z03.800x001", False))
FROM = dt.date(2020, 2, 5)


def _packs(tmp: Path) -> tuple[Policy, Policy]:
    """The shipped pack with one overlay version (confirmed only), and its correction:
    a second version from FROM that covers suspected patients too."""
    doc = yaml.safe_load((PACKS_DIR / "cq-2020.yaml").read_text(encoding="utf-8"))
    first = dict(doc["covid_overlay"][0], to=None,
                 disease_codes=["B99.900", "Z03.800x001"])  # fmt: skip
    doc["covid_overlay"] = [first]
    (tmp / "old.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    second = dict(first, statuses=["confirmed", "suspected"], clause="示例")
    second["from"] = FROM
    doc["covid_overlay"] = [dict(first, to=FROM - dt.timedelta(days=1)), second]
    (tmp / "new.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_pack(tmp / "old.yaml"), load_pack(tmp / "new.yaml")


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def test_a_pack_correction_resettles_suspected_patients(loaded: UnitOfWork, tmp_path: Path) -> None:
    old, new = _packs(tmp_path)
    ctx = Context(PackSet([old]), clock=Clock())
    jan = dt.date(2020, 1, 25)
    before = stay(
        loaded, ctx, DIBAO, dt.date(2020, 2, 3), diagnoses=SUSPECTED, admitted=jan
    )  # before FROM
    hit = stay(loaded, ctx, DIBAO, dt.date(2020, 2, 10), diagnoses=SUSPECTED)
    later = stay(loaded, ctx, DIBAO, dt.date(2020, 2, 20))  # not suspected: caps carry
    other = stay(loaded, ctx, EMPLOYEE, dt.date(2020, 2, 11), diagnoses=SUSPECTED)
    plain = stay(
        loaded, ctx, EMPLOYEE, dt.date(2020, 1, 30), fees=FEES[1:], admitted=jan
    )  # before range
    for e in (before, hit, later, other, plain):
        uc.settle(loaded, ctx, HOSPITAL, e.id)
    old_hit = uc.settlement(loaded, CLERK, uc.encounter(loaded, CLERK, hit.id).settlement_id or "")
    assert old_hit.settlement.setlinfo.psn_cash_pay > 0  # suspected: not covered yet

    with pytest.raises(Forbidden):
        rs.resettle(loaded, ctx, HOSPITAL, pack=new, begin=FROM, end=dt.date(2020, 2, 29))
    dry = rs.resettle(loaded, ctx, CLERK, pack=new, begin=FROM, end=dt.date(2020, 2, 29),
                      dry_run=True)  # fmt: skip
    changed = {c.encounter_id for c in dry.changes}
    assert hit.id in changed
    assert other.id in changed
    assert before.id not in changed
    assert plain.id not in changed
    assert dry.booked == {}
    assert uc.encounter(loaded, CLERK, hit.id).settlement_id == old_hit.settlement_id
    c = next(c for c in dry.changes if c.encounter_id == hit.id)
    assert c.new.setlinfo.psn_cash_pay == 0
    assert c.new.setlinfo.fiscal_pay > 0
    assert c.new.setlinfo.medfee_sumamt == c.old.medfee_sumamt

    done = rs.resettle(loaded, ctx, CLERK, pack=new, begin=FROM, end=dt.date(2020, 2, 29))
    assert set(done.booked) == changed
    assert len(done.reversed) == len(changed)
    now = uc.encounter(loaded, CLERK, hit.id)
    s = uc.settlement(loaded, CLERK, now.settlement_id or "")
    assert s.settlement.setlinfo == c.new.setlinfo
    assert s.settlement.pack_sha256 == new.sha256
    books_ok(loaded, Context(PackSet([new]), clock=Clock()))
    rev = uc.settlement(loaded, CLERK, done.reversed[old_hit.settlement_id or ""])
    assert (rev.kind, rev.reverses) == ("reversal", old_hit.settlement_id)
    with loaded:
        kinds = [e.kind for e in loaded.hospital.events(hit.id)]
    assert kinds[-2:] == ["settlement_reversed", "settled"]
    again = rs.resettle(loaded, ctx, CLERK, pack=new, begin=FROM, end=dt.date(2020, 2, 29))
    assert (again.changes, again.booked) == ([], {})  # idempotent
    assert again.considered == dry.considered
    back = uc.reverse(loaded, ctx, CLERK, now.settlement_id or "")  # the API's reversal works
    assert back.settlement.setlinfo == c.new.setlinfo
    books_ok(loaded, Context(PackSet([new]), clock=Clock()))


def test_cli_resettle_writes_the_differences(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from yibao.adapters.cli.app import app
    from yibao.store.db import make_engine

    old, _ = _packs(tmp_path)
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "old.yaml").write_text((tmp_path / "old.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("YIBAO_PACKS_DIR", str(folder))
    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow)
    ctx = Context(PackSet([old]), clock=Clock())
    hit = stay(uow, ctx, DIBAO, dt.date(2020, 2, 10), diagnoses=SUSPECTED)
    uc.settle(uow, ctx, HOSPITAL, hit.id)
    args = ["resettle", "--pack", str(tmp_path / "new.yaml"), "--from", "2020-02-05",
            "--to", "2020-02-29", "--out", str(tmp_path / "out")]  # fmt: skip
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert "1 differ, would re-settle 1" in dry.stdout
    wb = load_workbook(tmp_path / "out" / "differences.xlsx")
    assert wb.sheetnames == ["run", "stays", "by_insuree", "by_fund"]
    import polars as pl

    funds = pl.read_parquet(tmp_path / "out" / "by_fund.parquet")
    fiscal = funds.filter(pl.col("fund") == "fiscal_pay")["diff_fen"][0]
    cash = funds.filter(pl.col("fund") == "psn_cash_pay")["diff_fen"][0]
    assert fiscal > 0 > cash
    done = CliRunner().invoke(app, args)
    assert "re-settled 1" in done.stdout, done.stderr
    again = CliRunner().invoke(app, args)
    assert "0 differ" in again.stdout
    assert CliRunner().invoke(app, ["ledger", "check"]).exit_code == 0
    bad = CliRunner().invoke(app, ["resettle", "--pack", str(tmp_path / "nope.yaml"),
                                   "--from", "2020-02-05", "--to", "2020-02-29"])  # fmt: skip
    assert bad.exit_code == 2
    uow.engine.dispose()
