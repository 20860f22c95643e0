"""Imports lose nothing: every row checked first, bad files refused whole with row,
column and reason, re-imports change nothing; exports round-trip and mask by default."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from tests.registry_data import EMPLOYEE, EXAMPLES, NOW, load_examples
from yibao.core.errors import InvalidFile
from yibao.core.registry import KINDS
from yibao.core.registry.identity import check_char
from yibao.services.registry.files import export_file, import_file
from yibao.store.uow import UnitOfWork

HEADER = ",".join(KINDS["insurees"].names)


def _insuree_line(i: int, region: str = "500102") -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=i // 1000)
    body = f"{region}{born:%Y%m%d}{i % 1000:03d}"
    return f"{body + check_char(body)},参保人{i},employee,,500102,,none,,,100,true,2020-01-01,"


def _write(path: Path, lines: list[str], bom: bool = False) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig" if bom else "utf-8")
    return path


def _count(uow: UnitOfWork, kind: str) -> int:
    with uow:
        return uow.registry(kind).count_current()


def test_every_example_file_imports_and_reimports_unchanged(uow: UnitOfWork) -> None:
    first = load_examples(uow)
    assert all(d.inserted == d.rows > 0 and d.change_set for d in first)
    again = load_examples(uow)
    assert [(d.inserted, d.superseded, d.change_set) for d in again] == [(0, 0, None)] * 6


@pytest.mark.parametrize("bom", [True, False])
def test_csv_with_or_without_bom(uow: UnitOfWork, tmp_path: Path, bom: bool) -> None:
    path = _write(tmp_path / "i.csv", [HEADER, _insuree_line(1), _insuree_line(2)], bom)
    assert import_file(uow, "insurees", path, actor="t").inserted == 2


def test_chinese_headers_and_any_column_order(uow: UnitOfWork, tmp_path: Path) -> None:
    cols = list(reversed(KINDS["diseases"].columns))
    header = ",".join(c.label for c in cols)
    path = _write(tmp_path / "d.csv", [header, ",2020-01-23,渝医保发〔2020〕3号,新冠,B99.900"])
    assert import_file(uow, "diseases", path, actor="t").inserted == 1


def test_a_bad_file_is_refused_whole_naming_row_column_reason(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    good = [_insuree_line(i) for i in range(1, 6)]
    bad_id = good[2][:17] + ("0" if good[2][17] != "0" else "1") + good[2][18:]
    lines = [HEADER, good[0], good[1], bad_id, good[3].replace("employee", "staff"), good[4]]
    path = _write(tmp_path / "i.csv", lines)
    with pytest.raises(InvalidFile) as exc:
        import_file(uow, "insurees", path, actor="t")
    assert exc.value.problems == [
        ("row 4, psn_no", "not a valid ID number: check digit does not match (ISO 7064 MOD 11-2)"),
        ("row 5, scheme", "'staff' is not one of employee, resident, none"),
    ]
    assert exc.value.rows_with_problems == 2
    assert str(exc.value).startswith("i.csv: 2 rows refused, nothing imported; row 4, psn_no:")
    assert _count(uow, "insurees") == 0


def test_one_bad_row_among_thousands_is_named(uow: UnitOfWork, tmp_path: Path) -> None:
    lines = [HEADER, *(_insuree_line(i) for i in range(1, 5001))]
    lines[4321] = lines[4321].replace(",true,", ",yes please,")
    with pytest.raises(InvalidFile) as exc:
        import_file(uow, "insurees", _write(tmp_path / "big.csv", lines), actor="t")
    assert exc.value.problems == [
        ("row 4322, enrolled", "'yes please' is not true/false (1/0, 是/否)")
    ]
    assert _count(uow, "insurees") == 0


def test_problems_are_capped_but_counted(uow: UnitOfWork, tmp_path: Path) -> None:
    lines = [HEADER, *(_insuree_line(i).replace("employee", "x") for i in range(1, 51))]
    with pytest.raises(InvalidFile) as exc:
        import_file(uow, "insurees", _write(tmp_path / "i.csv", lines), actor="t", max_problems=3)
    assert len(exc.value.problems) == 3
    assert exc.value.rows_with_problems == 50


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("code,name,valid_from,colour", "unknown column 'colour'"),
        ("code,name", r"required column valid_from \(生效日期\) is missing"),
        ("code,name,valid_from,code", "column code appears twice"),
    ],
)
def test_header_problems(uow: UnitOfWork, tmp_path: Path, header: str, reason: str) -> None:
    path = _write(tmp_path / "d.csv", [header])
    with pytest.raises(InvalidFile, match=reason):
        import_file(uow, "diseases", path, actor="t")


def test_unreadable_files(uow: UnitOfWork, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"code,name,valid_from\n\xff\xfe,x,2020-01-01\n")
    with pytest.raises(InvalidFile, match="not UTF-8"):
        import_file(uow, "diseases", tmp_path / "x.csv", actor="t")
    (tmp_path / "x.xlsx").write_bytes(b"not a zip")
    with pytest.raises(InvalidFile, match=r"not an \.xlsx workbook"):
        import_file(uow, "diseases", tmp_path / "x.xlsx", actor="t")
    with pytest.raises(InvalidFile, match=r"unknown file type \.txt"):
        import_file(uow, "diseases", tmp_path / "x.txt", actor="t")
    with pytest.raises(InvalidFile, match="cannot read"):
        import_file(uow, "diseases", tmp_path / "none.csv", actor="t")


def test_xlsx_with_typed_cells(uow: UnitOfWork, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(KINDS["catalog"].names))
    day = dt.datetime(2020, 1, 1)  # noqa: DTZ001 - an Excel cell has no zone
    ws.append(["500000", "X1", "药", "drug", "B", 1000, 25_000_000.0, None, day, None])
    ws.append([])  # a trailing empty row is skipped
    wb.save(tmp_path / "c.xlsx")
    done = import_file(uow, "catalog", tmp_path / "c.xlsx", actor="t")
    assert (done.rows, done.inserted) == (1, 1)
    with uow:
        (row,) = uow.catalog.where(code="X1")
    assert (row.selfpay_bp, row.price_cap_e6, row.valid_from) == (
        1000,
        25_000_000,
        dt.date(2020, 1, 1),
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(uow: UnitOfWork, tmp_path: Path, fmt: str) -> None:
    load_examples(uow)
    for kind in KINDS:
        out = tmp_path / f"{kind}.{fmt}"
        n = export_file(uow, kind, out, unmasked=True)
        assert n == _count(uow, kind)
        done = import_file(uow, kind, out, actor="t", now=NOW)
        assert (done.inserted, done.superseded, done.change_set) == (0, 0, None), kind


def test_exports_mask_personal_data_by_default(uow: UnitOfWork, tmp_path: Path) -> None:
    load_examples(uow, "insurees")
    export_file(uow, "insurees", tmp_path / "masked.csv")
    text = (tmp_path / "masked.csv").read_text(encoding="utf-8-sig")
    assert "500102********0016,张**," in text
    assert EMPLOYEE not in text
    assert "张三丰" not in text
    with pytest.raises(InvalidFile, match="not a valid ID number"):
        import_file(uow, "insurees", tmp_path / "masked.csv", actor="t")


def test_export_as_of_a_date(uow: UnitOfWork, tmp_path: Path) -> None:
    load_examples(uow, "insurees")
    assert export_file(uow, "insurees", tmp_path / "all.csv") == 7  # both versions of 王建国
    assert export_file(uow, "insurees", tmp_path / "on.csv", as_of=dt.date(2020, 7, 1)) == 6


def test_a_changed_file_makes_versions_and_keeps_the_old(uow: UnitOfWork, tmp_path: Path) -> None:
    load_examples(uow, "insurees")
    text = (EXAMPLES / "insurees.csv").read_text(encoding="utf-8")
    changed = text.replace("320000", "330000")  # 张三丰's opening balance
    done = import_file(
        uow, "insurees", _write(tmp_path / "i.csv", changed.splitlines()), actor="clerk"
    )
    assert (done.inserted, done.superseded) == (1, 1)
    with uow:
        history = uow.insurees.history(psn_no=EMPLOYEE)
    assert [(h.account_opening_fen, h.actor) for h in history] == [
        (320000, "test"),
        (330000, "clerk"),
    ]
    assert history[0].superseded_by == done.change_set
