"""The versioning rule: a change is a new version, the old one closed, never overwritten;
unchanged rows write nothing; periods never overlap; who and when are recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.registry_data import EMPLOYEE, EXAMPLES, disease, load_examples, put
from yibao.core.errors import InvalidFile
from yibao.core.registry import KINDS
from yibao.services.registry.files import import_rows
from yibao.store.registry_tables import ChangeSet
from yibao.store.uow import UnitOfWork


def _all_versions(uow: UnitOfWork, kind: str) -> int:
    with uow:
        reg = uow.registry(kind)
        return int(uow.session.execute(select(func.count()).select_from(reg.table)).scalar_one())


def _change_sets(uow: UnitOfWork) -> int:
    with uow:
        return int(uow.session.execute(select(func.count()).select_from(ChangeSet)).scalar_one())


def test_new_then_unchanged_writes_nothing(uow: UnitOfWork) -> None:
    first = put(uow, "diseases", disease("B99.900"), disease("J18.900"))
    assert (first.inserted, first.superseded, first.unchanged) == (2, 0, 0)
    assert first.change_set is not None
    again = put(uow, "diseases", disease("B99.900"), disease("J18.900"))
    assert (again.inserted, again.superseded, again.unchanged, again.change_set) == (0, 0, 2, None)
    assert _all_versions(uow, "diseases") == 2
    assert _change_sets(uow) == 1


def test_a_changed_row_closes_the_old_version(uow: UnitOfWork) -> None:
    put(uow, "diseases", disease("B99.900", name="旧名"), actor="alice")
    done = put(uow, "diseases", disease("B99.900", name="新型冠状病毒感染的肺炎"), actor="bob")
    assert (done.inserted, done.superseded) == (1, 1)
    with uow:
        history = uow.diseases.history(code="B99.900")
        current = uow.diseases.where(code="B99.900")
    assert [(h.name, h.actor, h.superseded_by) for h in history] == [
        ("旧名", "alice", done.change_set),
        ("新型冠状病毒感染的肺炎", "bob", None),
    ]
    assert [c.name for c in current] == ["新型冠状病毒感染的肺炎"]
    assert history[0].recorded_at is not None


def test_closing_a_period_and_opening_the_next_in_one_file(uow: UnitOfWork) -> None:
    put(uow, "diseases", disease("B99.900", valid_from="2020-01-23"))
    done = put(
        uow,
        "diseases",
        disease("B99.900", valid_from="2020-01-23", valid_to="2020-02-12"),
        disease("B99.900", valid_from="2020-02-13", name="改名"),
    )
    assert (done.inserted, done.superseded) == (2, 1)
    with uow:
        on = {
            d: [r.name for r in uow.diseases.where(code="B99.900", on=d)]
            for d in (dt.date(2020, 1, 22), dt.date(2020, 2, 1), dt.date(2020, 3, 1))
        }
    assert on == {
        dt.date(2020, 1, 22): [],
        dt.date(2020, 2, 1): ["病种B99.900"],
        dt.date(2020, 3, 1): ["改名"],
    }


def test_a_period_overlapping_a_stored_one_is_refused(uow: UnitOfWork) -> None:
    put(uow, "diseases", disease("B99.900", valid_from="2020-01-23"))
    with pytest.raises(InvalidFile) as exc:
        put(uow, "diseases", disease("J18.900"), disease("B99.900", valid_from="2020-02-13"))
    where, why = exc.value.problems[0]
    assert where == "row 3, valid_from"
    assert "overlaps the stored version from 2020-01-23 to open" in why
    assert _all_versions(uow, "diseases") == 1  # J18.900 was not kept either


@pytest.mark.parametrize(
    ("rows", "row", "reason"),
    [
        ([disease("A"), disease("A")], 3, "is also row 2"),
        (
            [disease("A", valid_to="2020-05-01"), disease("A", valid_from="2020-05-01")],
            3,
            "overlaps row 2",
        ),
    ],
)
def test_duplicates_and_overlaps_within_a_file(
    uow: UnitOfWork, rows: list[dict[str, str]], row: int, reason: str
) -> None:
    with pytest.raises(InvalidFile) as exc:
        put(uow, "diseases", *rows)
    where, why = exc.value.problems[0]
    assert where.startswith(f"row {row},")
    assert reason in why


def test_mapping_must_name_a_known_provider_and_catalog_code(uow: UnitOfWork) -> None:
    load_examples(uow, "providers", "catalog")
    row = {
        "provider_code": "H50010200001",
        "hospital_code": "X-1",
        "code": "001204000010000",
        "approved_by": "审核员",
        "approved_on": "2020-01-24",
        "valid_from": "2020-01-24",
    }
    with pytest.raises(InvalidFile) as exc:
        put(
            uow,
            "mapping",
            row,
            row | {"hospital_code": "X-2", "provider_code": "H9"},
            row | {"hospital_code": "X-3", "code": "NOPE"},
        )
    assert exc.value.problems == [
        ("row 3, provider_code", "H9 is not in 定点医疗机构 providers"),
        ("row 4, code", "NOPE is not in 医保目录 catalog items and 临时新增编码"),
    ]
    assert put(uow, "mapping", row).inserted == 1


def test_one_date_and_title_per_protocol_edition(uow: UnitOfWork) -> None:
    row = {
        "edition": "5",
        "edition_title": "第五版",
        "code": "A",
        "name": "甲",
        "kind": "drug",
        "valid_from": "2020-02-05",
    }
    with pytest.raises(InvalidFile) as exc:
        put(uow, "protocol", row, row | {"code": "B", "valid_from": "2020-02-04"})
    assert exc.value.problems[0] == (
        "row 3, valid_from",
        "differs from row 2 of edition 5: one per edition",
    )


def test_personal_keys_are_masked_in_problems(uow: UnitOfWork) -> None:
    lines = (EXAMPLES / "insurees.csv").read_text(encoding="utf-8").splitlines()
    rows = [(n, line.split(",")) for n, line in enumerate([*lines[1:], lines[1]], start=2)]
    with pytest.raises(InvalidFile) as exc:
        import_rows(uow, KINDS["insurees"], lines[0].split(","), rows, source="f", actor="t")
    assert exc.value.problems[0][0] == f"row {len(lines) + 1}, valid_from"
    assert "psn_no 500102********0016 from 2020-01-01 is also row 2" in exc.value.problems[0][1]
    assert EMPLOYEE not in str(exc.value.problems)
