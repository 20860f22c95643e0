"""Bad input: every kind the contract names is refused with its key path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.golden.casefile import PUBLIC, load_case
from yibao.core.engine import parse_request, request_from_mapping, settle
from yibao.core.errors import InvalidRequest, NoPackApplies
from yibao.packs.files import load_pack

PACK = load_pack(PUBLIC / "packs" / "example-2020.yaml")
GOOD = load_case(PUBLIC / "employee-classes-a-b-c.yaml")["request"]


def _refused(doc: Any) -> str:
    with pytest.raises((InvalidRequest, NoPackApplies)) as exc:
        settle(request_from_mapping(doc), PACK)
    return str(exc.value)


def _mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    *head, last = path.split(".")
    node: Any = doc
    for key in head:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("insuree.scheme", KeyError, "insuree.scheme: missing key"),
        ("insuree.nickname", "x", "insuree.nickname: unknown key"),
        ("lines.0.price_e6", -1, "lines.0.price_e6"),
        ("lines.0.price_e6", 12.5, "lines.0.price_e6"),
        ("lines.0.price_e6", "100", "lines.0.price_e6"),
        ("lines.0.price_e6", 2**63, "lines.0.price_e6"),
        ("lines.1.qty_e4", None, "lines.1.qty_e4"),
        ("lines.1.qty_e4", -1, "lines.1.qty_e4"),
        ("lines.1.qty_e4", 2**63, "lines.1.qty_e4"),
        ("lines.1.qty_e4", 0.5, "lines.1.qty_e4"),
        ("lines.0.price_cap_e6", -1, "lines.0.price_cap_e6"),
        ("lines.0.price_cap_e6", 2**63, "lines.0.price_cap_e6"),
        ("lines.0.price_e6", KeyError, "lines.0.price_e6: missing key"),
        ("lines.0.price_fen", 100, "lines.0.price_fen: unknown key"),
        ("lines.0.qty_milli", 1000, "lines.0.qty_milli: unknown key"),
        ("lines.0.item_class", "D", "lines.0.item_class"),
        ("lines.0.category", "food", "lines.0.category"),
        ("lines.0.selfpay_bp", 10001, "lines.0.selfpay_bp"),
        ("lines.0.in_protocol", 1, "lines.0.in_protocol"),
        ("insuree.scheme", "farmer", "insuree.scheme"),
        ("provider.level", 4, "provider.level"),
        ("encounter.covid_status", "probable", "encounter.covid_status"),
        ("encounter.filing", "maybe", "encounter.filing"),
        ("encounter.discharge_date", "2020-13-01", "encounter.discharge_date"),
        ("encounter.admission_seq", 0, "encounter.admission_seq"),
        ("accumulators.basic_entitled_fen", -5, "accumulators.basic_entitled_fen"),
        ("accumulators.basic_paid_fen", -5, "accumulators.basic_paid_fen"),
        ("accumulators.serious_paid_fen", KeyError, "accumulators.serious_paid_fen: missing"),
        ("accumulators.assistance_paid_fen", 1.5, "accumulators.assistance_paid_fen"),
        ("insuree.account_balance_fen", True, "insuree.account_balance_fen"),
        ("encounter.diagnoses", "B99.900", "encounter.diagnoses"),
        ("lines", {}, "lines"),
    ],
)
def test_schema_errors_name_the_key(path: str, value: Any, named: str) -> None:
    assert named in _refused(_mutate(path, value))


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("insuree.resident_tier", 1, "insuree.resident_tier: must be null"),
        ("insuree.assistance_category", "rich", "insuree.assistance_category"),
        ("insuree.insured_region", "5001", "insuree.insured_region"),
        ("provider.region", "abcdef", "provider.region"),
        ("encounter.admit_date", "2020-12-01", "encounter.discharge_date"),
        ("encounter.transfer_from", "E0201", None),
    ],
)
def test_rule_errors(path: str, value: Any, named: str | None) -> None:
    doc = _mutate(path, value)
    if named is None:
        doc["encounter"]["transfer_from"] = doc["encounter"]["id"]
        named = "encounter.transfer_from"
    assert named in _refused(doc)


def test_resident_needs_a_tier() -> None:
    doc = _mutate("insuree.scheme", "resident")
    assert "insuree.resident_tier: a resident needs" in _refused(doc)


def test_duplicate_sn_names_the_second_line() -> None:
    doc = copy.deepcopy(GOOD)
    doc["lines"][1]["sn"] = doc["lines"][0]["sn"]
    assert "lines.1.sn: duplicate feedetl_sn" in _refused(doc)


def test_all_problems_are_collected() -> None:
    doc = _mutate("lines.0.price_e6", -1)
    doc["lines"][1]["qty_e4"] = -1
    with pytest.raises(InvalidRequest) as exc:
        request_from_mapping(doc)
    assert [p for p, _ in exc.value.problems] == ["lines.0.price_e6", "lines.1.qty_e4"]
    assert "(and 1 more)" in str(exc.value)


def test_a_line_whose_product_passes_the_bound_names_its_qty() -> None:
    # each value fits in 2^63 − 1; their product does not (SETTLEMENT.md §1)
    doc = _mutate("lines.1.price_e6", 10**12)
    doc["lines"][1]["qty_e4"] = 10**7
    assert "lines.1.qty_e4: price_e6 × qty_e4" in _refused(doc)
    doc["lines"][1]["qty_e4"] = 9_223_372  # 10^12 × 9,223,372 < 2^63 − 1: a line that fits
    s = settle(request_from_mapping(doc), PACK)
    assert s.setlinfo.medfee_sumamt == sum(ln.det_item_fee_sumamt for ln in s.lines)


def test_a_sub_fen_price_and_a_fractional_quantity_settle_to_the_fen() -> None:
    doc = _mutate("lines.0.price_e6", 58_300)  # 0.0583 yuan a tablet
    doc["lines"][0]["qty_e4"] = 420_000  # 42 tablets: 2.4486 yuan
    doc["lines"][0]["price_cap_e6"] = None
    doc["lines"][1]["qty_e4"] = 3_333  # a third of a unit, to the ten-thousandth
    s = settle(request_from_mapping(doc), PACK)
    first, second = s.lines[0], s.lines[1]
    assert first.det_item_fee_sumamt == 245
    price = doc["lines"][1]["price_e6"]
    assert second.det_item_fee_sumamt == (price * 3_333 + 50_000_000) // 100_000_000


def test_not_json() -> None:
    with pytest.raises(InvalidRequest, match="Invalid JSON"):
        parse_request(b"{not json")


def test_pack_must_cover_the_request() -> None:
    assert "does not cover" in _refused(_mutate("insuree.insured_region", "420106"))
    assert "does not cover" in _refused(_mutate("encounter.discharge_date", "2021-01-05"))


def test_a_pack_category_beyond_the_national_list_is_accepted() -> None:
    import yaml

    from yibao.core.policy import parse_pack

    doc = yaml.safe_load((PUBLIC / "packs" / "example-2020.yaml").read_text(encoding="utf-8"))
    doc["assistance"]["categories"]["orphan"] = {
        "ratio_bp": 10000,
        "cap_fen": 100,
        "include_out_of_scope": False,
    }
    pack = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    s = settle(request_from_mapping(_mutate("insuree.assistance_category", "orphan")), pack)
    assert 0 < s.setlinfo.maf_pay <= 100


def test_a_known_category_the_pack_omits_gets_no_assistance() -> None:
    import yaml

    from yibao.core.policy import parse_pack

    doc = yaml.safe_load((PUBLIC / "packs" / "example-2020.yaml").read_text(encoding="utf-8"))
    del doc["assistance"]["categories"]["poverty"]
    pack = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    s = settle(request_from_mapping(_mutate("insuree.assistance_category", "poverty")), pack)
    assert s.setlinfo.maf_pay == 0


def test_json_round_trip_of_a_good_request() -> None:
    req = parse_request(json.dumps(GOOD).encode())
    assert req.lines[0].sn == GOOD["lines"][0]["sn"]
