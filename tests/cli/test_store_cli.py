"""The store's commands: thin, masked by default, bad input exits 2 with problems listed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.registry_data import CENTRE, EMPLOYEE, EXAMPLES
from yibao.adapters.cli.app import app
from yibao.store import migrate

ORDER = ("diseases", "providers", "catalog", "protocol", "mapping", "insurees")


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def _load() -> None:
    for kind in ORDER:
        res = _run("import", kind, str(EXAMPLES / f"{kind}.csv"), "--by", "tester")
        assert res.exit_code == 0, res.stderr  # type: ignore[attr-defined]


def test_db_current_and_upgrade(cli_db: str) -> None:
    res = CliRunner().invoke(app, ["db", "current"])
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0] == res.stdout.splitlines()[1].replace("code    ", "database")
    assert CliRunner().invoke(app, ["db", "upgrade"]).stdout.startswith("database at ")


def test_import_reports_and_reimport_changes_nothing(cli_db: str) -> None:
    res = CliRunner().invoke(app, ["import", "providers", str(EXAMPLES / "providers.csv")])
    assert res.exit_code == 0
    assert (
        res.stdout
        == "providers: 4 rows read, 4 new versions, 0 closed, 0 unchanged (change set 1)\n"
    )
    res = CliRunner().invoke(app, ["import", "providers", str(EXAMPLES / "providers.csv")])
    assert "4 unchanged (nothing changed)" in res.stdout


def test_a_bad_file_exits_2_listing_problems_one_a_line(cli_db: str, tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    lines = (EXAMPLES / "providers.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",2,", ",4,")
    lines[3] = lines[3].replace("500102,500102001", "5001,500102001")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["import", "providers", str(bad)])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.splitlines() == [
        "p.csv: 2 rows refused, nothing imported; row 3, level: 4 is outside 1..3",
        "  row 4, region: '5001' is not a 6-digit region code",
    ]


def test_a_database_not_migrated_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    res = CliRunner().invoke(app, ["import", "providers", str(EXAMPLES / "providers.csv")])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1
    want = f"is at revision none, the code needs {migrate.head()}: run `yibao db upgrade`"
    assert want in res.stderr


def test_export_masks_unless_unmasked(cli_db: str, tmp_path: Path) -> None:
    _load()
    out = tmp_path / "i.xlsx"
    res = CliRunner().invoke(app, ["export", "insurees", "--out", str(out)])
    assert res.exit_code == 0
    assert "(ID numbers and names masked)" in res.stdout
    res = CliRunner().invoke(
        app,
        [
            "export",
            "insurees",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "u.csv"),
            "--unmasked",
            "--as-of",
            "2020-02-10",
        ],
    )
    assert res.exit_code == 0
    text = (tmp_path / "u.csv").read_text(encoding="utf-8-sig")
    assert EMPLOYEE in text
    assert "张三丰" in text
    res = CliRunner().invoke(app, ["export", "insurees", "--format", "pdf", "--out", "x.pdf"])
    assert res.exit_code == 2


def test_registry_lookups(cli_db: str) -> None:
    _load()
    res = CliRunner().invoke(app, ["registry", "insuree", EMPLOYEE, "--on", "2020-02-10"])
    assert res.exit_code == 0
    assert "500102********0016" in res.stdout
    assert "张**" in res.stdout
    assert EMPLOYEE not in res.stdout
    res = CliRunner().invoke(
        app, ["registry", "insuree", EMPLOYEE, "--on", "2020-02-10", "--unmasked"]
    )
    assert "张三丰" in res.stdout
    res = CliRunner().invoke(app, ["registry", "insuree", EMPLOYEE, "--on", "2019-02-10"])
    assert res.exit_code == 2
    assert "参保信息尚未导入" in res.stderr
    assert EMPLOYEE not in res.stderr
    res = CliRunner().invoke(app, ["registry", "provider", CENTRE, "--on", "2020-01-22"])
    assert "covid_designated  true" in res.stdout
    res = CliRunner().invoke(
        app,
        ["registry", "resolve", "--provider", CENTRE, "--on", "2020-02-10", "JC-0001", "ZL-0001",
         "HC-0001"],
    )  # fmt: skip
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0].split("\t")[5] == "price_cap_e6"
    # the district's cap of 300 yuan, in millionths of a yuan
    assert res.stdout.splitlines()[3].split("\t")[:6] == [
        "HC-0001",
        "C14010000001",
        "consumable",
        "A",
        "0",
        "300000000",
    ]
    assert res.stdout.splitlines()[1].split("\t")[:8] == [
        "JC-0001",
        "T50000000012",
        "service",
        "C",
        "0",
        "",
        "true",
        "true",
    ]
    res = CliRunner().invoke(app, ["registry", "resolve", "--provider", CENTRE, "NOPE"])
    assert res.exit_code == 2
    assert "NOPE" in res.stderr
    assert CENTRE in res.stderr
    res = CliRunner().invoke(app, ["registry", "history", "insurees", EMPLOYEE])
    assert res.exit_code == 0
    assert "by tester from insurees.csv: current" in res.stdout
    assert EMPLOYEE not in res.stdout


def test_demo_load_twice(cli_db: str) -> None:
    res = CliRunner().invoke(app, ["demo", "load", "--insurees", "200"])
    assert res.exit_code == 0, res.stderr
    res = CliRunner().invoke(app, ["demo", "load", "--insurees", "200"])
    assert res.stdout.count("rows        0 new versions  (unchanged)") == 6  # the registries
    assert "epidemic  already lived through (unchanged)" in res.stdout  # nothing settled twice


def test_settle_does_not_import_the_store() -> None:
    code = (
        "import sys, yibao.adapters.cli.app; "
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'openpyxl', 'pydantic_settings') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
