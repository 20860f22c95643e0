"""The console's stay search (issue 17): encounters by insuree (ID number or name),
hospital, admission dates, status and, for a township clerk, the township of the
enrolment in force on the admission date — one statement, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Row, Table, and_, exists, or_, select
from sqlalchemy.orm import Session

from yibao.store.registry_tables import Insuree
from yibao.store.service_tables import Encounter

__all__ = ["StaySearch"]

E = cast(Table, Encounter.__table__)
I = cast(Table, Insuree.__table__)  # noqa: E741


class StaySearch:
    """Reads for the console's 就诊查询 on the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def search(self, *, psn_no: str | None = None, name: str | None = None,
               provider_code: str | None = None, status: str | None = None,
               admitted_from: dt.date | None = None, admitted_to: dt.date | None = None,
               township: str | None = None, limit: int = 50,
               offset: int = 0) -> list[Row[Any]]:  # fmt: skip
        """Encounters matching every filter given, newest admission first, each with
        the insuree's name (``insuree_name``) of the enrolment in force on its
        admission date (None when none is imported)."""
        in_force = and_(I.c.psn_no == E.c.psn_no, I.c.superseded_by.is_(None),
                        I.c.valid_from <= E.c.admit_date,
                        or_(I.c.valid_to.is_(None), I.c.valid_to >= E.c.admit_date))  # fmt: skip
        name_col = select(I.c.name).where(in_force).limit(1).scalar_subquery()
        q = select(E, name_col.label("insuree_name"))
        for col, value in ((E.c.psn_no, psn_no), (E.c.provider_code, provider_code),
                           (E.c.status, status)):  # fmt: skip
            if value is not None:
                q = q.where(col == value)
        if admitted_from is not None:
            q = q.where(E.c.admit_date >= admitted_from)
        if admitted_to is not None:
            q = q.where(E.c.admit_date <= admitted_to)
        if name is not None:
            q = q.where(exists().where(I.c.psn_no == E.c.psn_no, I.c.superseded_by.is_(None),
                                       I.c.name == name))  # fmt: skip
        if township is not None:
            q = q.where(exists().where(in_force, I.c.township == township))
        q = q.order_by(E.c.admit_time.desc(), E.c.id).limit(limit).offset(offset)
        return list(self.session.execute(q))
