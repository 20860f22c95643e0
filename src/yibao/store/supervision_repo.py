"""The repository of the supervision tables (supervision_tables) and the reads the scan
needs from the service tables and registries (standing settlements, their stays, lines,
diagnosis changes and deferrals; the protocol editions and the 对码), on the unit of
work's session (SQLAlchemy Core). One write path: services/supervision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, func, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.registry_tables import CodeMapping, ProtocolItem, Provider
from yibao.store.service_tables import (
    Deferral,
    Encounter,
    EncounterEvent,
    FeeLineRow,
    SettlementRow,
)
from yibao.store.supervision_tables import FlagEvent, SupervisionFlag, SupervisionRun

__all__ = ["SupervisionRepo"]

F = cast(Table, SupervisionFlag.__table__)
FE = cast(Table, FlagEvent.__table__)
R = cast(Table, SupervisionRun.__table__)
S = cast(Table, SettlementRow.__table__)
EN = cast(Table, Encounter.__table__)
EV = cast(Table, EncounterEvent.__table__)
L = cast(Table, FeeLineRow.__table__)
D = cast(Table, Deferral.__table__)
P = cast(Table, ProtocolItem.__table__)
M = cast(Table, CodeMapping.__table__)
PR = cast(Table, Provider.__table__)
_CHUNK = 500


class SupervisionRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- flags and their events ------------------------------------------------------------

    def existing(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which ``(rule_id, subject_key)`` already have a flag."""
        out: set[tuple[str, str]] = set()
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            subjects = sorted({k for _, k in part})
            q = select(F.c.rule_id, F.c.subject_key).where(F.c.subject_key.in_(subjects))
            out |= {(r.rule_id, r.subject_key) for r in self.session.execute(q)}
        return out

    def insert(self, flags: Sequence[Mapping[str, Any]],
               events: Sequence[Mapping[str, Any]]) -> None:  # fmt: skip
        if flags:
            self.session.execute(insert(F), [dict(f) for f in flags])
        if events:
            self.session.execute(insert(FE), [dict(e) for e in events])

    def flag(self, flag_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(F).where(F.c.id == flag_id)
        return self.session.execute(q.with_for_update() if lock else q).first()

    def move(self, flag_id: str, version: int, values: Mapping[str, Any]) -> int:
        """Update the flag's projection if it is still at ``version`` (rows changed)."""
        q = update(F).where(F.c.id == flag_id, F.c.version == version).values(
            version=version + 1, **values)  # fmt: skip
        return self.session.execute(q).rowcount  # type: ignore[attr-defined,no-any-return]

    def events(self, flag_id: str) -> list[Row[Any]]:
        q = select(FE).where(FE.c.flag_id == flag_id).order_by(FE.c.seq)
        return list(self.session.execute(q))

    def flags(self, *, state: Sequence[str] | None = None, provider_code: str | None = None,
              rule_id: str | None = None, month: str | None = None,
              encounter_id: str | None = None, limit: int = 200,
              offset: int = 0) -> list[Row[Any]]:  # fmt: skip
        q = select(F)
        for col, value in ((F.c.provider_code, provider_code), (F.c.rule_id, rule_id),
                           (F.c.month, month), (F.c.encounter_id, encounter_id)):  # fmt: skip
            if value is not None:
                q = q.where(col == value)
        if state:
            q = q.where(F.c.state.in_(list(state)))
        q = q.order_by(F.c.raised_at.desc(), F.c.id).limit(limit).offset(offset)
        return list(self.session.execute(q))

    def counts(self, *, begin: str | None = None, end: str | None = None,
               provider_code: str | None = None) -> list[Row[Any]]:  # fmt: skip
        """Flags per rule, hospital, month and state, with amounts at risk and recovered."""
        recovered = func.coalesce(func.sum(F.c.recovered_fen), 0).label("recovered_fen")
        q = select(F.c.rule_id, F.c.provider_code, F.c.month, F.c.state,
                   func.count().label("flags"), func.sum(F.c.amount_fen).label("amount_fen"),
                   recovered)  # fmt: skip
        if begin is not None:
            q = q.where(F.c.month >= begin)
        if end is not None:
            q = q.where(F.c.month <= end)
        if provider_code is not None:
            q = q.where(F.c.provider_code == provider_code)
        q = q.group_by(F.c.rule_id, F.c.provider_code, F.c.month, F.c.state)
        return list(self.session.execute(q.order_by(F.c.month, F.c.rule_id, F.c.provider_code)))

    def raised_between(self, begin: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
        q = select(F).where(F.c.raised_at >= begin, F.c.raised_at < end)
        return list(self.session.execute(q.order_by(F.c.rule_id, F.c.id)))

    def events_between(self, begin: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
        q = select(FE).where(FE.c.at >= begin, FE.c.at < end)
        return list(self.session.execute(q.order_by(FE.c.at, FE.c.id)))

    # -- runs ------------------------------------------------------------------------------

    def add_run(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(R), [dict(values)])

    def watermark(self) -> dt.datetime | None:
        """The newest settlement time a scan of recent settlements has read."""
        q = select(func.max(R.c.watermark)).where(R.c.kind == "recent")
        return self.session.execute(q).scalar_one_or_none()

    # -- what the scan reads ---------------------------------------------------------------

    def standing(self, *, settled_after: dt.datetime | None = None,
                 discharged: tuple[dt.date, dt.date] | None = None,
                 psn_nos: Sequence[str] | None = None) -> list[Row[Any]]:  # fmt: skip
        """Standing settlements (not reversed) with their stay: settled after a time,
        discharged in a period, or of these insurees."""
        rev = S.alias("rev")
        q = (
            select(S.c.id, S.c.encounter_id, S.c.provider_code, S.c.psn_no, S.c.settled_at,
                   S.c.discharge_date, S.c.medfee_sumamt, S.c.fund_pay_sumamt, S.c.fiscal_pay,
                   S.c.record, EN.c.admit_date, EN.c.diagnoses)
            .join(EN, EN.c.id == S.c.encounter_id)
            .outerjoin(rev, rev.c.reverses == S.c.id)
            .where(S.c.kind == "settlement", rev.c.id.is_(None))
        )  # fmt: skip
        if settled_after is not None:
            q = q.where(S.c.settled_at > settled_after)
        if discharged is not None:
            q = q.where(S.c.discharge_date.between(*discharged))
        if psn_nos is not None:
            q = q.where(S.c.psn_no.in_(list(psn_nos)))
        return list(self.session.execute(q.order_by(S.c.settled_at, S.c.id)))

    def lines_of(self, encounter_ids: Sequence[str]) -> list[Row[Any]]:
        out: list[Row[Any]] = []
        for i in range(0, len(encounter_ids), _CHUNK):
            q = select(L.c.encounter_id, L.c.sn, L.c.code, L.c.category, L.c.service_date,
                       L.c.amount_fen, L.c.price_e6).where(
                L.c.encounter_id.in_(list(encounter_ids[i : i + _CHUNK])),
                L.c.cancelled_at.is_(None))  # fmt: skip
            out += list(self.session.execute(q))
        return out

    def changes_of(self, encounter_ids: Sequence[str]) -> list[Row[Any]]:
        """The 2403 admission changes of these stays (diagnoses before and after)."""
        out: list[Row[Any]] = []
        for i in range(0, len(encounter_ids), _CHUNK):
            q = select(EV.c.encounter_id, EV.c.seq, EV.c.at, EV.c.detail).where(
                EV.c.encounter_id.in_(list(encounter_ids[i : i + _CHUNK])),
                EV.c.kind == "admission_changed").order_by(EV.c.encounter_id, EV.c.seq)  # fmt: skip
            out += list(self.session.execute(q))
        return out

    def deferral_reasons(self, encounter_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(encounter_ids), _CHUNK):
            q = select(D.c.encounter_id, D.c.reason).where(
                D.c.encounter_id.in_(list(encounter_ids[i : i + _CHUNK])))  # fmt: skip
            out |= {r.encounter_id: r.reason for r in self.session.execute(q)}
        return out

    def provider_levels(self) -> dict[str, int]:
        q = select(PR.c.code, PR.c.level).where(PR.c.superseded_by.is_(None)).order_by(
            PR.c.valid_from)  # fmt: skip
        return {r.code: r.level for r in self.session.execute(q)}

    def protocol_rows(self) -> list[Row[Any]]:
        q = select(P.c.code, P.c.valid_from, P.c.valid_to).where(P.c.superseded_by.is_(None))
        return list(self.session.execute(q))

    def mapping_rows(self, codes: Sequence[str]) -> list[Row[Any]]:
        q = select(M.c.provider_code, M.c.code, M.c.valid_from, M.c.valid_to).where(
            and_(M.c.superseded_by.is_(None), M.c.code.in_(list(codes))))  # fmt: skip
        return list(self.session.execute(q))
