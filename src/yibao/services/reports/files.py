"""Exchange files (9101 文件上传 / 9102 文件下载): a hospital uploads a file (a 3202 detail
file, say) and gets its ``file_qury_no``; it downloads its own files and the bureau's
(catalogs, ``provider_code`` null) by that number, byte for byte.

Rules (docs/NHSA.md, "Files"): a file is 1 byte to ``MAX_FILE_BYTES``; its name 1–200
characters of text without a path (``/``, ``\\``); its sha256 and size are kept with the
bytes; nothing is ever overwritten or deleted; another hospital's file is "not found".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.validation import text_problem
from yibao.services.registry.downloads import StoredFile
from yibao.store.uow import UnitOfWork

__all__ = ["MAX_FILE_BYTES", "FileContent", "StoredFile", "download_file", "upload_file"]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""The largest file 9101 accepts (8 MiB: a month of a large hospital's 3202 rows zips to
well under 1 MiB; the base64 body stays under 11 MiB)."""

_CST = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class FileContent:
    """A downloaded file: what it is, and its bytes."""

    file: StoredFile
    content: bytes


def _filename_problem(filename: str) -> str | None:
    if not filename.strip():
        return "is required"
    if (why := text_problem(filename, 200)) is not None:
        return why
    if "/" in filename or "\\" in filename:
        return "is a file name, without a path"
    return None


def upload_file(uow: UnitOfWork, caller: Principal, *, filename: str, content: bytes,
                now: dt.datetime) -> StoredFile:  # fmt: skip
    """文件上传: store a hospital's file under a new ``file_qury_no``
    (``U`` + the Beijing date + 16 random hex digits)."""
    require(caller, "encounter.write")
    problems: list[tuple[str, str]] = []
    if (why := _filename_problem(filename)) is not None:
        problems.append(("filename", why))
    if not content:
        problems.append(("in", "the file is empty"))
    elif len(content) > MAX_FILE_BYTES:
        problems.append(("in", f"the file has {len(content)} bytes; at most {MAX_FILE_BYTES} "
                               "are accepted"))  # fmt: skip
    if problems:
        raise InvalidRequest.of(problems)
    sha = hashlib.sha256(content).hexdigest()
    no = f"U{now.astimezone(_CST):%Y%m%d}{secrets.token_hex(8)}"
    with uow(write=True):
        uow.exchange.insert_file({"file_qury_no": no, "provider_code": caller.provider_code,
                                  "filename": filename, "kind": "upload", "size": len(content),
                                  "sha256": sha, "content": content, "actor": caller.actor[:64],
                                  "created_at": now})  # fmt: skip
        uow.commit()
    return StoredFile(no, filename, caller.provider_code, "upload", len(content), sha, now)


def download_file(uow: UnitOfWork, caller: Principal, file_qury_no: str) -> FileContent:
    """文件下载: a file by its number — a hospital's own or the bureau's; for a hospital,
    another hospital's file is ``NotFound`` like one that does not exist."""
    require(caller, "encounter.read")
    with uow:
        row = uow.exchange.file(file_qury_no)
    if row is None or (caller.role == "hospital"
                       and row.provider_code not in (None, caller.provider_code)):  # fmt: skip
        raise NotFound(f"file {file_qury_no} not found")
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    info = StoredFile(row.file_qury_no, row.filename, row.provider_code, row.kind, row.size,
                      row.sha256, at)  # fmt: skip
    content = bytes(row.content)
    if hashlib.sha256(content).hexdigest() != row.sha256:  # never hand out a damaged file
        raise Conflict(
            f"file {file_qury_no} is damaged: its stored bytes do not match its "
            "sha256; upload it again"
        )
    return FileContent(info, content)
