"""The one Alembic chain goes up and down on both databases and matches the models."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import drop_schema, make_schema
from yibao.core.errors import StoreNotReady
from yibao.core.registry import KINDS
from yibao.store import migrate
from yibao.store.db import Base, make_engine
from yibao.store.registry_tables import model_for


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"mig_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    yield make_schema(schema)
    drop_schema(schema)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_up_down_up(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    with pytest.raises(StoreNotReady, match="yibao db upgrade"):
        migrate.check_current(empty_url)
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(empty_url)
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert _tables(empty_url) <= {"alembic_version"}
    migrate.upgrade(empty_url)
    migrate.check_current(empty_url)


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_unreachable_database_is_store_not_ready() -> None:
    with pytest.raises(StoreNotReady, match="cannot connect"):
        migrate.current("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")


def test_tables_hold_the_registry_columns() -> None:
    bookkeeping = {"id", "change_set_id", "superseded_by"}
    for name, kind in KINDS.items():
        cols = [c.name for c in model_for(name).__table__.columns]  # type: ignore[attr-defined]
        assert sorted(set(cols) - bookkeeping) == sorted(kind.names), name


def test_service_tables_are_migrated(db_url: str) -> None:
    from yibao.store import service_tables as hospital

    names = {t.__tablename__ for t in (
        hospital.ApiKey, hospital.Encounter, hospital.EncounterEvent, hospital.FeeLineRow,
        hospital.SettlementRow, hospital.Accumulator, hospital.AccountBalance,
        hospital.JournalTransaction, hospital.JournalPosting, hospital.AuditEntry,
        hospital.RequestRecord, hospital.Compensation)}  # fmt: skip
    assert names <= _tables(db_url)


def test_append_only_tables_refuse_update_and_delete(db_url: str) -> None:
    """The journal, encounter events and the audit log: a trigger refuses any change."""
    import datetime as dt

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(db_url)
    at = dt.datetime(2020, 2, 10, tzinfo=dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, role, action, entity, entity_id, detail) "
                    "VALUES (:at, 'k1', 'admin', 'test', 'key', 'k1', '{}')"
                ),
                {"at": at},
            )
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM audit_log")).scalar_one() == "k1"
    finally:
        engine.dispose()


def test_0006_gives_stays_re_entered_before_their_id_as_source_key(empty_url: str) -> None:
    """Until 0006 a re-entered stay's id was its file key (F + 29 hex); API stays (M…)
    have none."""
    from sqlalchemy import text

    migrate.upgrade(empty_url, "0005")
    engine = make_engine(empty_url)
    row = ("'{id}', 'H50010200001', '500102198003150016', '500102', '21', "
           "'2020-02-03 01:00:00', '2020-02-03', '[]', 'none', 'not_needed', 'discharged', 1, "
           "'2020-02-03 01:00:00', '2020-02-03 01:00:00'")  # fmt: skip
    cols = (
        "id, provider_code, psn_no, insured_region, med_type, admit_time, admit_date, "
        "diagnoses, covid_status, filing, status, version, created_at, updated_at"
    )
    try:
        with engine.begin() as conn:
            for eid in ("F" + "a" * 29, "M20200203090000abcdef"):
                conn.execute(text(f"INSERT INTO encounters ({cols}) VALUES "
                                  f"({row.format(id=eid)})"))  # fmt: skip
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT id, source_key FROM encounters")).all())
    finally:
        engine.dispose()
    assert got == {"F" + "a" * 29: "F" + "a" * 29, "M20200203090000abcdef": None}


# -- 0007: contract v2 -------------------------------------------------------------------

_PACK = Path(__file__).parents[1] / "golden" / "public" / "packs" / "example-2020.yaml"
_PSN = "500102198008011234"
_AT = "2020-03-{:02d} 0{}:00:00"


def _v1_settle(policy: Any, eid: str, seq: int, yuan: int, before: Any) -> Any:
    """What contract v1 paid: the paid form with P = H(E) (SETTLEMENT.md §6), i.e. the
    v2 engine given the paid accumulators each entitlement implies."""
    from yibao.core.engine import settle
    from yibao.core.engine.model import (
        Accumulators,
        Encounter,
        Insuree,
        Line,
        Provider,
        SettleRequest,
    )
    from yibao.core.engine.rules import SCALAR, serious_entitled

    table = policy.serious["resident"]
    g = serious_entitled(before[1], table, SCALAR) if before[1] > table.threshold_fen else 0
    cap = policy.basic_cap_fen["resident"]
    implied = Accumulators(
        basic_entitled_fen=before[0], basic_paid_fen=min(before[0], cap),
        serious_base_fen=before[1], serious_paid_fen=g,
        assistance_entitled_fen=before[2], assistance_paid_fen=0)  # fmt: skip
    line = Line(sn="1", code="SA0000001", category="service", item_class="A", selfpay_bp=0,
                price_e6=yuan * 10**6, qty_e4=10**4, price_cap_e6=None, in_protocol=False,
                temp_code=False)  # fmt: skip
    req = SettleRequest(
        insuree=Insuree(id=_PSN, scheme="resident", resident_tier=1, insured_region="500102",
                        assistance_category="none", account_balance_fen=0, enrolled=True),
        provider=Provider(code="H50010200001", region="500102", level=3, covid_designated=False),
        encounter=Encounter(id=eid, med_type="21", admit_date=dt.date(2020, 3, 2),
                            discharge_date=dt.date(2020, 3, 12), diagnoses=("J18.900",),
                            covid_status="none", filing="not_needed", admission_seq=seq,
                            transfer_from=None),
        lines=(line,), accumulators=implied)  # fmt: skip
    return settle(req, policy)


def _entitled(a: Any) -> list[int]:
    return [a.basic_entitled_fen, a.serious_base_fen, a.assistance_entitled_fen]


def _paid(i: Any, sign: int = 1) -> list[int]:
    return [sign * i.hifp_pay, sign * (i.hifmi_pay + i.hifob_pay), sign * i.maf_pay]


def _populate_0006(url: str) -> dict[str, Any]:
    """Issue 14's year stored by contract v1 — A settled, B settled, A reversed, A settled
    again (v1's plain form: basic 0, serious 2,454,000) — with fee lines (a refund, sub-fen
    free), a catalog price cap and the accumulators; what 0007 must turn it into."""
    from sqlalchemy import text

    from yibao.packs.files import load_pack
    from yibao.services.encounters.records import settlement_row
    from yibao.store.settlement_record import record_to_v1, settlement_record

    policy = load_pack(_PACK)
    a = _v1_settle(policy, "EA", 1, 82_800, [0, 0, 0])
    b = _v1_settle(policy, "EB", 2, 400_000, _entitled(a.accumulators_after))
    moved = zip(
        _entitled(b.accumulators_after),
        _entitled(a.accumulators_after),
        _entitled(a.accumulators_before),
        strict=True,
    )
    after_rev = [x - (y - z) for x, y, z in moved]  # B's, less what A moved
    a2 = _v1_settle(policy, "EA", 3, 82_800, after_rev)
    assert (a2.setlinfo.hifp_pay, a2.setlinfo.hifmi_pay) == (0, 2_454_000)  # v1's answer
    engine = make_engine(url)
    enc = ("'{id}', 'H50010200001', '" + _PSN + "', '500102', '21', '2020-03-02 01:00:00', "
           "'2020-03-02', '[]', 'none', 'not_needed', 'settled', 1, '2020-03-02 01:00:00', "
           "'2020-03-02 01:00:00'")  # fmt: skip
    cols = (
        "id, provider_code, psn_no, insured_region, med_type, admit_time, admit_date, "
        "diagnoses, covid_status, filing, status, version, created_at, updated_at"
    )
    rows, v1, ent = [], {}, {}
    steps = (
        (a, "SA", "settlement", None, a.accumulators_before, a.accumulators_after, 1),
        (b, "SB", "settlement", None, b.accumulators_before, b.accumulators_after, 2),
        (a, "RA", "reversal", "SA", b.accumulators_after, None, 3),
        (a2, "SA2", "settlement", None, a2.accumulators_before, a2.accumulators_after, 4),
    )
    for s, sid, kind, rev, before, after, n in steps:
        row = settlement_row(s, setl_id=sid, encounter_id=s.encounter_id,
                             provider_code="H50010200001", psn_no=_PSN, year=2020,
                             booked_on=dt.date(2020, 3, 12),
                             settled_at=dt.datetime(2020, 3, 12, n, tzinfo=dt.UTC),
                             discharge_date=dt.date(2020, 3, 12), msgid=None, actor="t",
                             med_type="21", clr_type="70", central_share_bp=0,
                             balance_before_fen=0, balance_after_fen=0,
                             explained=False)  # fmt: skip
        record = record_to_v1(settlement_record(s))
        v1[sid] = record
        ent[sid] = (_entitled(before), after_rev if after is None else _entitled(after))
        row.update(
            kind=kind,
            reverses=rev,
            record=json.dumps(record),
            accumulators_before=json.dumps(_entitled(before)),
            accumulators_after=json.dumps(after_rev if after is None else _entitled(after)),
        )
        rows.append(row)
    try:
        with engine.begin() as conn:
            for eid in ("EA", "EB"):
                conn.execute(text(f"INSERT INTO encounters ({cols}) VALUES ({enc.format(id=eid)})"))
            names = list(rows[0])
            conn.execute(text(f"INSERT INTO settlements ({', '.join(names)}) VALUES "
                              f"({', '.join(':' + n for n in names)})"), rows)  # fmt: skip
            conn.execute(text(
                "INSERT INTO accumulators (psn_no, year, basic_entitled_fen, serious_base_fen, "
                "assistance_entitled_fen, updated_at) VALUES (:p, 2020, :b, :s, :m, :at)"),
                {"p": _PSN, "b": _entitled(a2.accumulators_after)[0],
                 "s": _entitled(a2.accumulators_after)[1], "m": 0, "at": "2020-03-12"})  # fmt: skip
            conn.execute(text(
                "INSERT INTO fee_lines (encounter_id, sn, reverses_sn, code, category, "
                "item_class, selfpay_bp, price_fen, qty_milli, amount_fen, price_cap_fen, "
                "in_protocol, temp_code, catalog_region, service_date, uploaded_at) VALUES "
                "('EA', :sn, :rev, 'C1', 'consumable', 'A', 0, :p, :q, :amt, :cap, false, false, "
                "'500102', '2020-03-03', '2020-03-03 01:00:00')"),
                [{"sn": "1", "rev": None, "p": 31_000, "q": 2_500, "amt": 77_500, "cap": 30_000},
                 {"sn": "2", "rev": "1", "p": 31_000, "q": -1_000, "amt": -31_000, "cap": 30_000},
                 {"sn": "3", "rev": None, "p": 1, "q": 1, "amt": 0, "cap": None}])  # fmt: skip
            conn.execute(text(
                "INSERT INTO change_sets (kind, source, actor, recorded_at, rows_read, "
                "rows_inserted, rows_superseded) VALUES ('import', 't', 't', '2020-01-01', 1, "
                "1, 0)"))  # fmt: skip
            cs = conn.execute(text("SELECT max(id) FROM change_sets")).scalar_one()
            conn.execute(text(
                "INSERT INTO catalog_items (region, code, name, category, item_class, "
                "selfpay_bp, price_cap_fen, valid_from, change_set_id) VALUES ('500102', "
                "'C1', '吸氧管', 'consumable', 'A', 0, 30000, '2020-01-01', :cs), ('500102', "
                "'C2', '无限价', 'consumable', 'A', 0, NULL, '2020-01-01', :cs)"),
                {"cs": cs})  # fmt: skip
    finally:
        engine.dispose()
    return {"a": a, "b": b, "a2": a2, "v1": v1, "entitled": ent}


def test_0007_converts_contract_v1_exactly(empty_url: str) -> None:
    """Fee lines ×10^4 / ×10, catalog caps ×10^4, the paid accumulators from the standing
    settlements, accumulators as objects with the running paid values, records v1 → v2;
    and back down to the same v1 data."""
    from sqlalchemy import text

    from yibao.store.settlement_record import settlement_from_record

    migrate.upgrade(empty_url, "0006")
    made = _populate_0006(empty_url)
    a, b, a2 = made["a"].setlinfo, made["b"].setlinfo, made["a2"].setlinfo
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)

    def js(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v

    try:
        with engine.connect() as conn:
            lines = conn.execute(text("SELECT sn, price_e6, qty_e4, amount_fen, price_cap_e6 "
                                      "FROM fee_lines ORDER BY sn")).all()  # fmt: skip
            caps = conn.execute(text("SELECT code, price_cap_e6 FROM catalog_items "
                                     "ORDER BY code")).all()  # fmt: skip
            acc = conn.execute(text("SELECT basic_entitled_fen, basic_paid_fen, "
                                    "serious_base_fen, serious_paid_fen, "
                                    "assistance_entitled_fen, assistance_paid_fen "
                                    "FROM accumulators")).one()  # fmt: skip
            setl = {
                r[0]: (js(r[1]), js(r[2]), js(r[3]))
                for r in conn.execute(
                    text(
                        "SELECT id, accumulators_before, accumulators_after, record "
                        "FROM settlements"
                    )
                )
            }
    finally:
        engine.dispose()
    assert [tuple(r) for r in lines] == [("1", 310_000_000, 25_000, 77_500, 300_000_000),
                                         ("2", 310_000_000, -10_000, -31_000, 300_000_000),
                                         ("3", 10_000, 10, 0, None)]  # fmt: skip
    assert [tuple(r) for r in caps] == [("C1", 300_000_000), ("C2", None)]
    ent = _entitled(made["a2"].accumulators_after)
    standing = [x + y for x, y in zip(_paid(b), _paid(a2), strict=True)]  # A reversed
    assert tuple(acc) == (ent[0], standing[0], ent[1], standing[1], ent[2], standing[2])
    assert standing[1] == 18_250_000 + 2_454_000  # v1's bug, now visible in the paid column

    def obj(entitled: list[int], paid: list[int]) -> dict[str, int]:
        return {"basic_entitled_fen": entitled[0], "basic_paid_fen": paid[0],
                "serious_base_fen": entitled[1], "serious_paid_fen": paid[1],
                "assistance_entitled_fen": entitled[2], "assistance_paid_fen": paid[2]}  # fmt: skip

    def plus(x: list[int], y: list[int]) -> list[int]:
        return [p + q for p, q in zip(x, y, strict=True)]

    zero = [0, 0, 0]
    after_b = plus(_paid(a), _paid(b))
    want = {
        "SA": (zero, _paid(a)),
        "SB": (_paid(a), after_b),
        "RA": (after_b, _paid(b)),
        "SA2": (_paid(b), standing),
    }
    for sid, (pb, pa) in want.items():
        before, after, record = setl[sid]
        eb, ea = made["entitled"][sid]
        assert before == obj(eb, pb), sid
        assert after == obj(ea, pa), sid
        assert record["v"] == 2
    for sid, s in (("SA", made["a"]), ("SB", made["b"]), ("SA2", made["a2"])):
        got = settlement_from_record(setl[sid][2])
        assert got.setlinfo == s.setlinfo, sid
        assert got.lines == s.lines, sid
        # the facts say how v1 computed (P = H(E)): the engine's own facts exactly
        assert got.facts == s.facts, sid
        assert got.accumulators_before.as_dict() == setl[sid][0], sid
        assert [t.amount for t in got.trace] == [t.amount for t in s.trace], sid
    assert setl["RA"][2] == setl["SA"][2]  # a reversal keeps its settlement's record
    f = settlement_from_record(setl["SA2"][2]).facts  # v1 paid G(S + base) − G(S):
    assert (f.serious_g_after_fen, f.serious_paid_before_fen) == (20_000_000, 17_546_000)
    assert setl["SA2"][0]["serious_paid_fen"] == 18_250_000  # what serious illness stood at

    migrate.downgrade(empty_url, "0006")
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            back = conn.execute(text("SELECT sn, price_fen, qty_milli, price_cap_fen FROM "
                                     "fee_lines ORDER BY sn")).all()  # fmt: skip
            records = {r[0]: js(r[1]) for r in conn.execute(text(
                "SELECT id, record FROM settlements"))}  # fmt: skip
            cap = conn.execute(text("SELECT price_cap_fen FROM catalog_items WHERE code = 'C1'")
                               ).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    assert [tuple(r) for r in back] == [("1", 31_000, 2_500, 30_000), ("2", 31_000, -1_000, 30_000),
                                        ("3", 1, 1, None)]  # fmt: skip
    assert cap == 30_000
    assert records == made["v1"]
