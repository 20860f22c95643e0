"""Every file a command writes, and everything it prints, holds ID numbers and names
masked unless ``--unmasked``; ``--unmasked`` needs an identified operator and leaves one
audit entry naming the operator, the command and what was unmasked (issue 15)."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.registry_data import DIBAO, EMPLOYEE, EXAMPLES, load_examples
from yibao.adapters.cli.app import app
from yibao.core.errors import Forbidden
from yibao.services.access.disclosure import ACTION, masked_ids, record_unmasked
from yibao.services.access.rights import Principal
from yibao.store.db import make_engine
from yibao.store.service_tables import AuditEntry
from yibao.store.uow import UnitOfWork

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
"""An unmasked 18-character ID number anywhere in a text (not the digits inside an id
such as ``E20200220100000…``)."""

with (EXAMPLES / "insurees.csv").open(encoding="utf-8") as _f:
    NAMES = sorted({r["name"] for r in csv.DictReader(_f)})
"""The example insurees' full names (张三丰 …)."""


def _run(*args: str, **env: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env or None)


def _ids(text: str) -> list[str]:
    return ID_NUMBER.findall(text)


def _names(text: str) -> list[str]:
    return [n for n in NAMES if n in text]


def _file_text(path: Path) -> str:
    """What a written file holds, as text: CSV as is, Parquet and Excel cell by cell."""
    if path.suffix == ".csv":
        return path.read_text(encoding="utf-8-sig")
    if path.suffix == ".parquet":
        return pl.read_parquet(path).write_csv()
    wb = load_workbook(path, read_only=True)
    return "\n".join(",".join("" if v is None else str(v) for v in row)
                     for ws in wb.worksheets for row in ws.iter_rows(values_only=True))  # fmt: skip


def _audit(url: str) -> list[Any]:
    """The audit log's entries of unmasked output, oldest first."""
    t = AuditEntry.__table__
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(t).where(t.c.action == ACTION).order_by(t.c.id)))
    finally:
        engine.dispose()


@contextmanager
def _store(url: str) -> Iterator[UnitOfWork]:
    """A unit of work on the CLI's database, its engine disposed after."""
    engine = make_engine(url)
    try:
        yield UnitOfWork(engine)
    finally:
        engine.dispose()


def _loaded(url: str) -> None:
    with _store(url) as uow:
        load_examples(uow)


# -- exports -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_is_masked_unless_unmasked_and_audited(
    cli_db: str, tmp_path: Path, suffix: str
) -> None:
    _loaded(cli_db)
    masked = tmp_path / f"m{suffix}"
    res = _run("export", "insurees", "--out", str(masked))
    assert res.exit_code == 0, res.stderr
    text = _file_text(masked)
    assert "500102********0016" in text
    assert (_ids(text), _names(text)) == ([], [])
    assert _audit(cli_db) == []  # masked output is not a disclosure
    full = tmp_path / f"u{suffix}"
    res = _run("export", "insurees", "--out", str(full), "--unmasked", "--operator", "wang.li")
    assert res.exit_code == 0, res.stderr
    text = _file_text(full)
    assert EMPLOYEE in text
    assert "张三丰" in text
    [entry] = _audit(cli_db)
    assert (entry.actor, entry.role, entry.entity, entry.entity_id) == (
        "key:cli:wang.li", "clerk", "cli", "yibao export insurees")  # fmt: skip
    assert entry.detail == {"command": "yibao export insurees", "operator": "wang.li",
                            "operator_from": "option", "fields": ["psn_no", "name"],
                            "target": str(full)}  # fmt: skip


def test_an_export_without_personal_columns_records_nothing(cli_db: str, tmp_path: Path) -> None:
    _loaded(cli_db)
    res = _run("export", "providers", "--out", str(tmp_path / "p.csv"), "--unmasked")
    assert res.exit_code == 0, res.stderr
    assert _audit(cli_db) == []


# -- the operator --------------------------------------------------------------------------


