"""The national envelope (通用报文): the request every transaction shares, and the
response builders (DOMAIN.md §1.1–§1.2).

Pure: the receive and respond times and the serial number of ``inf_refmsgid`` are
arguments; the service owns the clock and the sequence. Times are aware datetimes,
written on the platform's clock (Beijing time, ``fields.CST``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from yibao.adapters.nhsa.fields import (
    Code,
    OptDateTime,
    OptText,
    Wire,
    unknown_fields,
    validate,
    wall_time,
)
from yibao.adapters.nhsa.numbers import loads
from yibao.core.errors import InvalidRequest, Problem, YibaoError
from yibao.services.encounters.validation import int_problem, text_problem

__all__ = [
    "ERR_MSG_MAX",
    "RequestEnvelope",
    "ResponseEnvelope",
    "clean_problems",
    "err_msg_of",
    "error_response",
    "inf_refmsgid",
    "parse_request",
    "parse_response",
    "success_response",
    "time17",
]

ERR_MSG_MAX = 200  # err_msg is char 200
_REGION = re.compile(r"^\d{6}$")


def _object_or_none(value: object) -> object:
    return {} if value is None or value == "" else value


class RequestEnvelope(Wire):
    """A hospital's request (1.1). Only what the service cannot do without is required:
    ``infno``, ``msgid`` (20 or 30 characters are both seen) and ``fixmedins_code``."""

    infno: Annotated[str, StringConstraints(min_length=1, max_length=10)]  # 交易编号 (4101A …)
    msgid: Annotated[str, StringConstraints(min_length=1, max_length=30)]  # 发送方报文ID
    mdtrtarea_admvs: OptText = None  # 就医地医保区划
    insuplc_admdvs: OptText = None  # 参保地医保区划
    recer_sys_code: OptText = None
    dev_no: OptText = None
    dev_safe_info: OptText = None
    cainfo: OptText = None
    signtype: OptText = None
    infver: OptText = None
    opter_type: OptText = None  # 1 经办人 2 自助终端 3 移动终端
    opter: OptText = None
    opter_name: OptText = None
    inf_time: OptDateTime = None  # yyyy-MM-dd HH:mm:ss
    fixmedins_code: Code  # 定点医药机构编号
    fixmedins_name: OptText = None
    sign_no: OptText = None  # 签到流水号 (9001)
    input: Annotated[dict[str, Any], BeforeValidator(_object_or_none)] = Field(default_factory=dict)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Envelope fields the spec does not list (``serv_code``, ``serv_sign`` …)."""
        return unknown_fields(self)


def parse_request(body: str | bytes | Mapping[str, Any]) -> RequestEnvelope:
    """A request envelope from the body (parsed by ``numbers.loads``, never through a
    float) or from a mapping already parsed that way."""
    doc = _load(body)
    if problems := clean_problems(doc):
        raise InvalidRequest.of(problems)
    return validate(RequestEnvelope, doc, "")


def _load(body: str | bytes | Mapping[str, Any]) -> object:
    if isinstance(body, Mapping):
        return body
    try:
        return loads(body)
    except ValueError as exc:  # JSONDecodeError is a ValueError; so is a bad UTF-8 body
        raise InvalidRequest.of([("", f"the body is not JSON: {exc}")]) from None
    except RecursionError:
        raise InvalidRequest.of([("", "the body is nested too deeply")]) from None


_MAX_PROBLEMS = 20


def clean_problems(doc: object, path: str = "") -> list[Problem]:
    """Every key path of ``doc`` (a parsed body, unknown fields included) whose key or
    text holds a control character but tab and newlines or a lone surrogate, or whose
    integer is beyond signed 64 bits: nothing of such a body is read, stored or echoed
    (services.validation; docs/NHSA.md, "Validation")."""
    out: list[Problem] = []
    todo: list[tuple[str, object]] = [(path, doc)]
    while todo and len(out) < _MAX_PROBLEMS:
        at, value = todo.pop()
        if isinstance(value, str):
            if (why := text_problem(value, len(value))) is not None:
                out.append((at, why))
        elif isinstance(value, int) and not isinstance(value, bool):
            if (why := int_problem(value)) is not None:
                out.append((at, f"the integer {why}: beyond signed 64 bits"))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                where = f"{at}.{k}" if at else str(k)
                if isinstance(k, str) and (why := text_problem(k, len(k))) is not None:
                    out.append((f"{at}.(key)" if at else "(key)", f"a key {why}"))
                    continue
                todo.append((where, v))
        elif isinstance(value, list):
            todo.extend((f"{at}[{i}]", v) for i, v in enumerate(value))
    return sorted(out)


