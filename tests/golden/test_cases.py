"""Every golden case, through the Python API and through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.golden.casefile import case_files, differences, load_case
from yibao.adapters.cli.app import app
from yibao.core.engine import request_from_mapping, settle, settlement_to_dict
from yibao.core.errors import YibaoError
from yibao.core.policy import PackSet
from yibao.packs.files import load_pack

CASES = case_files()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "cases"


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


def test_the_public_cases_are_all_here() -> None:
    """The vendored copy matches ../shared/cases where that folder exists."""
    if not SHARED.is_dir():
        pytest.skip("../shared/cases is not beside this checkout")
    ours = {p.name: p.read_bytes() for p in CASES if p.parent.name == "public"}
    theirs = {p.name: p.read_bytes() for p in SHARED.glob("*.yaml")}
    assert ours == theirs


def _settle_case(case: dict[str, Any]) -> None:
    req = request_from_mapping(case["request"])
    pol = PackSet([load_pack(case["pack_path"])]).select(
        req.insuree.insured_region, req.encounter.discharge_date
    )
    settle(req, pol)


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_python_api(path: Path) -> None:
    case = load_case(path)
    expect = case["expect"]
    if expect.get("error"):
        with pytest.raises(YibaoError):
            _settle_case(case)
        return
    req = request_from_mapping(case["request"])
    pol = load_pack(case["pack_path"])
    got = settlement_to_dict(settle(req, pol))
    assert differences(expect, got) == []


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_cli(path: Path, tmp_path: Path) -> None:
    case = load_case(path)
    req = tmp_path / "req.json"
    req.write_text(json.dumps(case["request"], ensure_ascii=False), encoding="utf-8")
    res = CliRunner().invoke(app, ["settle", "--pack", str(case["pack_path"]), str(req)])
    if case["expect"].get("error"):
        assert res.exit_code == 2
        assert res.stdout == ""
        assert len(res.stderr.strip().splitlines()) == 1
        return
    assert res.exit_code == 0, res.stderr
    assert differences(case["expect"], json.loads(res.stdout)) == []


def test_real_process_and_stdin() -> None:
    """The installed entry point, reading the request from stdin."""
    case = load_case(next(p for p in CASES if p.stem == "covid-confirmed-designated-employee"))
    proc = subprocess.run(
        [sys.executable, "-m", "yibao", "settle", "--pack", str(case["pack_path"]), "-"],
        input=json.dumps(case["request"]).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert differences(case["expect"], json.loads(proc.stdout)) == []


def test_real_process_bad_input_is_one_line() -> None:
    pack = CASES[0].parent / "packs" / "example-2020.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "yibao", "settle", "--pack", str(pack), "-"],
        input=b'{"insuree": 1}',
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert len(proc.stderr.decode().strip().splitlines()) == 1