def test_the_operator_comes_from_the_environment_then_the_login(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loaded(cli_db)
    out = tmp_path / "i.csv"
    res = _run("export", "insurees", "--out", str(out), "--unmasked", YIBAO_OPERATOR="zhao")
    assert res.exit_code == 0, res.stderr
    monkeypatch.delenv("YIBAO_OPERATOR", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "clerk7")
    res = _run("export", "insurees", "--out", str(out), "--unmasked")
    assert res.exit_code == 0, res.stderr
    got = [(e.actor, e.detail["operator"], e.detail["operator_from"]) for e in _audit(cli_db)]
    assert got == [("key:cli:zhao", "zhao", "env"), ("key:cli:clerk7", "clerk7", "os")]


def _no_login() -> str:
    raise OSError("no login name")


def test_unmasked_is_refused_without_an_operator(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loaded(cli_db)
    monkeypatch.delenv("YIBAO_OPERATOR", raising=False)
    monkeypatch.setattr(getpass, "getuser", _no_login)
    out = tmp_path / "i.csv"
    res = _run("export", "insurees", "--out", str(out), "--unmasked")
    assert res.exit_code == 2
    assert res.stderr == (
        "--unmasked needs an operator: give --operator LOGIN or set YIBAO_OPERATOR\n"
    )
    assert not out.exists()
    res = _run("registry", "insuree", EMPLOYEE, "--on", "2020-02-10", "--unmasked")
    assert (res.exit_code, res.stdout) == (2, "")
    res = _run("export", "insurees", "--out", str(out), "--unmasked", "--operator", "a b")
    assert res.exit_code == 2
    assert "--operator: 'a b' is not one printable word" in res.stderr
    assert not out.exists()
    assert _audit(cli_db) == []
    # masked output needs no operator
    assert _run("export", "insurees", "--out", str(out)).exit_code == 0


def test_a_role_that_sees_no_personal_data_is_refused_and_nothing_is_recorded(
    uow: UnitOfWork,
) -> None:
    auditor = Principal("cli:a", "auditor", None)
    with pytest.raises(Forbidden):
        record_unmasked(uow, auditor, command="yibao export insurees", fields=["psn_no"],
                        target="x.csv", at=dt.datetime.now(dt.UTC), operator="a",
                        operator_from="option")  # fmt: skip
    with uow:
        assert list(uow.session.scalars(select(AuditEntry))) == []


def test_masked_ids_masks_each_value_and_keeps_nulls() -> None:
    frame = pl.DataFrame({"insuree_id": [EMPLOYEE, None, EMPLOYEE, "12345"], "n": [1, 2, 3, 4]})
    got = masked_ids(frame, "insuree_id")
    assert got["insuree_id"].to_list() == ["500102********0016", None, "500102********0016",
                                           "*****"]  # fmt: skip
    assert got["n"].to_list() == [1, 2, 3, 4]


# -- lookups printed -------------------------------------------------------------------------


def test_registry_lookups_print_masked_unless_unmasked_and_audited(cli_db: str) -> None:
    _loaded(cli_db)
    for args in (["registry", "insuree", EMPLOYEE, "--on", "2020-02-10"],
                 ["registry", "history", "insurees", EMPLOYEE]):  # fmt: skip
        res = _run(*args)
        assert res.exit_code == 0, res.stderr
        assert (_ids(res.stdout), _names(res.stdout)) == ([], [])
        res = _run(*args, "--unmasked", "--operator", "li")
        assert res.exit_code == 0, res.stderr
        assert EMPLOYEE in res.stdout
        assert "张三丰" in res.stdout
    entries = _audit(cli_db)
    assert [(e.entity_id, e.detail["target"]) for e in entries] == [
        ("yibao registry insuree", "500102********0016"),
        ("yibao registry history insurees", "500102********0016"),
    ]
    assert not any(_ids(json.dumps(e.detail)) for e in entries)


def test_settle_and_its_statement_print_no_id_number(tmp_path: Path) -> None:
    from yibao.examples import example_requests
    from yibao.packs import shipped_pack

    request = example_requests()[0]
    psn_no = json.loads(request.read_text(encoding="utf-8"))["insuree"]["id"]
    assert _ids(psn_no) == [psn_no]
    for extra in ([], ["--statement"]):
        res = _run("settle", "--pack", str(shipped_pack("cq-2020")), *extra, str(request))
        assert res.exit_code == 0, res.stderr
        assert psn_no not in res.stdout
        assert _ids(res.stdout) == []


# -- re-entry --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_reentry_result_is_masked_unless_unmasked_and_audited(
    cli_db: str, tmp_path: Path, suffix: str
) -> None:
    from tests.reentry.files import small_rows, write_csv

    _loaded(cli_db)
    rows = small_rows()
    people = sorted({str(r["insuree_id"]) for r in rows})
    src = write_csv(tmp_path / "offline.csv", rows)
    out = tmp_path / f"r{suffix}"
    res = _run("deferred", "import", str(src), "--out", str(out))
    assert res.exit_code == 0, res.stderr
    assert "(ID numbers masked)" in res.stdout
    text = _file_text(out)
    assert _ids(text) == []
    assert "500102********0016" in text
    frame = pl.read_csv(out) if suffix == ".csv" else pl.read_parquet(out)
    assert frame.height == 4
    assert _audit(cli_db) == []
    again = tmp_path / f"again{suffix}"  # a second import: already entered, still written
    res = _run("deferred", "import", str(src), "--out", str(again), "--unmasked",
               "--operator", "chen")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert sorted(set(_ids(_file_text(again)))) == people
    [entry] = _audit(cli_db)
    assert entry.detail["command"] == "yibao deferred import"
    assert entry.detail["fields"] == ["insuree_id"]
    assert entry.detail["target"] == str(again)
    assert entry.actor == "key:cli:chen"


# -- re-settlement -----------------------------------------------------------------------------


def test_resettle_outputs_are_masked_unless_unmasked_and_audited(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.deferred.helpers import HOSPITAL, Clock, stay
    from tests.deferred.test_resettle import SUSPECTED, _packs
    from yibao.core.policy import PackSet
    from yibao.services.encounters import lifecycle as uc
    from yibao.services.encounters.context import CST, Context

    old, _ = _packs(tmp_path)
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "old.yaml").write_text((tmp_path / "old.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")  # fmt: skip
    monkeypatch.setenv("YIBAO_PACKS_DIR", str(folder))
    _loaded(cli_db)
    ctx = Context(PackSet([old]), clock=Clock(dt.datetime(2020, 2, 25, 10, tzinfo=CST)))
    with _store(cli_db) as uow:
        # Z03.800x001 is in force from 02-13
        hit = stay(uow, ctx, DIBAO, dt.date(2020, 2, 20), diagnoses=SUSPECTED,
                   admitted=dt.date(2020, 2, 13))  # fmt: skip
        uc.settle(uow, ctx, HOSPITAL, hit.id)
    args = ["resettle", "--pack", str(tmp_path / "new.yaml"), "--from", "2020-02-05",
            "--to", "2020-02-29", "--dry-run"]  # fmt: skip
    files = ("stays.parquet", "by_insuree.parquet", "differences.xlsx")
    res = _run(*args, "--out", str(tmp_path / "masked"))
    assert "1 differ" in res.stdout, res.stderr
    for name in files:
        text = _file_text(tmp_path / "masked" / name)
        assert "500102********0020" in text, name
        assert _ids(text) == [], name
    assert _audit(cli_db) == []
    res = _run(*args, "--out", str(tmp_path / "full"), "--unmasked", "--operator", "sun")
    assert "1 differ" in res.stdout, res.stderr
    for name in files:
        assert set(_ids(_file_text(tmp_path / "full" / name))) == {DIBAO}, name
    [entry] = _audit(cli_db)
    assert (entry.detail["command"], entry.detail["target"]) == (
        "yibao resettle", str(tmp_path / "full"))  # fmt: skip


# -- stderr ------------------------------------------------------------------------------------


def test_masked_text_masks_id_numbers_only() -> None:
    from yibao.adapters.cli.common import masked_text

    text = f"tx T1: does not post encounter E20200220100000abc of {EMPLOYEE}; 50010219800315001X."
    assert masked_text(text) == (
        "tx T1: does not post encounter E20200220100000abc of 500102********0016; "
        "500102********001X."
    )


def test_an_error_line_names_no_id_number(cli_db: str) -> None:
    _loaded(cli_db)
    newcomer = "500102199501010061"  # not in the registry
    res = _run("registry", "history", "insurees", newcomer)
    assert res.exit_code == 2
    assert res.stderr == "insurees 500102********0061: no versions\n"
