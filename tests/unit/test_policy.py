"""Pack loading: each validation rule of POLICY-PACKS.md has a test here."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from yibao.core.errors import NoPackApplies, PackError
from yibao.core.policy import PackSet, parse_pack, parse_spec
from yibao.core.policy.cite import uncited_clauses
from yibao.packs import shipped_pack
from yibao.packs.files import load_pack, load_packs, load_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "golden" / "public" / "packs" / "example-2020.yaml"


@pytest.fixture
def doc() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def _load(doc: dict[str, Any]) -> None:
    parse_pack(yaml.safe_dump(doc, allow_unicode=True), "bad.yaml")


def _error(doc: dict[str, Any]) -> str:
    with pytest.raises(PackError) as exc:
        _load(doc)
    msg = str(exc.value)
    assert msg.startswith("bad.yaml: ")
    assert "\n" not in exc.value.one_line()
    return msg


def test_example_and_shipped_packs_load() -> None:
    p = load_pack(EXAMPLE)
    assert p.id == "cq-2020-example"
    assert len(p.sha256) == 64
    cq = load_pack(shipped_pack("cq-2020"))
    assert [v.from_date for v in cq.overlay] == [
        dt.date(2020, 1, 23),
        dt.date(2020, 2, 13),
        dt.date(2020, 2, 20),
    ]


def test_shipped_pack_cites_only_its_sources() -> None:
    assert uncited_clauses(load_spec(shipped_pack("cq-2020"))) == []


def test_hash_ignores_layout_and_comments(doc: dict[str, Any]) -> None:
    a = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    b = parse_pack("# a comment\n" + yaml.safe_dump(doc, allow_unicode=True, indent=4))
    assert a.sha256 == b.sha256
    doc["ratio"]["bp"]["employee"][1] = 8999
    assert parse_pack(yaml.safe_dump(doc, allow_unicode=True)).sha256 != a.sha256


def test_unknown_key(doc: dict[str, Any]) -> None:
    doc["ratio"]["bonus_bp"] = 5
    assert "ratio.bonus_bp: unknown key" in _error(doc)


def test_unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["extra"] = 1
    assert "extra: unknown key" in _error(doc)


def test_missing_level(doc: dict[str, Any]) -> None:
    del doc["deductible"]["first_admission_fen"]["resident_2"][3]
    assert "deductible.first_admission_fen.resident_2: missing provider level 3" in _error(doc)


def test_missing_scheme(doc: dict[str, Any]) -> None:
    del doc["ratio"]["bp"]["resident_1"]
    assert "ratio.bp.resident_1" in _error(doc)


def test_missing_serious_scheme(doc: dict[str, Any]) -> None:
    del doc["serious"]["resident"]
    assert "serious.resident" in _error(doc)


def test_overlapping_overlay_versions(doc: dict[str, Any]) -> None:
    v2 = copy.deepcopy(doc["covid_overlay"][0])
    v2["from"] = dt.date(2020, 3, 1)
    doc["covid_overlay"].append(v2)
    assert "overlaps" in _error(doc)


def test_adjacent_overlay_versions_are_fine(doc: dict[str, Any]) -> None:
    v2 = copy.deepcopy(doc["covid_overlay"][0])
    doc["covid_overlay"][0]["to"] = dt.date(2020, 2, 29)
    v2["from"] = dt.date(2020, 3, 1)
    v2["statuses"] = ["confirmed", "suspected"]
    doc["covid_overlay"].append(v2)
    _load(doc)


def test_overlay_ends_before_it_starts(doc: dict[str, Any]) -> None:
    doc["covid_overlay"][0]["to"] = dt.date(2020, 1, 1)
    assert "covid_overlay.0" in _error(doc)


@pytest.mark.parametrize("value", [200.5, "20000", True, None])
def test_non_integer_money(doc: dict[str, Any], value: object) -> None:
    doc["deductible"]["first_admission_fen"]["employee"][1] = value
    assert "deductible.first_admission_fen.employee.1" in _error(doc)


def test_negative_money(doc: dict[str, Any]) -> None:
    doc["basic_cap"]["fen"]["employee"] = -1
    assert "basic_cap.fen.employee" in _error(doc)


@pytest.mark.parametrize("value", [-1, 10001])
def test_ratio_outside_range(doc: dict[str, Any], value: int) -> None:
    doc["ratio"]["bp"]["employee"][2] = value
    assert "ratio.bp.employee.2" in _error(doc)


def test_bands_not_increasing(doc: dict[str, Any]) -> None:
    doc["serious"]["resident"]["bands"][1]["upto_fen"] = 4000000
    assert "serious.resident" in _error(doc)
    assert "bands.1" in _error(doc)


def test_first_band_below_threshold(doc: dict[str, Any]) -> None:
    doc["serious"]["employee"]["bands"][0]["upto_fen"] = 500
    assert "must exceed 1000000" in _error(doc)


def test_last_band_must_be_open(doc: dict[str, Any]) -> None:
    doc["serious"]["employee"]["bands"][1]["upto_fen"] = 90000000
    assert "last band must be open" in _error(doc)


def test_only_last_band_open(doc: dict[str, Any]) -> None:
    doc["serious"]["employee"]["bands"][0]["upto_fen"] = None
    assert "only the last band" in _error(doc)


def test_validity_reversed(doc: dict[str, Any]) -> None:
    doc["valid_to"] = dt.date(2019, 1, 1)
    assert "valid_to" in _error(doc)


@pytest.mark.parametrize("pack_id", ["CQ 2020", "", "cq_2020"])
def test_pack_id(doc: dict[str, Any], pack_id: str) -> None:
    doc["pack"] = pack_id
    assert "pack:" in _error(doc)


def test_pooling_area_digits(doc: dict[str, Any]) -> None:
    doc["pooling_area"] = [50]
    assert "pooling_area.0" in _error(doc)


def test_bad_enumerations(doc: dict[str, Any]) -> None:
    doc["covid_overlay"][0]["subsidy_scope"] = "most"
    assert "covid_overlay.0.subsidy_scope" in _error(doc)
    doc["covid_overlay"][0]["subsidy_scope"] = "all"
    doc["account"]["may_pay"]["resident"] = "some"
    assert "account.may_pay.resident" in _error(doc)


def test_none_is_not_a_category(doc: dict[str, Any]) -> None:
    doc["assistance"]["categories"]["none"] = doc["assistance"]["categories"]["dibao"]
    assert "'none'" in _error(doc)


def test_missing_clause(doc: dict[str, Any]) -> None:
    del doc["account"]["clause"]
    assert "account.clause" in _error(doc)


def test_duplicate_yaml_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "valid_to: 2020-12-31", "valid_to: 2020-12-31\nvalid_to: 2021-12-31"
    )
    with pytest.raises(PackError, match="duplicate key 'valid_to'"):
        parse_pack(text, "dup.yaml")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(PackError, match=r"x\.yaml: not valid YAML"):
        parse_pack("a: [1, 2", "x.yaml")
    with pytest.raises(PackError, match="a pack is a YAML mapping"):
        parse_pack("- 1\n- 2\n", "x.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="cannot read pack"):
        load_pack(tmp_path / "absent.yaml")


def test_no_half_loaded_pack_in_a_folder(tmp_path: Path, doc: dict[str, Any]) -> None:
    (tmp_path / "a.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    doc["pack"] = "other"
    doc["ratio"]["bp"]["employee"][1] = 20000
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PackError, match=r"b\.yaml"):
        load_packs([tmp_path])


def test_same_id_different_content(tmp_path: Path, doc: dict[str, Any]) -> None:
    (tmp_path / "a.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    doc["title"] = "changed"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PackError, match="loaded twice"):
        load_packs([tmp_path])


def test_selection(doc: dict[str, Any]) -> None:
    a = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    doc2 = copy.deepcopy(doc)
    doc2.update(pack="sc-2020", pooling_area=["51"])
    b = parse_pack(yaml.safe_dump(doc2, allow_unicode=True))
    packs = PackSet([a, b])
    assert packs.select("500102", dt.date(2020, 5, 1)) is a
    assert packs.select("510104", dt.date(2020, 5, 1)) is b
    with pytest.raises(NoPackApplies, match="no policy pack"):
        packs.select("420106", dt.date(2020, 5, 1))
    with pytest.raises(NoPackApplies, match="2021-01-01"):
        packs.select("500102", dt.date(2021, 1, 1))
    doc3 = copy.deepcopy(doc)
    doc3["pack"] = "cq-2020-bis"
    c = parse_pack(yaml.safe_dump(doc3, allow_unicode=True))
    with pytest.raises(NoPackApplies, match="several"):
        PackSet([a, c]).select("500102", dt.date(2020, 5, 1))


def test_overlay_by_date_is_inclusive() -> None:
    cq = load_pack(shipped_pack("cq-2020"))
    assert cq.overlay_on(dt.date(2020, 1, 22)) is None
    v1 = cq.overlay_on(dt.date(2020, 1, 23))
    assert v1 is not None
    assert v1.to_date == dt.date(2020, 2, 12)
    assert cq.overlay_on(dt.date(2020, 2, 12)) is v1
    v3 = cq.overlay_on(dt.date(2020, 12, 31))
    assert v3 is not None
    assert "suspected" in v3.statuses


def test_uncited_clause_is_reported(doc: dict[str, Any]) -> None:
    doc["ratio"]["clause"] = "某某文件 第三条"
    spec = parse_spec(yaml.safe_dump(doc, allow_unicode=True))
    assert uncited_clauses(spec) == [("ratio", "某某文件 第三条")]


def test_central_share_is_data_by_status(doc: dict[str, Any]) -> None:
    """财社〔2020〕2号 一: 60 % for confirmed patients, from the pack (DECISIONS 0040)."""
    cq = load_pack(shipped_pack("cq-2020"))
    assert [v.central_share_for("confirmed") for v in cq.overlay] == [6000, 6000, 6000]
    assert [v.central_share_for("suspected") for v in cq.overlay] == [0, 0, 0]  # 视情
    assert {v.central_share_clause for v in cq.overlay} == {"财社〔2020〕2号 一"}
    before = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    assert before.overlay[0].central_share_bp == {}
    doc["covid_overlay"][0]["central_share"] = {"clause": "示例", "bp": {"suspected": 6001}}
    assert parse_pack(yaml.safe_dump(doc, allow_unicode=True)).sha256 != before.sha256


@pytest.mark.parametrize(
    ("share", "where"),
    [
        ({"clause": "示例", "bp": {"confirmed": 10001}}, "central_share.bp.confirmed"),
        ({"clause": "示例", "bp": {"none": 6000}}, "central_share.bp.none"),
        ({"clause": "示例", "bp": {}}, "central_share.bp"),
        ({"bp": {"confirmed": 6000}}, "central_share.clause"),
    ],
)
def test_bad_central_share(doc: dict[str, Any], share: dict[str, Any], where: str) -> None:
    doc["covid_overlay"][0]["central_share"] = share
    assert f"covid_overlay.0.{where}" in _error(doc)
