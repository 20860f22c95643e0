"""Catalog resolution and snapshots on the example registries (src/yibao/examples/registry):
the treatment place's catalog on the service date, 对码, the 诊疗方案 edition in force,
临时新增编码; clear errors, never a guess."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from tests.registry_data import CENTRE, CHANGED, DIBAO, EMPLOYEE, TEKUN, load_examples
from yibao.core.engine import Accumulators, Encounter, SettleRequest, settle
from yibao.core.engine.model import ACCUMULATOR_FIELDS
from yibao.core.errors import InsureeNotImported, NotInCatalog, ProviderNotFound, UnmappedCode
from yibao.packs import shipped_pack
from yibao.packs.files import load_pack
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

FEB10 = dt.date(2020, 2, 10)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def test_hospital_codes_resolve_through_their_mapping(loaded: UnitOfWork) -> None:
    got = catalog.resolve_lines(loaded, CENTRE, [("YP-0002", FEB10), ("JC-0001", FEB10)])
    lopinavir, test_ = got
    assert (lopinavir.code, lopinavir.category, lopinavir.item_class) == (
        "XL04AXX999T000000000001",
        "drug",
        "C",
    )
    assert (lopinavir.in_protocol, lopinavir.temp_code) == (True, False)
    assert lopinavir.hospital_code == "YP-0002"
    assert (test_.code, test_.temp_code, test_.in_protocol) == ("T50000000012", True, True)


def test_national_codes_resolve_directly(loaded: UnitOfWork) -> None:
    it = catalog.resolve_line(loaded, CENTRE, "XJ05AXA159A001010101445", FEB10)
    assert (it.item_class, it.selfpay_bp, it.price_cap_e6, it.hospital_code) == (
        "B",
        1000,
        None,
        None,
    )


def test_the_most_specific_catalog_region_wins(loaded: UnitOfWork) -> None:
    here = catalog.resolve_line(loaded, CENTRE, "C14010000001", FEB10)
    assert (here.catalog_region, here.price_cap_e6) == ("500102", 300_000_000)
    elsewhere = catalog.resolve_line(loaded, "H50010300001", "C14010000001", FEB10)
    assert (elsewhere.catalog_region, elsewhere.price_cap_e6) == ("500000", 320_000_000)


def test_the_version_in_force_on_the_date(loaded: UnitOfWork) -> None:
    code = "XA10BAA085A001010100001"
    before = catalog.resolve_line(loaded, CENTRE, code, dt.date(2020, 6, 30))
    after = catalog.resolve_line(loaded, CENTRE, code, dt.date(2020, 7, 1))
    assert (before.item_class, before.selfpay_bp) == ("A", 0)
    assert (after.item_class, after.selfpay_bp) == ("B", 500)


def test_in_protocol_follows_the_edition_in_force(loaded: UnitOfWork) -> None:
    # The nucleic-acid test joins the list with edition 5 (2020-02-05).
    early = catalog.resolve_line(loaded, CENTRE, "JC-0001", dt.date(2020, 1, 28))
    late = catalog.resolve_line(loaded, CENTRE, "JC-0001", dt.date(2020, 2, 5))
    assert (early.protocol_edition, early.in_protocol, early.temp_code) == (3, False, True)
    assert (late.protocol_edition, late.in_protocol) == (5, True)
    none_yet = catalog.resolve_line(loaded, CENTRE, "ZL-0001", dt.date(2020, 1, 10))
    assert (none_yet.protocol_edition, none_yet.in_protocol) == (None, False)
    assert catalog.protocol_edition_on(loaded, dt.date(2020, 2, 4)) == 3


def test_an_expired_mapping_is_unmapped_naming_code_hospital_and_date(loaded: UnitOfWork) -> None:
    with pytest.raises(UnmappedCode) as exc:
        catalog.resolve_line(loaded, CENTRE, "CW-0001", dt.date(2020, 4, 1))
    msg = str(exc.value)
    assert msg.startswith(
        f"hospital code CW-0001 of provider {CENTRE} is not mapped (对码) on 2020-04-01"
    )
    assert exc.value.code == "unmapped-code"


def test_an_unknown_code_is_not_in_catalog(loaded: UnitOfWork) -> None:
    with pytest.raises(NotInCatalog) as exc:
        catalog.resolve_lines(loaded, CENTRE, [("ZL-0001", FEB10), ("NOPE-1", FEB10)])
    assert str(exc.value) == (
        f"code NOPE-1 of provider {CENTRE}: not in the catalog of the treatment place 500102 "
        "on 2020-02-10"
    )
    assert exc.value.code == "not-in-catalog"


def test_a_code_not_yet_in_the_catalog(loaded: UnitOfWork) -> None:
    # The temporary code for the nucleic-acid test exists from 2020-01-24.
    with pytest.raises(NotInCatalog, match=r"code T50000000012 of provider .* on 2020-01-23"):
        catalog.resolve_line(loaded, CENTRE, "T50000000012", dt.date(2020, 1, 23))


def test_unknown_provider(loaded: UnitOfWork) -> None:
    with pytest.raises(ProviderNotFound, match="provider H0: no version in force on 2020-02-10"):
        catalog.resolve_line(loaded, "H0", "ZL-0001", FEB10)


def test_many_lines_take_a_fixed_number_of_queries(loaded: UnitOfWork) -> None:
    codes = ["YP-0001", "YP-0002", "JC-0001", "ZL-0001", "HC-0001", "CW-0001"]
    lines = [(c, FEB10 + dt.timedelta(days=i % 3)) for i, c in enumerate(codes * 5)]
    seen: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    with loaded:
        event.listen(loaded.engine, "before_cursor_execute", count)
        try:
            got = catalog.resolve_lines(loaded, CENTRE, lines)
        finally:
            event.remove(loaded.engine, "before_cursor_execute", count)
    assert len(got) == 30
    assert len(seen) == 5  # provider, mapping, catalog, editions, protocol: not per line


def test_insuree_snapshot_as_of_a_date(loaded: UnitOfWork) -> None:
    s = catalog.insuree_snapshot(loaded, DIBAO, FEB10)
    assert (s.scheme, s.resident_tier, s.assistance_category, s.enrolled) == (
        "resident",
        1,
        "dibao",
        True,
    )
    tekun_before = catalog.insuree_snapshot(loaded, TEKUN, FEB10)
    tekun_after = catalog.insuree_snapshot(loaded, TEKUN, dt.date(2020, 3, 1))
    assert (tekun_before.assistance_category, tekun_after.assistance_category) == ("none", "tekun")
    assert catalog.insuree_snapshot(loaded, CHANGED, dt.date(2020, 6, 30)).scheme == "resident"
    assert catalog.insuree_snapshot(loaded, CHANGED, dt.date(2020, 7, 1)).scheme == "employee"
    batch = catalog.insuree_snapshots(loaded, [EMPLOYEE, DIBAO, "500102198001010036"], FEB10)
    assert sorted(batch) == sorted([EMPLOYEE, DIBAO])


def test_an_insuree_not_imported_is_its_own_error_with_the_id_masked(loaded: UnitOfWork) -> None:
    with pytest.raises(InsureeNotImported) as exc:
        catalog.insuree_snapshot(loaded, EMPLOYEE, dt.date(2019, 12, 31))
    assert exc.value.code == "insuree-not-imported"
    assert "500102********0016" in str(exc.value)
    assert EMPLOYEE not in str(exc.value)


def test_provider_snapshot_as_of_a_date(loaded: UnitOfWork) -> None:
    before = catalog.provider_snapshot(loaded, CENTRE, dt.date(2020, 1, 21))
    after = catalog.provider_snapshot(loaded, CENTRE, dt.date(2020, 1, 22))
    assert (before.designated, before.covid_designated) == (True, False)
    assert after.covid_designated
    assert (after.engine().covid_designated, after.engine().level) == (True, 3)


def test_disease_codes_on_a_date(loaded: UnitOfWork) -> None:
    codes = ["B99.900", "U07.100x001", "J18.900", "X00.000"]
    assert catalog.disease_codes_on(loaded, codes, dt.date(2020, 2, 1)) == {"B99.900", "J18.900"}
    assert catalog.disease_codes_on(loaded, codes, dt.date(2020, 2, 13)) == {
        "B99.900",
        "U07.100x001",
        "J18.900",
    }


def test_a_request_built_from_the_store_settles_one_stop(loaded: UnitOfWork) -> None:
    """A confirmed employee at the designated centre pays nothing (渝医保发〔2020〕3号 二（一）)."""
    day = FEB10
    insuree = catalog.insuree_snapshot(loaded, EMPLOYEE, day)
    provider = catalog.provider_snapshot(loaded, CENTRE, day)
    items = catalog.resolve_lines(
        loaded, CENTRE, [(c, day) for c in ("YP-0001", "YP-0002", "JC-0001", "HC-0001")]
    )
    lines = tuple(it.line(str(i), 260_000_000, 20_000) for i, it in enumerate(items, start=1))
    req = SettleRequest(
        insuree=insuree.engine(account_balance_fen=insuree.account_opening_fen),
        provider=provider.engine(),
        encounter=Encounter(
            "E1", "21", dt.date(2020, 2, 1), day, ("B99.900",), "confirmed", "not_needed", 1, None
        ),
        lines=lines,
        accumulators=Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0)),
    )
    result = settle(req, load_pack(shipped_pack("cq-2020")))
    assert result.covid
    assert result.setlinfo.psn_cash_pay == 0
    assert result.setlinfo.acct_pay == 0
