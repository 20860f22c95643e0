"""The REST routes and the CLI of drug monitoring, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.api.conftest import Api, api  # noqa: F401  (the API fixture)
from tests.registry_data import CENTRE, load_examples
from yibao.adapters.cli.app import app
from yibao.store.uow import UnitOfWork

IFN = "XJ05AXA159A001010101445"
FILING = {
    "provider_code": CENTRE,
    "code": IFN,
    "supplier": "应急供应商",
    "price_e6": 100_000_000,
    "qty_e4": 50_000,
    "purchased_on": "2020-02-01",
    "reason": "挂网产品无法满足临床需求",
}


def test_a_hospital_files_and_the_district_accepts(api: Api) -> None:  # noqa: F811
    c = api.client
    watch = c.get("/v1/drugs/watch?on=2020-02-10", headers=api.h("hospital"))
    assert next(d["code"] for d in watch.json()["drugs"]) == IFN
    other = c.post("/v1/drugs/filings", json=FILING, headers=api.h("other"))
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    bad = c.post("/v1/drugs/filings", json=FILING | {"price_e6": 0}, headers=api.h("hospital"))
    assert bad.status_code == 422
    made = c.post("/v1/drugs/filings", json=FILING, headers=api.h("hospital"))
    assert made.status_code == 201
    fid = made.json()["id"]
    assert c.post(f"/v1/drugs/filings/{fid}/decision", json={"accept": True},
                  headers=api.h("hospital")).status_code == 403  # fmt: skip
    ok = c.post(f"/v1/drugs/filings/{fid}/decision", json={"accept": True},
                headers=api.h("clerk"))  # fmt: skip
    assert ok.json()["state"] == "accepted"
    assert [s["state_to"] for s in ok.json()["steps"]] == ["filed", "accepted"]
    mine = c.get("/v1/drugs/filings", headers=api.h("other")).json()["filings"]
    assert mine == []
    assert c.get("/v1/drugs/signals", headers=api.h("hospital")).status_code == 403
    assert c.get("/v1/drugs/signals", headers=api.h("auditor")).json() == {"signals": []}
    scanned = c.post("/v1/drugs/scan", json={"start": "2020-02-01", "end": "2020-02-29"},
                     headers=api.h("clerk"))  # fmt: skip
    assert scanned.json()["found"] == 0


def test_the_cli_imports_and_refuses_a_bad_file_with_exit_2(
    uow: UnitOfWork, cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_examples(uow)
    monkeypatch.setenv("YIBAO_OPERATOR", "wang.li")
    head = (
        "order_id,order_date,provider,code,supplier,price,qty_ordered,qty_delivered,delivery_date"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{head}\nP1,2020-02-01,{CENTRE},{IFN},甲,1.2345678,10,0,\n", "utf-8")
    run = CliRunner().invoke(app, ["drugs", "import", str(bad)])
    assert run.exit_code == 2
    assert "row 2, price" in run.stderr
    good = tmp_path / "good.csv"
    good.write_text(f"{head}\nP1,2020-02-01,{CENTRE},{IFN},甲,1.2345,10,10,2020-02-02\n", "utf-8")
    run = CliRunner().invoke(app, ["drugs", "import", str(good)])
    assert run.exit_code == 0, run.output
    assert '"inserted": 1' in run.stdout
    run = CliRunner().invoke(app, ["drugs", "watch", "--on", "2020-02-10"])
    assert IFN in run.stdout
    out = tmp_path / "report.xlsx"
    run = CliRunner().invoke(app, ["drugs", "report", "--from", "2020-02-01", "--to",
                                   "2020-02-29", "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["监测药品", "信号", "应急采购备案", "逐日价格与配送"]
    prices = [r for r in wb["逐日价格与配送"].iter_rows(values_only=True) if r[0] == IFN]
    assert any(r[2] is not None and str(r[2]) == "1.2345" for r in prices)
