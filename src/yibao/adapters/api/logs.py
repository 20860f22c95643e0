"""No unmasked ID number in a log line: every log record of the process is masked where
it is made (``install``).

The first line of defence is at the sources (the engines' ``hide_parameters``, the API's
500 answer logging no exception text of the database); this is the second: a log record
factory that masks every ID-number-like run of digits (``access.mask_ids``) in the
message, its arguments, its traceback and its stack, whatever logger made it (ours,
uvicorn's, SQLAlchemy's). A record's traceback is formatted and masked when the record
is made, and its ``exc_info`` dropped: the exception object holds the unmasked text.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from yibao.services.access.rights import mask_ids

__all__ = ["MaskedRecord", "install", "mask_record"]


class MaskedRecord(logging.LogRecord):
    """A log record whose message is masked however it is formatted."""

    def getMessage(self) -> str:
        return mask_ids(super().getMessage())


def _arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask_ids(value)
    if value is None or isinstance(value, int | float):
        return value
    try:
        text = str(value)
    except Exception:  # an object that cannot say what it is holds nothing to mask
        return value
    masked = mask_ids(text)
    return value if masked == text else masked


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with ID numbers masked in place (message, arguments, traceback, stack)."""
    if isinstance(record.msg, str):
        record.msg = mask_ids(record.msg)
    args = record.args
    if isinstance(args, Mapping):
        record.args = {k: _arg(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_arg(a) for a in args)
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = mask_ids(text.rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = mask_ids(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_ids(record.stack_info)
    if type(record) is logging.LogRecord:
        record.__class__ = MaskedRecord
    return record


def install() -> None:
    """Mask every log record of this process from now on (once; it wraps the record
    factory in place, keeping any other wrapper's work)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "yibao_masks", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    masking: Callable[..., logging.LogRecord] = factory
    masking.yibao_masks = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking)
