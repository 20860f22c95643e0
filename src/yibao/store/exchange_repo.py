"""The repository of 9101/9102 exchange files and 4101A settlement lists (exchange_tables),
on the unit of work's session (SQLAlchemy Core); also the registry rows a catalog download
(1301–1307) lists: the current versions recorded after a change set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, select
from sqlalchemy.orm import Session

from yibao.store.exchange_tables import ExchangeFile, SettlementList
from yibao.store.registry_tables import CatalogItem, ChangeSet, DiseaseCode
from yibao.store.service_tables import SettlementRow

__all__ = ["ExchangeRepo"]

FT = cast(Table, ExchangeFile.__table__)
LT = cast(Table, SettlementList.__table__)
CT = cast(Table, CatalogItem.__table__)
DT = cast(Table, DiseaseCode.__table__)
CST = cast(Table, ChangeSet.__table__)
F, L, C, D, CS = FT.c, LT.c, CT.c, DT.c, CST.c
S = cast(Table, SettlementRow.__table__).c


class ExchangeRepo:
    """Reads and writes of
    9101/9102 exchange files and 4101A settlement lists (exchange_tables)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- files ---------------------------------------------------------------------

    def file(self, file_qury_no: str) -> Row[Any] | None:
        """One stored file, its bytes included."""
        return self.session.execute(select(FT).where(
            F.file_qury_no == file_qury_no)).first()  # fmt: skip

    def file_exists(self, file_qury_no: str) -> bool:
        q = select(F.file_qury_no).where(F.file_qury_no == file_qury_no)
        return self.session.execute(q).first() is not None

    def insert_file(self, values: Mapping[str, Any]) -> None:
        self.session.execute(insert(FT), [dict(values)])

    # -- settlement lists ----------------------------------------------------------

    def lock_settlement(self, setl_id: str) -> Any:
        """The settlement (or reversal) row ``setl_id``, locked on PostgreSQL so that two
        uploads of its list number their versions one after the other."""
        q = select(S.id, S.kind, S.encounter_id, S.provider_code, S.psn_no, S.discharge_date,
                   S.reverses).where(S.id == setl_id).with_for_update()  # fmt: skip
        return self.session.execute(q).first()

    def reversal_of(self, setl_id: str) -> str | None:
        q = select(S.id).where(S.reverses == setl_id)
        return self.session.execute(q).scalar_one_or_none()

    def last_list_version(self, setl_id: str) -> int:
        q = select(func.max(L.version)).where(L.setl_id == setl_id)
        return int(self.session.execute(q).scalar_one() or 0)

    def insert_settlement_list(self, values: Mapping[str, Any]) -> int:
        """Insert one upload; its id (``setl_list_id``)."""
        got = self.session.execute(insert(LT).returning(L.id), [dict(values)])
        return int(got.scalar_one())

    def settlement_lists(self, setl_id: str) -> list[Row[Any]]:
        """Every upload of one settlement's list, oldest first."""
        q = select(LT).where(L.setl_id == setl_id).order_by(L.version)
        return list(self.session.execute(q))

    # -- catalog downloads ---------------------------------------------------------

    def catalog_since(self, since: int, categories: Sequence[str]) -> list[Row[Any]]:
        """Current catalog versions recorded by a change set after ``since``, of
        ``categories``, in change-set then key order, with the change set's source."""
        q = (
            select(
                C.id,
                C.region,
                C.code,
                C.name,
                C.category,
                C.item_class,
                C.selfpay_bp,
                C.price_cap_e6,
                C.temp_for,
                C.valid_from,
                C.valid_to,
                C.change_set_id,
                CS.source,
            )
            .join_from(CT, CST, CS.id == C.change_set_id)
            .where(
                C.superseded_by.is_(None), C.change_set_id > since, C.category.in_(list(categories))
            )
            .order_by(C.change_set_id, C.code, C.region, C.valid_from)
        )
        return list(self.session.execute(q))

    def diseases_since(self, since: int) -> list[Row[Any]]:
        """Current disease-code versions recorded by a change set after ``since``."""
        q = (
            select(
                D.id,
                D.code,
                D.name,
                D.source,
                D.valid_from,
                D.valid_to,
                D.change_set_id,
                CS.source.label("change_source"),
            )
            .join_from(DT, CST, CS.id == D.change_set_id)
            .where(D.superseded_by.is_(None), D.change_set_id > since)
            .order_by(D.change_set_id, D.code, D.valid_from)
        )
        return list(self.session.execute(q))
