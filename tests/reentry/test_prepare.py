"""Everything the import does before it books is the plain form it replaced
(``tests/reentry/oracle.py``, the code of commit efd139e): the same typed frames or the
same problems from ``parse``, the same 本年第n次, and from ``_prepare`` the same stays,
new encounters, deferred stays, problems and resolved lines."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.reentry import oracle
from tests.reentry.files import CODES, load_people, many_rows, psn, row, write_csv
from tests.registry_data import (
    CENTRE,
    CHANGED,
    DIBAO,
    EMPLOYEE,
    NOT_ENROLLED,
    TEKUN,
    load_examples,
    put,
)
from yibao.core.errors import InvalidRequest
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.stays.reentry import capture_file as offline_file
from yibao.services.stays.reentry import imports as reentry
from yibao.services.stays.reentry.capture_file import NAMES
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 20, 10, 0, tzinfo=CST)
CLERK = Principal("cli:test", "clerk", None)


# -- parse -------------------------------------------------------------------------------

_TIMES = ("2020-02-03 09:00", "2020-02-03T09:00", "2020-02-03 09:00:30", "2020-02-05",
          "2020-02-03T09:00:30.25", "2020-02-04 23:59:59.999999", "2020-02-01 08:00")  # fmt: skip
_BAD_TIMES = ("yesterday", "2020-13-01 09:00", "2020/02/03 09:00", "")


def _file(rnd: random.Random, dirty: bool) -> pl.DataFrame:
    """A frame as ``read_file`` gives it: stays of a few lines, identical repeats, and
    (``dirty``) every kind of problem; in file order or shuffled."""
    ids = [psn(n) for n in range(6)]
    rows: list[dict[str, Any]] = []
    for n in range(rnd.randint(1, 25)):
        stay = {"provider_code": rnd.choice((CENTRE, "H50010200002")),
                "encounter_no": f"ZY{n % 17}", "insuree_id": rnd.choice(ids),
                "insured_region": rnd.choice((None, "500102")),
                "med_type": rnd.choice((None, "21")),
                "admit_time": rnd.choice(_TIMES[:2]), "discharge_time": rnd.choice(_TIMES[2:]),
                "diagnoses": rnd.choice(("J18.900", "B99.900;J18.900")),
                "covid_status": rnd.choice((None, "confirmed", "none")),
                "filing": rnd.choice((None, "registered")), "insutype": rnd.choice((None, "310")),
                "provisional_cash_fen": rnd.choice((None, "0", "5000"))}  # fmt: skip
        for sn in range(1, rnd.randint(1, 6)):
            code, price = rnd.choice(CODES)
            rows.append({**stay, "sn": str(sn), "code": code, "price_e6": str(price),
                         "qty_e4": rnd.choice(("5000", "10000")),
                         "service_time": rnd.choice((None, None, *_TIMES))})  # fmt: skip
            if rnd.random() < 0.1:
                rows.append(dict(rows[-1]))  # an identical repeat
    if dirty:
        for r in rnd.sample(rows, min(len(rows), rnd.randint(1, 4))):
            _spoil(rnd, r)
    if rnd.random() < 0.5:
        rnd.shuffle(rows)  # a stay's lines apart
    frame = pl.DataFrame([{c: r.get(c) for c in NAMES} for r in rows],
                         schema=dict.fromkeys(NAMES, pl.String))  # fmt: skip
    return frame.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64))


def _spoil(rnd: random.Random, r: dict[str, Any]) -> None:
    """One problem in a row (an insuree id that is not one: in a stay of its own)."""
    what = rnd.choice(("time", "before", "differs", "twin", "key", "number", "status", "id"))
    if what == "time":
        r[rnd.choice(("admit_time", "discharge_time", "service_time"))] = rnd.choice(_BAD_TIMES)
    elif what == "before":
        r["admit_time"], r["discharge_time"] = "2020-02-09 09:00", "2020-02-03 09:00"
    elif what == "differs":
        column = rnd.choice(offline_file.ENCOUNTER_COLUMNS[2:])
        r[column] = {"admit_time": "2020-02-02 10:00", "discharge_time": "2020-02-07",
                     "insuree_id": psn(99)}.get(column, "9")  # fmt: skip
    elif what == "twin":
        r["qty_e4"] = "7770"
        r["sn"] = "1"
    elif what == "key":
        r[rnd.choice(("provider_code", "encounter_no", "sn"))] = None
    elif what == "number":
        r[rnd.choice(("price_e6", "qty_e4", "amount_fen"))] = rnd.choice(("x", "-1", "12.5"))
    elif what == "status":
        r["covid_status"] = "maybe"
    else:
        good = psn(rnd.randrange(100, 10**6))
        bad = good[:-1] + ("1" if good[-1] == "0" else "0")
        r.update(insuree_id=bad, encounter_no=f"ALONE{rnd.random()}", sn="1")


def _parsed(parse: Any, frame: pl.DataFrame) -> Any:
    try:
        return parse(frame)
    except InvalidRequest as exc:
        return str(exc), exc.problems


@pytest.mark.parametrize("seed", range(80))
def test_parse_equals_the_old_parse(seed: int) -> None:
    frame = _file(random.Random(seed), dirty=seed % 2 == 1)
    new, old = _parsed(offline_file.parse, frame), _parsed(oracle.parse, frame)
    if isinstance(old, tuple):
        assert new == old
        return
    assert not isinstance(new, tuple), new
    assert_frame_equal(new.lines.drop("stay"), old.lines)
    key = ["provider_code", "encounter_no"]
    assert new.encounters.select(key)[new.lines["stay"]].equals(new.lines.select(key))
    assert_frame_equal(new.encounters, old.encounters)
    assert new.duplicates == old.duplicates


def test_the_random_files_reach_every_path() -> None:
    """Files parsed with identical repeats dropped, and files refused for each reason."""
    dropped, reasons = 0, set()
    for seed in range(80):
        got = _parsed(offline_file.parse, _file(random.Random(seed), dirty=seed % 2 == 1))
        if isinstance(got, tuple):
            reasons |= {f"{where.split('.')[1]}: {why}" for where, why in got[1]}
        else:
            dropped += got.duplicates
    assert dropped > 0
    for want in ("insuree_id: differs", "admit_time: differs", "sn: feedetl_sn repeated",
                 "discharge_time: before", "service_time: not a time", "sn: required",
                 "insuree_id: check", "covid_status: not", "price_e6: not"):  # fmt: skip
        assert any(r.startswith(want) for r in reasons), (want, sorted(reasons))


# -- 本年第n次 ----------------------------------------------------------------------------


def _encounters(rnd: random.Random, people: list[str], n: int) -> pl.DataFrame:
    """Stays of a few insurees admitted around new year (Beijing time), ties included."""
    start = dt.datetime(2019, 12, 31, 20, 0)  # noqa: DTZ001 (Beijing time, as the file's)
    hours = (0, 3, 3, 4, 27, 300, 1000, 1500)
    times = [start + dt.timedelta(hours=rnd.choice(hours)) for _ in range(n)]
    ids = [f"F{rnd.getrandbits(64):016x}" for _ in range(n)]
    return pl.DataFrame({"insuree_id": [rnd.choice(people) for _ in range(n)],
                         "admit_time": times, "encounter_id": ids},
                        schema={"insuree_id": pl.String, "admit_time": pl.Datetime("us"),
                                "encounter_id": pl.String}).sort("encounter_id")  # fmt: skip


def test_admission_seqs_equal_the_old_definition(
    uow: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    people = load_people(uow, 4)
    stored = write_csv(tmp_path / "before.csv", many_rows(people, 10, 2))
    reentry.import_file(uow, ctx, CLERK, stored, out=None)  # stays the store holds
    with uow:
        held = uow.session.execute(reentry_ids()).scalars().all()
    rnd = random.Random(5)
    for n in (1, 7, 40, 120):
        enc = _encounters(rnd, people[:3], n)
        if n == 40:  # a stay of the file the store holds too: counted once, as the file's
            enc = pl.concat([enc, enc.head(1).with_columns(encounter_id=pl.lit(held[0]))])
        enc = enc.sort("encounter_id")
        psns = sorted(set(enc["insuree_id"]))
        with uow:
            new = reentry._admission_seqs(uow, enc, psns)
            old = oracle._admission_seqs(uow, enc, psns)
        assert dict(zip(enc["encounter_id"], new, strict=True)) == old
        assert new.dtype == pl.Int64


def reentry_ids() -> Any:
    from sqlalchemy import select

    from yibao.store.service_tables import Encounter as E

    return select(E.id).order_by(E.id)


# -- _prepare -----------------------------------------------------------------------------


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


def _special_rows() -> list[dict[str, object]]:
    """Stays that take each branch: deferred (not enrolled, not imported), two versions,
    assistance from a date, COVID-19 from the diagnoses or said, a provider not found or
    not designated or of another region, no pack, a code not in the catalog."""
    out: list[dict[str, object]] = []

    def stay(no: str, who: str, admit: str, discharge: str, diag: str = "J18.900",
             **over: object) -> None:  # fmt: skip
        for n, (code, price) in enumerate(CODES[:2], start=1):
            out.append(row(no, who, admit, discharge, str(n), code, price, 10_000 * n, diag,
                           **over))  # fmt: skip

    stay("S1", NOT_ENROLLED, "2020-02-05 08:00", "2020-02-09 10:00")
    stay("S2", psn(991), "2020-02-05 08:00", "2020-02-09 10:00", insured_region="500103")
    stay("S3", psn(992), "2020-02-05 08:00", "2020-02-09 10:00")
    stay("S4", CHANGED, "2020-06-20 08:00", "2020-06-29 10:00")
    stay("S5", CHANGED, "2020-07-02 08:00", "2020-07-09 10:00")
    stay("S6", TEKUN, "2020-02-20 08:00", "2020-02-27 10:00")
    stay("S7", TEKUN, "2020-03-02 08:00", "2020-03-09 10:00")
    stay("S8", DIBAO, "2020-02-04 08:00", "2020-02-13 10:00", "B99.900")
    stay("S9", DIBAO, "2020-02-14 08:00", "2020-02-21 10:00", "J18.900;B99.900")
    stay("S10", EMPLOYEE, "2020-02-01 08:00", "2020-02-02 10:00", covid_status="suspected")
    stay("S11", EMPLOYEE, "2020-12-30 08:00", "2021-01-02 10:00")  # no pack in 2021
    stay("S12", EMPLOYEE, "2020-02-03 08:00", "2020-02-05 10:00", provider_code="H99999999999")
    stay("S13", EMPLOYEE, "2020-02-06 08:00", "2020-02-07 10:00", provider_code="H50010200099")
    stay("S14", psn(993), "2020-02-06 08:00", "2020-02-07 10:00", provider_code="H50010200011")
    stay("S15", psn(994), "2020-02-06 08:00", "2020-02-07 10:00")  # enrolled in Beijing
    stay("S16", DIBAO, "2020-02-22 08:00", "2020-02-22 18:00", "Z03.800x001;B99.900")
    out[-1]["code"] = "NO-SUCH-CODE"
    return out


def _load(uow: UnitOfWork) -> list[str]:
    people = load_people(uow, 12)
    put(uow, "providers", {"code": "H50010200099", "name": "已解除定点", "region": "500102",
                           "level": "2", "designated_from": "2015-01-01",
                           "designated_to": "2019-12-31", "valid_from": "2015-01-01"})  # fmt: skip
    put(uow, "insurees", {"psn_no": psn(994), "name": "北京", "scheme": "employee",
                          "insured_region": "110101", "assistance_category": "none",
                          "account_opening_fen": "100", "enrolled": "true",
                          "valid_from": "2020-01-01"})  # fmt: skip
    return people


def _old_prepare(uow: UnitOfWork, ctx: Context, caller: Principal, path: Path) -> Any:
    """The old import up to booking: its parse, ids by ``map_elements`` and ``_prepare``
    (the ids were the source keys then: both sides use them, DECISIONS 0095)."""
    parsed = oracle.parse(offline_file.read_file(path))
    enc = parsed.encounters.with_columns(
        encounter_id=pl.struct("provider_code", "encounter_no").map_elements(
            lambda r: reentry.source_key_of(r["provider_code"], r["encounter_no"]),
            return_dtype=pl.String)).with_columns(source_key=pl.col("encounter_id"))  # fmt: skip
    key = ["provider_code", "encounter_no"]
    lines = parsed.lines.join(enc.select(*key, "encounter_id"), on=key, maintain_order="left")
    return _prepared(oracle._prepare, uow, ctx, caller, path, lines, enc)


def _new_prepare(uow: UnitOfWork, ctx: Context, caller: Principal, path: Path) -> Any:
    """As ``import_file`` does it now."""
    parsed = offline_file.parse(offline_file.read_file(path))
    keys = reentry._source_keys(parsed.encounters)
    enc = parsed.encounters.with_columns(keys, keys.alias("encounter_id"))
    enc = enc.with_row_index("stay")
    lines = parsed.lines.with_columns(enc["encounter_id"].gather(parsed.lines["stay"]))
    return _prepared(reentry._prepare, uow, ctx, caller, path, lines, enc)


def _prepared(prepare: Any, uow: UnitOfWork, ctx: Context, caller: Principal, path: Path,
              lines: pl.DataFrame, enc: pl.DataFrame) -> Any:  # fmt: skip
    problems = reentry._Problems()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with uow:
        stays, fee_rows, deferred = prepare(uow, ctx, caller, enc, lines, sha, path, problems)
    return stays, fee_rows, deferred, problems.items


def _same(new: Any, old: Any) -> None:
    """Equal, and equal in kind: the same types, key order and time zone objects."""
    assert type(new) is type(old)
    if isinstance(new, dict):
        assert list(new) == list(old)
        for k in new:
            _same(new[k], old[k])
    elif isinstance(new, list | tuple):
        assert len(new) == len(old)
        for a, b in zip(new, old, strict=True):
            _same(a, b)
    elif hasattr(new, "__dataclass_fields__"):
        for name in new.__dataclass_fields__:
            _same(getattr(new, name), getattr(old, name))
    else:
        assert new == old
        if isinstance(new, dt.datetime):
            assert new.tzinfo is old.tzinfo


@pytest.mark.parametrize("caller", [CLERK, Principal("k", "hospital", CENTRE)],
                         ids=["clerk", "hospital"])  # fmt: skip
def test_prepare_equals_the_old_prepare(
    uow: UnitOfWork, ctx: Context, tmp_path: Path, caller: Principal
) -> None:
    load_examples(uow)
    people = _load(uow)
    rows = many_rows(people, 30, 3) + _special_rows()
    for n, r in enumerate(rows[:9]):  # two hospitals, one of another region
        r["provider_code"] = ("H50010200002", "H50010300001", CENTRE)[n // 3]
    path = write_csv(tmp_path / "f.csv", rows)
    new, old = _new_prepare(uow, ctx, caller, path), _old_prepare(uow, ctx, caller, path)
    stays, fee_rows, deferred, problems = new
    assert [p for p in problems if p[1] != "code"] == [p for p in old[3] if p[1] != "code"]
    assert sorted(problems) == sorted(old[3])  # codes: by provider, in no fixed order before
    _same(stays, old[0])
    _same(deferred, old[2])
    assert_frame_equal(fee_rows.engine, old[1].engine)
    assert_frame_equal(fee_rows.store, old[1].store)
    # every branch was taken
    assert len(stays) > 20
    assert {d.row["psn_no"] for d in deferred} >= {NOT_ENROLLED, psn(991), psn(992)}
    why = {reason.split(":")[0].split(" ")[0] for _, _, reason in problems}
    assert {"provider", "not", "insuree.insured_region", "code"} <= why
    assert {s.encounter.covid_status for s in stays} == {"confirmed", "suspected", "none"}
    assert {s.insuree.assistance_category for s in stays} >= {"tekun", "none", "dibao"}


def test_prepare_of_nothing(uow: UnitOfWork, ctx: Context, tmp_path: Path) -> None:
    load_examples(uow)
    empty = pl.DataFrame(schema={"encounter_id": pl.String})
    with uow:
        stays, lines, deferred = reentry._prepare(
            uow, ctx, CLERK, empty, pl.DataFrame(), "", tmp_path / "f.csv", reentry._Problems()
        )
    assert (stays, deferred, lines.engine.height, lines.store.height) == ([], [], 0, 0)
