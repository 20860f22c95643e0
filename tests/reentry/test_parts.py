"""The import's shortcuts are the plain forms: ``line_of`` builds the engine's ``Line``
as its constructor does, ``bulk.among`` selects what ``IN`` selects (an array on
PostgreSQL), and the trace read back from the store is the one computed at settlement."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from yibao.core.engine.model import Line
from yibao.services.reentry_settle import line_of
from yibao.store import bulk
from yibao.store.tables import Insuree
from yibao.store.uow import UnitOfWork


def test_line_of_equals_the_constructor() -> None:
    cases = [("1", "YP-0002", "drug", "B", 1000, 5000, 2000, 6000, True, False),
             ("x9", "ZL-0001", "service", "A", 0, 0, 0, None, False, True)]  # fmt: skip
    for values in cases:
        got, want = line_of(*values), Line(*values)
        assert got == want
        assert hash(got) == hash(want)
        assert type(got) is Line
        assert dataclasses.astuple(got) == values
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.sn = "other"  # type: ignore[misc]


def test_among_selects_what_in_selects(uow: UnitOfWork) -> None:
    from tests.registry_data import load_examples

    load_examples(uow)
    with uow:
        s = uow.session
        ids = sorted(set(s.execute(select(Insuree.psn_no)).scalars()))
        assert len(ids) > 2
        for part in ([*ids, "missing-1"], ids[:1], ids[1::2], ["missing-1"]):
            want = set(s.execute(select(Insuree.psn_no).where(Insuree.psn_no.in_(part))).scalars())
            got = set(s.execute(select(Insuree.psn_no).where(
                bulk.among(s, Insuree.psn_no, part))).scalars())  # fmt: skip
            assert got == want == set(part) - {"missing-1"}
