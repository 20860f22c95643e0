"""Paper filings imported from a township's sheet, all-or-nothing, both databases: one
bad row and nothing is written, every bad row named; a good CSV or XLSX becomes filings
forwarded to the district; the same file twice is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from tests.filings.test_workflow import DISTRICT, TOWNSHIP, SetClock
from tests.registry_data import DIBAO, EMPLOYEE, load_examples
from yibao.core.errors import Conflict, InvalidFile
from yibao.core.workdays import BEIJING
from yibao.packs import shipped_pack
from yibao.services import filings as fs
from yibao.services.encounters.context import Context
from yibao.services.filings.imports import import_filings
from yibao.store.uow import UnitOfWork

HEADER = ["类别", "人员编号", "就医地", "定点医院", "开始日期", "结束日期", "新冠", "申请时间"]
GOOD = [
    ["temporary", EMPLOYEE, "420100", "", "2020-01-25", "", "是", "2020-01-25T08:00:00+08:00"],
    ["long_stay", EMPLOYEE, "440300", "H44030000001;H44030000002", "2020-02-01", "2020-12-31",
     "否", ""],
]  # fmt: skip


@pytest.fixture
def env(uow: UnitOfWork) -> tuple[UnitOfWork, Context]:
    load_examples(uow, "providers", "insurees")
    clock = SetClock(dt.datetime(2020, 1, 26, 10, tzinfo=BEIJING))
    return uow, Context(Context.from_folder(shipped_pack("cq-2020")).packs, clock=clock)


def _csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8-sig")
    return path


def test_one_bad_row_and_nothing_is_imported(env, tmp_path: Path) -> None:
    uow, ctx = env
    bad = [*GOOD, ["abroad", EMPLOYEE, "4201", "", "2020-13-01", "", "也许", ""],
           ["temporary", DIBAO, "420100", "", "2020-02-01", "", "是", ""]]  # fmt: skip
    with pytest.raises(InvalidFile) as caught:
        import_filings(uow, ctx, TOWNSHIP, _csv(tmp_path / "f.csv", bad))
    where = [p for p, _ in caught.value.problems]
    assert "row 4, valid_from" in where
    assert "row 4, covid" in where
    assert "row 5, psn_no" in where  # 李秀英 is another township's
    assert caught.value.rows_with_problems == 2
    assert fs.queue(uow, ctx, DISTRICT) == []


def test_a_good_sheet_is_forwarded_whole_once(env, tmp_path: Path) -> None:
    uow, ctx = env
    path = tmp_path / "乡镇备案.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in [HEADER, *GOOD]:
        ws.append(r)
    wb.save(path)
    done = import_filings(uow, ctx, TOWNSHIP, path)
    assert len(done.filings) == 2
    queue = fs.queue(uow, ctx, DISTRICT)
    assert {f.state for f in queue} == {"forwarded"}
    assert {f.channel for f in queue} == {"import"}
    covid = fs.filing(uow, ctx, DISTRICT, next(f.id for f in queue if f.covid))
    assert [s.kind for s in covid.steps] == ["submitted", "accepted", "forwarded"]
    assert covid.due_at == dt.datetime(2020, 1, 27, 10, tzinfo=BEIJING)  # 24 h, 初三
    with pytest.raises(Conflict):
        import_filings(uow, ctx, TOWNSHIP, path)
