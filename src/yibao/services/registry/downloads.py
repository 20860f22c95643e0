"""Catalog downloads (1301 西药中成药, 1305 医疗服务项目, 1306 医用耗材, 1307 疾病与诊断):
the registry rows recorded after the version a HIS already holds, written as the
platform's file (a ZIP holding one UTF-8 TXT, TAB-separated, ``null`` for an empty cell,
no header) and stored as the bureau's exchange file (``provider_code`` null) that 9102
hands out. Also the file-store primitives the other exchange files share (``zip_one``,
``store_file``): the reports package (3202 result files) builds on them.

The version (``ver``) is the registry's change set id: a HIS passes the highest ``ver``
of the rows it holds and gets the current versions recorded after it — every new or
changed row, each with its key and ``begndate`` so the HIS replaces the row it had; an
empty file means it is up to date. The same content is the same file (its
``file_qury_no`` is derived from its bytes), so asking twice stores nothing new.
docs/NHSA.md, "Catalog downloads".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from yibao.core.errors import InvalidRequest
from yibao.store.uow import UnitOfWork

__all__ = [
    "CATALOG_COLUMNS",
    "DISEASE_COLUMNS",
    "DOWNLOADS",
    "Download",
    "StoredFile",
    "catalog_download",
    "store_file",
    "tab_text",
    "zip_one",
]

Listing = Literal["drugs", "services", "consumables", "diseases"]

DOWNLOADS: dict[Listing, tuple[str, ...]] = {
    "drugs": ("drug",),  # 1301 西药中成药目录
    "services": ("service", "bed", "other"),  # 1305 医疗服务项目目录 (床位费 is a service)
    "consumables": ("consumable",),  # 1306 医用耗材目录
    "diseases": (),  # 1307 疾病与诊断目录: the disease registry
}
"""What each download lists: the catalog categories (none: the disease registry)."""

CATALOG_COLUMNS = (
    "med_list_codg", "med_list_name", "admdvs", "list_type", "chrgitm_lv", "selfpay_prop",
    "hilist_pric_uplmt_amt", "tmp_code_flag", "tmp_code_item", "begndate", "enddate",
    "vali_flag", "rid", "ver", "ver_name",
)  # fmt: skip
"""1301/1305/1306 file columns, in order (docs/NHSA.md lists their meaning)."""
DISEASE_COLUMNS = ("diag_code", "diag_name", "memo", "begndate", "enddate", "vali_flag", "rid",
                   "ver", "ver_name")  # fmt: skip
"""1307 file columns, in order."""

_ITEM_LEVEL = {"A": "01", "B": "02", "C": "03"}  # 甲 乙 丙 (chrgitm_lv)
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same rows are the same bytes
_KEEP = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An exchange file as the envelope names it (its bytes stay in the store)."""

    file_qury_no: str
    filename: str
    provider_code: str | None
    kind: str
    size: int
    sha256: str
    created_at: dt.datetime

    @property
    def dld_endtime(self) -> dt.datetime:
        """The download deadline the answer shows (files are kept; it is not enforced)."""
        return self.created_at + _KEEP


def zip_one(name: str, data: bytes) -> bytes:
    """A ZIP holding one member ``name`` — the same bytes for the same content."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
    return buf.getvalue()


def _cell(value: object) -> str:
    if value is None or value == "":
        return "null"
    text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def tab_text(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as the platform's TXT: UTF-8, TAB-separated, ``null`` for an empty cell,
    CRLF-free (one ``\\n`` per row)."""
    return "".join("\t".join(_cell(v) for v in row) + "\n" for row in rows).encode()


def store_file(uow: UnitOfWork, *, prefix: str, owner: str | None, kind: str, filename: str,
               content: bytes, actor: str, now: dt.datetime) -> StoredFile:  # fmt: skip
    """Store a file the platform produces (a catalog, a 3202 result) under a
    ``file_qury_no`` derived from its owner and bytes: the same file twice is stored once.
    Runs in the caller's unit of work."""
    sha = hashlib.sha256(content).hexdigest()
    key = hashlib.sha256(f"{owner or ''}|{kind}|{filename}|".encode() + content).hexdigest()
    no = f"{prefix}{key[:28]}"
    row = uow.exchange.file(no)
    if row is None:
        uow.exchange.insert_file({"file_qury_no": no, "provider_code": owner, "filename": filename,
                                  "kind": kind, "size": len(content), "sha256": sha,
                                  "content": content, "actor": actor[:64],
                                  "created_at": now})  # fmt: skip
        return StoredFile(no, filename, owner, kind, len(content), sha, now)
    return StoredFile(no, row.filename, row.provider_code, row.kind, row.size, row.sha256,
                      _aware(row.created_at))  # fmt: skip


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Download:
    """A catalog download's answer: the file and how many rows it holds."""

    file: StoredFile
    data_cnt: int
    since: int
    last_ver: int | None  # the highest ver in the file (None: empty, up to date)


def _decimal(value: int, places: int) -> str:
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"


def _date(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _catalog_row(r: Any) -> list[object]:
    cap = None if r.price_cap_e6 is None else _decimal(r.price_cap_e6, 6)
    temp = r.temp_for is not None
    return [r.code, r.name, r.region, r.category, _ITEM_LEVEL[r.item_class],
            _decimal(r.selfpay_bp, 4), cap, "1" if temp else "0", r.temp_for,
            _date(r.valid_from), _date(r.valid_to), "1", r.id, r.change_set_id,
            r.source]  # fmt: skip


def _disease_row(r: Any) -> list[object]:
    return [r.code, r.name, r.source, _date(r.valid_from), _date(r.valid_to), "1", r.id,
            r.change_set_id, r.change_source]  # fmt: skip


def catalog_download(uow: UnitOfWork, listing: Listing, since: int, *, infno: str, actor: str,
                     now: dt.datetime) -> Download:  # fmt: skip
    """The rows of ``listing`` recorded after version ``since`` as the bureau's exchange
    file ``<infno>_<since>.zip`` (``<infno>.txt`` inside), stored once per content. The
    catalogs are public to every authenticated caller (the platform publishes them to
    every 定点机构), so no role is checked here."""
    if since < 0:
        raise InvalidRequest.of([("ver", f"{since} is not a version (0 or more)")])
    with uow(write=True):
        if listing == "diseases":
            rows = [_disease_row(r) for r in uow.exchange.diseases_since(since)]
        else:
            rows = [_catalog_row(r) for r in uow.exchange.catalog_since(since, DOWNLOADS[listing])]
        data = zip_one(f"{infno}.txt", tab_text(rows))
        stored = store_file(uow, prefix="C", owner=None, kind="catalog",
                            filename=f"{infno}_{since}.zip", content=data, actor=actor,
                            now=now)  # fmt: skip
        uow.commit()
    last = max((int(str(r[-2])) for r in rows), default=None)
    return Download(stored, len(rows), since, last)
