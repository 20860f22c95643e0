"""`yibao report daily`: the workbook and the text summary; bad input exits 2."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from yibao.adapters.cli.app import app
from yibao.packs import PACKS_DIR
from yibao.services.encounters.context import Context
from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.epidemic import live_through_epidemic
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_bad_dates_exit_2_with_one_line(cli_db: str, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    for bad in ("2020-02-30", "yesterday", "2020-2-1"):
        res = _run("report", "daily", "--date", bad, "--out", str(out))
        assert res.exit_code == 2  # type: ignore[attr-defined]
        err = res.stderr.strip()  # type: ignore[attr-defined]
        assert "--date" in err
        assert len(err.splitlines()) == 1
    res = _run("report", "daily", "--date", "2020-02-10", "--out", str(tmp_path / "r.csv"))
    assert res.exit_code == 2  # type: ignore[attr-defined]
    assert not out.exists()


def test_the_report_of_a_day(cli_db: str, tmp_path: Path) -> None:
    engine = make_engine(cli_db)
    try:
        uow = UnitOfWork(engine)
        load_demo(uow, insurees=400)
        live_through_epidemic(uow, Context.from_folder(PACKS_DIR), insurees=400, scale=0.05)
    finally:
        engine.dispose()
    out = tmp_path / "daily.xlsx"
    res = _run("report", "daily", "--date", "2020-02-20", "--out", str(out), "--text")
    assert res.exit_code == 0, res.stderr  # type: ignore[attr-defined]
    text = res.stdout  # type: ignore[attr-defined]
    assert text.startswith("医保日报 2020-02-20（累计自 2020-01-23 起）")
    assert "基金支付：当日结算笔数" in text
    wb = openpyxl.load_workbook(out)
    core = ["汇总", "医院", "延迟结算", "待转院", "当日结算", "趋势"]
    assert wb.sheetnames[:6] == core  # then the registered sections' sheets (手工报销 …)
    assert "手工报销" in wb.sheetnames[6:]
    assert wb["医院"].freeze_panes == "A2"
    assert "(ID numbers masked)" in res.stderr  # type: ignore[attr-defined]
