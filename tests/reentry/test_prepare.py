"""Everything the import does before it books is the plain form it replaced
(``tests/reentry/oracle.py``, the code of commit efd139e): the same typed frames or the
same problems from ``parse``."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.reentry import oracle
from tests.reentry.files import CODES, psn
from tests.registry_data import (
    CENTRE,
)
from yibao.core.errors import InvalidRequest
from yibao.services import offline_file
from yibao.services.access import Principal
from yibao.services.context import CST
from yibao.services.offline_file import NAMES

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
            rows.append({**stay, "sn": str(sn), "code": code, "price_fen": str(price),
                         "qty_milli": rnd.choice(("500", "1000")),
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
        r["qty_milli"] = "777"
        r["sn"] = "1"
    elif what == "key":
        r[rnd.choice(("provider_code", "encounter_no", "sn"))] = None
    elif what == "number":
        r[rnd.choice(("price_fen", "qty_milli", "amount_fen"))] = rnd.choice(("x", "-1", "12.5"))
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
    assert_frame_equal(new.lines, old.lines)
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
                 "insuree_id: check", "covid_status: not", "price_fen: not"):  # fmt: skip
        assert any(r.startswith(want) for r in reasons), (want, sorted(reasons))
