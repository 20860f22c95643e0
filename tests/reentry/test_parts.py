"""The import's shortcuts are the plain forms: ``reentry._builder`` builds the stays'
records as their constructors do; ``bulk.among``
selects what ``IN`` selects (an array on PostgreSQL), and the trace read back from the
store is the one computed at settlement."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from tests.reentry.files import psn
from yibao.core.engine.model import Accumulators, Encounter, Provider
from yibao.core.engine.model import Insuree as EngineInsuree
from yibao.services import reentry
from yibao.services.booking import NewEncounter
from yibao.services.reentry_settle import Stay
from yibao.store import bulk
from yibao.store.tables import Insuree
from yibao.store.uow import UnitOfWork


def test_the_builders_equal_the_constructors() -> None:
    day = dt.date(2020, 2, 3)
    ins = (psn(1), "employee", None, "500102", "none", 100, True)
    enc = ("F1", "21", day, day, ("J18.900",), "none", "not_needed", 1, None)
    new = ({"id": "F1", "diagnoses": [{"code": "J18.900", "main": True}]}, {"row": 2})
    cases = [(EngineInsuree, reentry._INSUREE, ins), (Encounter, reentry._ENCOUNTER, enc),
             (NewEncounter, reentry._NEW_ENCOUNTER, new)]  # fmt: skip
    stay = (7, "F1", EngineInsuree(*ins), 100, Provider("H1", "500102", 3, True), Encounter(*enc),
            Accumulators(1, 2, 3), {"confirmed": 5000}, NewEncounter(*new))  # fmt: skip
    cases.append((Stay, reentry._STAY, stay))
    for cls, build, values in cases:
        got, want = build(*values), cls(*values)
        assert type(got) is cls
        assert got == want
        assert [getattr(got, f.name) for f in dataclasses.fields(cls)] == list(values)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(got, dataclasses.fields(cls)[0].name, "other")
    assert hash(reentry._ENCOUNTER(*enc)) == hash(Encounter(*enc))


def test_among_selects_what_in_selects(uow: UnitOfWork) -> None:
    from tests.registry_data import load_examples

    load_examples(uow)
    with uow:
        s = uow.session
        ids = sorted(set(s.execute(select(Insuree.psn_no)).scalars()))
        assert len(ids) > 2
        odd = ["a,b", ""]  # a comma, an empty text: sent as an array, not one text
        for part in ([*ids, "missing-1"], ids[:1], ids[1::2], ["missing-1"], [],
                     [ids[0], *odd], odd):  # fmt: skip
            want = set(s.execute(select(Insuree.psn_no).where(Insuree.psn_no.in_(part))).scalars())
            got = set(s.execute(select(Insuree.psn_no).where(
                bulk.among(s, Insuree.psn_no, part))).scalars())  # fmt: skip
            assert got == want == set(part) - {"missing-1", *odd}
