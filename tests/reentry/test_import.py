"""``yibao deferred import``: every row checked first, one batch pass equal to settling
one by one through the service, idempotent re-import, deferral of stays not enrolled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.reentry.files import load_people, many_rows, small_rows, write_csv
from tests.registry_data import load_examples
from yibao.core.engine.model import SETLINFO_FIELDS
from yibao.core.errors import InvalidRequest
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.services.stays.reentry import capture_file as offline_file
from yibao.services.stays.reentry.imports import import_file, source_key_of
from yibao.store import bulk
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 20, 10, 0, tzinfo=CST)
CLERK = Principal("cli:test", "clerk", None)


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


def _settled(uow: UnitOfWork) -> dict[str, tuple[int, ...]]:
    with uow:
        rows = uow.hospital.settlements(kinds=("settlement",))
        standing = {r.settlement_id for r in uow.hospital.encounters(
            provider_code=None, psn_no=None, status="settled", limit=10**6, offset=0)}  # fmt: skip
    return {r.encounter_id: tuple(r.record["setlinfo"][f] for f in SETLINFO_FIELDS)
            for r in rows if r.id in standing}  # fmt: skip


def test_import_settles_defers_and_equals_the_service_one_by_one(
    uow: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    load_examples(uow)
    path = write_csv(tmp_path / "offline.csv", small_rows())
    got = import_file(uow, ctx, CLERK, path, out=tmp_path / "r.csv", per_transaction=1)
    assert (got.stays, got.settled, got.deferred, got.already) == (4, 3, 1, 0)
    assert reports.ledger_problems(uow, ctx.packs) == []
    result = pl.read_csv(tmp_path / "r.csv")
    assert sorted(result["status"].to_list()) == ["deferred", "settled", "settled", "settled"]
    zy2 = result.filter(pl.col("encounter_no") == "ZY2").row(0, named=True)
    assert zy2["difference_fen"] == zy2["psn_cash_pay"] - 5000
    zy3 = result.filter(pl.col("encounter_no") == "ZY3").row(0, named=True)
    assert (zy3["psn_cash_pay"], zy3["fiscal_pay"] > 0) == (0, True)  # confirmed: pays nothing
    zy4 = result.filter(pl.col("encounter_no") == "ZY4").row(0, named=True)
    deferred = uc.encounter(uow, CLERK, zy4["encounter_id"])
    assert deferred.status == "deferred"
    # new stays take consecutive ids in settlement order, their file key beside (0095)
    with uow:
        keys = {e.id: e.source_key for e in bulk.lock_encounters(
            uow.session, result["encounter_id"].to_list())}  # fmt: skip
    assert keys[zy4["encounter_id"]] == source_key_of("H50010200001", "ZY4")
    assert sorted(keys) == sorted(result["encounter_id"].to_list())
    assert len({i[:-9] for i in keys}) == 1
    assert all(len(i) == 30 for i in keys)
    batch = _settled(uow)
    # idempotent: the same file again changes nothing
    with uow:
        before = uow.hospital.counts()
    again = import_file(uow, ctx, CLERK, path, out=None)
    assert (again.settled, again.already, again.deferred) == (0, 4, 0)
    with uow:
        assert uow.hospital.counts() == before
    # reverse everything through the service, then settle one by one in queue order
    for eid, _ in sorted(batch.items(), reverse=True):
        uc.reverse(uow, ctx, CLERK, uc.encounter(uow, CLERK, eid).settlement_id or "")
    hospital = Principal("k", "hospital", "H50010200001")
    order = sorted(batch, key=lambda e: (uc.encounter(uow, CLERK, e).discharge_date, e))
    one_by_one = {e: tuple(uc.settle(uow, ctx, hospital, e).settlement.setlinfo) for e in order}
    assert one_by_one == batch
    assert reports.ledger_problems(uow, ctx.packs) == []


def test_a_bad_file_is_refused_whole_naming_row_and_column(
    uow: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    load_examples(uow)
    rows = small_rows()
    rows[1]["price_e6"] = "12.5"
    rows[4]["admit_time"] = "yesterday"
    rows[7]["code"] = "NO-SUCH-CODE"
    rows[10]["diagnoses"] = "B99.900"  # differs from the stay's first line
    rows.append(dict(rows[0]))  # an identical repeat: dropped, not a problem
    with uow:
        before = uow.hospital.counts()
    with pytest.raises(InvalidRequest) as exc:
        import_file(uow, ctx, CLERK, write_csv(tmp_path / "bad.csv", rows), out=None)
    where = {p[0] for p in exc.value.problems}
    assert {"row 3.price_e6", "row 6.admit_time", "row 12.diagnoses"} <= where
    assert "nothing stored" in str(exc.value)
    with uow:
        assert uow.hospital.counts() == before
    rows = small_rows()
    rows[7]["code"] = "NO-SUCH-CODE"
    with pytest.raises(InvalidRequest) as exc:
        import_file(uow, ctx, CLERK, write_csv(tmp_path / "bad2.csv", rows), out=None)
    assert [p[0] for p in exc.value.problems] == ["row 9.code"]
    with uow:
        assert uow.hospital.counts() == before


def test_the_template_and_excel_and_parquet_read_alike(
    uow: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    people = load_people(uow, 12)
    offline_file.write_template(tmp_path / "t.xlsx")
    template = offline_file.read_file(tmp_path / "t.xlsx")
    assert template.columns[1:] == list(offline_file.NAMES)
    assert template.height == 1
    rows = many_rows(people, 20, 4)
    csv = offline_file.read_file(write_csv(tmp_path / "f.csv", rows))
    csv.drop("row").write_parquet(tmp_path / "f.parquet")
    assert offline_file.read_file(tmp_path / "f.parquet").equals(csv)
    got = import_file(uow, ctx, CLERK, tmp_path / "f.parquet", out=tmp_path / "r.xlsx")
    assert got.settled == 20
    assert offline_file.read_file  # the result opens as a workbook
    from openpyxl import load_workbook

    assert load_workbook(tmp_path / "r.xlsx").active.max_row == 21  # type: ignore[union-attr]
    assert reports.ledger_problems(uow, ctx.packs) == []