def _infcode(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return value


def _check_infcode(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("nhsa_infcode", "{msg}", {"msg": f"{value!r} is no infcode"})
    return value


class ResponseEnvelope(Wire):
    """A platform response (1.2) as real ones come: ``infcode`` ``0`` or ``"0"``,
    ``output`` an object or ``null``, unknown fields kept."""

    infcode: Annotated[int, BeforeValidator(_check_infcode), BeforeValidator(_infcode)]
    inf_refmsgid: OptText = None
    refmsg_time: OptText = None
    respond_time: OptText = None
    err_msg: OptText = None
    warn_msg: OptText = None
    output: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.infcode == 0


def parse_response(body: str | bytes | Mapping[str, Any]) -> ResponseEnvelope:
    """A response envelope, read exactly (``numbers.loads``)."""
    return validate(ResponseEnvelope, _load(body), "")


def time17(at: dt.datetime) -> str:
    """``yyyyMMddHHmmssSSS`` (refmsg_time, respond_time), on the platform's clock."""
    at = wall_time(at)
    return at.strftime("%Y%m%d%H%M%S") + f"{at.microsecond // 1000:03d}"


def inf_refmsgid(region: str, at: dt.datetime, serial: int) -> str:
    """接收方报文ID: region (6) + yyyyMMddHHmmss (14) + serial (10, zero-padded)."""
    if not _REGION.match(region):
        raise ValueError(f"region {region!r} is not a 6-digit admin code")
    if not 0 <= serial < 10**10:
        raise ValueError(f"serial {serial} does not fit 10 digits")
    return f"{region}{wall_time(at).strftime('%Y%m%d%H%M%S')}{serial:010d}"


def _envelope(
    infcode: int,
    output: object,
    err_msg: str | None,
    *,
    region: str,
    serial: int,
    received_at: dt.datetime,
    responded_at: dt.datetime,
    warn_msg: str | None,
) -> dict[str, object]:
    return {
        "infcode": infcode,
        "inf_refmsgid": inf_refmsgid(region, received_at, serial),
        "refmsg_time": time17(received_at),
        "respond_time": time17(responded_at),
        "err_msg": err_msg,
        "warn_msg": warn_msg,
        "cainfo": None,
        "signtype": None,
        "output": output,
    }


def success_response(
    output: Mapping[str, object] | None,
    *,
    region: str,
    serial: int,
    received_at: dt.datetime,
    responded_at: dt.datetime,
    warn_msg: str | None = None,
) -> dict[str, object]:
    """``infcode`` 0 with ``output`` (``None`` writes ``"output": null``, as the
    platform does for transactions without output). Write it with ``numbers.dumps``."""
    return _envelope(0, output, None, region=region, serial=serial, received_at=received_at,
                     responded_at=responded_at, warn_msg=warn_msg)  # fmt: skip


def err_msg_of(error: YibaoError | str) -> str:
    """The error on one line, at most 200 characters (the end is cut, marked ``…``)."""
    text = error.one_line() if isinstance(error, YibaoError) else " ".join(error.split())
    return text if len(text) <= ERR_MSG_MAX else text[: ERR_MSG_MAX - 1] + "…"


def error_response(
    error: YibaoError | str,
    *,
    region: str,
    serial: int,
    received_at: dt.datetime,
    responded_at: dt.datetime,
    output: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """``infcode`` -1, ``err_msg`` from the error (every ``YibaoError`` maps here:
    DECISIONS 0037), ``output`` null — or, for an answer that is not a success but
    carries data (a deferred stay: docs/NHSA.md, "Deferral"), ``output``."""
    return _envelope(-1, output, err_msg_of(error), region=region, serial=serial,
                     received_at=received_at, responded_at=responded_at,
                     warn_msg=None)  # fmt: skip
