"""Registry rows for tests: the shipped example files, and rows built from dicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from yibao.core.registry import KINDS
from yibao.services.registry.files import Imported, import_file, import_rows
from yibao.store.uow import UnitOfWork

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "yibao" / "examples" / "registry"
ORDER = ("diseases", "providers", "catalog", "protocol", "mapping", "insurees")
NOW = dt.datetime(2020, 1, 24, 9, 30, tzinfo=dt.UTC)

# The example insurees (src/yibao/examples/registry/insurees.csv).
EMPLOYEE = "500102198003150016"  # 张三丰, account 320000
DIBAO = "500102195211080020"  # 李秀英, resident tier 1, 低保 since 2019
CHANGED = "500102199006300037"  # 王建国: resident to 06-30, employee from 07-01
TEKUN = "500230198702140045"  # 刘芳, 特困 2020-03-01..2020-12-31
NOT_ENROLLED = "500102201901010052"  # 陈小宝, enrolled false
CENTRE = "H50010200001"  # 涪陵区中心医院（示例）, 定点救治 from 2020-01-22


def load_examples(uow: UnitOfWork, *kinds: str) -> list[Imported]:
    return [
        import_file(uow, k, EXAMPLES / f"{k}.csv", actor="test", now=NOW) for k in (kinds or ORDER)
    ]


def put(uow: UnitOfWork, kind: str, *rows: dict[str, Any], actor: str = "test") -> Imported:
    """Import ``rows`` (column -> cell text; absent columns empty) into ``kind``."""
    names = KINDS[kind].names
    cells = [(n, [str(r.get(c, "")) for c in names]) for n, r in enumerate(rows, start=2)]
    return import_rows(uow, KINDS[kind], names, cells, source="test", actor=actor, now=NOW)


def disease(code: str, valid_from: str = "2020-01-01", **over: Any) -> dict[str, Any]:
    return {"code": code, "name": f"病种{code}", "valid_from": valid_from} | over
