"""What hospitals and the bureau exchange as files and documents (issue 16;
docs/STORE.md, "Exchange tables"):

- ``exchange_files``: 9101 文件上传 / 9102 文件下载: a file's bytes, named by its
  ``file_qury_no``, with its owner (a provider, or the bureau for catalogs), size and
  sha256; 3202 reads the detail file it names;
- ``settlement_lists``: 4101A 医保结算清单: each upload of a settlement's list, validated,
  stored whole with its version (a later upload is a new version, never an overwrite).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.db import Base
from yibao.store.registry_tables import Id

__all__ = ["ExchangeFile", "SettlementList"]

Time = DateTime(timezone=True)


class ExchangeFile(Base):
    """A file uploaded (9101) or prepared for download (9102, catalogs 1301–1319)."""

    __tablename__ = "exchange_files"
    __table_args__ = (Index("ix_exchange_files_provider_code", "provider_code"),)

    file_qury_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_code: Mapped[str | None] = mapped_column(String(20))  # None: the bureau's
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # upload | catalog | …
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Time)


class SettlementList(Base):
    """4101A: one upload of a settlement's 医保结算清单 (the whole validated document)."""

    __tablename__ = "settlement_lists"
    __table_args__ = (
        UniqueConstraint("setl_id", "version"),
        Index("ix_settlement_lists_provider_code", "provider_code"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    setl_id: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer)
    mdtrt_id: Mapped[str] = mapped_column(String(30))
    provider_code: Mapped[str] = mapped_column(String(20))
    psn_no: Mapped[str] = mapped_column(String(18))
    document: Mapped[dict[str, Any]] = mapped_column(JSON())
    msgid: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(Time)
