"""The import's shortcuts are the plain forms: ``bulk.among``
selects what ``IN`` selects (an array on PostgreSQL), and the trace read back from the
store is the one computed at settlement."""

from __future__ import annotations

from sqlalchemy import select

from yibao.store import bulk
from yibao.store.registry_tables import Insuree
from yibao.store.uow import UnitOfWork


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
