"""The registry tables and the change sets that record who changed them, and when.

Every registry row is one *version* (docs/STORE.md, "Versioning"):

- the natural key plus ``valid_from`` names it; ``valid_from``..``valid_to`` (inclusive,
  ``valid_to`` null = open) are the dates it applies to;
- ``change_set_id`` is the change set (import, demo load, …) that recorded it: who, when,
  from which file;
- ``superseded_by`` is null while the version is current; a changed row closes the old
  version by setting it to the change set that replaced it. Nothing else is ever
  updated and nothing is deleted.

A partial unique index keeps one current version per (key, valid_from).
Column names are ``yibao.core.registry.kinds``' (a test holds them equal).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base

__all__ = [
    "CatalogItem",
    "ChangeSet",
    "CodeMapping",
    "DiseaseCode",
    "Insuree",
    "ProtocolItem",
    "Provider",
    "Versioned",
    "model_for",
]

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid alias
CURRENT = text("superseded_by IS NULL")


class ChangeSet(Base):
    """One recorded change to a registry: an import, a demo load. Who, when, from what."""

    __tablename__ = "change_sets"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # registry name: insurees, catalog…
    source: Mapped[str] = mapped_column(String(255))  # file name, or demo:…
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))  # who
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # when (UTC)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_inserted: Mapped[int] = mapped_column(Integer)  # new versions (new + changed)
    rows_superseded: Mapped[int] = mapped_column(Integer)  # old versions closed


class Versioned:
    """Columns every registry version carries."""

    id: Mapped[int] = mapped_column(Id, primary_key=True, sort_order=-1)
    valid_from: Mapped[dt.date] = mapped_column(Date, sort_order=1)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, sort_order=1)
    change_set_id: Mapped[int] = mapped_column(ForeignKey("change_sets.id"), sort_order=1)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"), sort_order=1)


def _indexes(table: str, *key: str) -> tuple[Index]:
    """The rule, one current version per (key, valid_from), which also serves every
    as-of and merge query (they read current versions only). History (closed versions
    too) is an audit read and goes without an index of its own, so imports stay fast."""
    return (
        Index(
            f"uq_{table}_current",
            *key,
            "valid_from",
            unique=True,
            sqlite_where=CURRENT,
            postgresql_where=CURRENT,
        ),
    )


class Insuree(Versioned, Base):
    """参保人: one version of an insuree's enrolment."""

    __tablename__ = "insurees"
    __table_args__ = (
        *_indexes("insurees", "psn_no"),
        CheckConstraint("scheme IN ('employee', 'resident', 'none')", name="scheme"),
        CheckConstraint("resident_tier IN (1, 2)", name="resident_tier"),
        CheckConstraint("account_opening_fen >= 0", name="account_opening_fen"),
    )

    psn_no: Mapped[str] = mapped_column(String(18))  # 公民身份号码
    name: Mapped[str] = mapped_column(String(50))
    scheme: Mapped[str] = mapped_column(String(8))
    resident_tier: Mapped[int | None] = mapped_column(SmallInteger)
    insured_region: Mapped[str] = mapped_column(String(6))  # 参保地
    township: Mapped[str | None] = mapped_column(String(9))  # 乡镇街道 (社保所)
    assistance_category: Mapped[str] = mapped_column(String(32))  # 医疗救助对象类别
    assistance_from: Mapped[dt.date | None] = mapped_column(Date)
    assistance_to: Mapped[dt.date | None] = mapped_column(Date)
    account_opening_fen: Mapped[int] = mapped_column(BigInteger)  # 个人账户期初余额
    enrolled: Mapped[bool] = mapped_column(Boolean)  # 参保信息已导入


class Provider(Versioned, Base):
    """定点医疗机构: one version of a provider."""

    __tablename__ = "providers"
    __table_args__ = (
        *_indexes("providers", "code"),
        CheckConstraint("level IN (1, 2, 3)", name="level"),
    )

    code: Mapped[str] = mapped_column(String(20))  # fixmedins_code
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(6))  # 就医地
    township: Mapped[str | None] = mapped_column(String(9))
    level: Mapped[int] = mapped_column(SmallInteger)
    designated_from: Mapped[dt.date | None] = mapped_column(Date)  # 定点
    designated_to: Mapped[dt.date | None] = mapped_column(Date)
    covid_designated_from: Mapped[dt.date | None] = mapped_column(Date)  # 定点救治医院
    covid_designated_to: Mapped[dt.date | None] = mapped_column(Date)


class CatalogItem(Versioned, Base):
    """医保目录: one version of an item of a region's catalog; ``temp_for`` set marks a
    临时新增编码 (the provincial notice 二（二）)."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        *_indexes("catalog_items", "code", "region"),  # lookups name codes: code first
        CheckConstraint(
            "category IN ('drug', 'service', 'consumable', 'bed', 'other')", name="category"
        ),
        CheckConstraint("item_class IN ('A', 'B', 'C')", name="item_class"),
        CheckConstraint("selfpay_bp BETWEEN 0 AND 10000", name="selfpay_bp"),
        CheckConstraint("price_cap_e6 >= 0", name="price_cap_e6"),
    )

    region: Mapped[str] = mapped_column(String(6))  # the catalog's region
    code: Mapped[str] = mapped_column(String(50))  # med_list_codg
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(10))
    item_class: Mapped[str] = mapped_column(String(1))  # 甲乙丙
    selfpay_bp: Mapped[int] = mapped_column(Integer)  # 先行自付比例
    price_cap_e6: Mapped[int | None] = mapped_column(BigInteger)  # 限价 × 10^6 (0007)
    temp_for: Mapped[str | None] = mapped_column(String(200))  # 临时新增编码: stands for


class ProtocolItem(Versioned, Base):
    """诊疗方案: a drug or item on one edition; ``valid_from`` is the edition's date."""

    __tablename__ = "protocol_items"
    __table_args__ = (
        *_indexes("protocol_items", "edition", "code"),
        CheckConstraint("kind IN ('drug', 'item')", name="kind"),
    )

    edition: Mapped[int] = mapped_column(SmallInteger)  # 第N版
    edition_title: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(4))


class CodeMapping(Versioned, Base):
    """对码: a hospital's own code mapped to a national code, with its approval."""

    __tablename__ = "code_mappings"
    __table_args__ = (*_indexes("code_mappings", "provider_code", "hospital_code"),)

    provider_code: Mapped[str] = mapped_column(String(20))
    hospital_code: Mapped[str] = mapped_column(String(50))  # medins_list_codg
    hospital_name: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50))  # med_list_codg
    approved_by: Mapped[str] = mapped_column(String(50))
    approved_on: Mapped[dt.date] = mapped_column(Date)


class DiseaseCode(Versioned, Base):
    """医保病种编码 (B99.900 from 2020-01-23; U07.100x00n, Z03.800x001 from 2020-02-13)."""

    __tablename__ = "disease_codes"
    __table_args__ = (*_indexes("disease_codes", "code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))


_MODELS: dict[str, type[Versioned]] = {
    "insurees": Insuree,
    "providers": Provider,
    "catalog": CatalogItem,
    "protocol": ProtocolItem,
    "mapping": CodeMapping,
    "diseases": DiseaseCode,
}


def model_for(kind: str) -> type[Versioned]:
    """The model of the registry ``kind`` (``yibao.core.registry.KINDS``)."""
    return _MODELS[kind]
