"""The demo district: deterministic, valid, idempotent."""

from __future__ import annotations

from collections import Counter

from yibao.core.registry import KINDS
from yibao.services.tools.demo.district import District, district_rows, load_demo
from yibao.store.uow import UnitOfWork


def _rows(insurees: int) -> dict[str, list[list[str]]]:
    return {kind: list(rows) for kind, rows in district_rows(insurees=insurees)}


def test_the_district_is_deterministic_and_every_row_is_valid() -> None:
    a, b = _rows(2000), _rows(2000)
    assert a == b
    for kind, rows in a.items():
        problems = [(n, p) for n, r in enumerate(rows) if (p := KINDS[kind].parse_row(r)[1])]
        assert problems == [], kind


def test_the_district_has_its_shape() -> None:
    spec = District.load().spec
    rows = _rows(spec["insurees"])
    providers = rows["providers"]
    assert len(providers) == 30
    assert sum(1 for p in providers if p[7]) == 2  # 定点救治医院
    assert Counter(p[4] for p in providers) == {"1": 22, "2": 6, "3": 2}
    assert len({p[3] for p in providers if p[3]}) == 20  # townships
    assert len({i[0] for i in rows["insurees"]}) == 50_000
    assert {i[2] for i in rows["insurees"]} == {"employee", "resident", "none"}
    assert {i[6] for i in rows["insurees"]} == {"none", "dibao", "tekun", "poverty"}
    assert 4900 <= len({(c[0], c[1]) for c in rows["catalog"]}) <= 5100
    assert any(c[7] for c in rows["catalog"])  # 临时新增编码
    assert {r[0] for r in rows["protocol"]} == {"1", "2", "3", "4", "5", "6"}
    assert {"B99.900", "U07.100x001", "Z03.800x001"} <= {d[0] for d in rows["diseases"]}
    assert {m[0] for m in rows["mapping"]} == {p[0] for p in providers}


def test_loading_twice_changes_nothing(uow: UnitOfWork) -> None:
    first = load_demo(uow, insurees=300)
    assert all(d.inserted == d.rows for d in first)
    second = load_demo(uow, insurees=300)
    assert [(d.inserted, d.superseded, d.change_set) for d in second] == [(0, 0, None)] * 6
