from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yibao.adapters.cli.app import app
from yibao.packs import shipped_pack

EXAMPLE = Path(__file__).resolve().parents[1] / "golden" / "public" / "packs" / "example-2020.yaml"


def test_pack_check_prints_id_period_hash_and_overlay() -> None:
    res = CliRunner().invoke(app, ["pack", "check", str(shipped_pack("cq-2020"))])
    assert res.exit_code == 0
    out = res.stdout
    assert "pack      cq-2020" in out
    assert "2020-01-01 .. 2020-12-31" in out
    assert "sha256    " in out
    assert out.count("overlay   ") == 3
    assert "示例" in out


def test_pack_check_bad_pack(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            "later_admission_bp: 5000", "later_admission_bp: 50000"
        )
    )
    res = CliRunner().invoke(app, ["pack", "check", str(bad)])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.strip().count("\n") == 0
    assert "deductible.later_admission_bp" in res.stderr


def test_pack_show_json_is_canonical() -> None:
    res = CliRunner().invoke(app, ["pack", "show", "--json", str(EXAMPLE)])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["pack"] == "cq-2020-example"
    assert doc["covid_overlay"][0]["from"] == "2020-01-23"


def test_pack_show_yaml() -> None:
    res = CliRunner().invoke(app, ["pack", "show", str(EXAMPLE)])
    assert res.exit_code == 0
    assert "pooling_area" in res.stdout


def test_settle_missing_file_and_bad_pack(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["settle", "--pack", str(EXAMPLE), str(tmp_path / "none.json")])
    assert res.exit_code == 2
    assert "cannot read" in res.stderr
    req = tmp_path / "r.json"
    req.write_text("{}")
    res = CliRunner().invoke(app, ["settle", "--pack", str(tmp_path / "nope.yaml"), str(req)])
    assert res.exit_code == 2
    assert "nope.yaml" in res.stderr


def test_demo_statements() -> None:
    res = CliRunner().invoke(app, ["demo", "statements"])
    assert res.exit_code == 0, res.stderr
    assert "01-confirmed-employee" in res.stdout
    assert "新冠财政补助" in res.stdout


def test_settle_statement(tmp_path: Path) -> None:
    from yibao.examples import example_requests

    res = CliRunner().invoke(
        app,
        [
            "settle",
            "--statement",
            "--pack",
            str(shipped_pack("cq-2020")),
            str(example_requests()[0]),
        ],
    )
    assert res.exit_code == 0
    assert "结算单" in res.stdout
    assert "统筹应付" in res.stdout
    assert "已付" in res.stdout  # what each fund has paid, beside what its cap is measured on
