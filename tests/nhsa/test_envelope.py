"""The envelope: requests as real hospitals send them, responses as the spec wants."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.adapters.nhsa import (
    dumps,
    err_msg_of,
    error_response,
    inf_refmsgid,
    loads,
    parse_request,
    parse_response,
    success_response,
    time17,
)
from yibao.adapters.nhsa.envelope import ERR_MSG_MAX
from yibao.adapters.nhsa.fields import CST
from yibao.core.errors import InvalidRequest, NotFound

AT = dt.datetime(2020, 2, 10, 9, 30, 5, 123456, tzinfo=CST)
LATER = dt.datetime(2020, 2, 10, 9, 30, 6, 7000, tzinfo=CST)
REQUEST = """{"infno": "2304", "msgid": "H50010200001202002100930050001",
 "mdtrtarea_admvs": "500102", "insuplc_admdvs": "", "recer_sys_code": "YBXT",
 "dev_no": null, "dev_safe_info": null, "cainfo": null, "signtype": null, "infver": "V1.0",
 "opter_type": 1, "opter": "001", "opter_name": "张三", "inf_time": "2020-02-10 09:30:05",
 "fixmedins_code": "H50010200001", "fixmedins_name": "重庆市某医院", "sign_no": "S1",
 "serv_code": "abc", "serv_sign": "def", "input": {"data": {"psn_no": "P1"}}}"""


def test_a_real_request() -> None:
    env = parse_request(REQUEST)
    assert env.infno == "2304"
    assert env.opter_type == "1"  # a number read as its code
    assert env.insuplc_admdvs is None  # "" is absent
    assert env.inf_time == dt.datetime(2020, 2, 10, 9, 30, 5, tzinfo=CST)
    assert env.input == {"data": {"psn_no": "P1"}}
    assert env.unknown == ("serv_code", "serv_sign")
    assert parse_request(loads(REQUEST)) == env
    assert parse_request(REQUEST.encode()) == env


def test_a_twenty_character_msgid_and_missing_optionals() -> None:
    env = parse_request('{"infno": "1101", "msgid": "12345678901234567890", '
                        '"fixmedins_code": "H1", "input": null}')  # fmt: skip
    assert env.msgid == "12345678901234567890"
    assert env.input == {}
    assert env.inf_time is None
    assert env.unknown == ()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"infno": "", "msgid": "M", "fixmedins_code": "H1"}', "infno"),
        ('{"infno": "2304", "msgid": "' + "9" * 31 + '", "fixmedins_code": "H1"}', "msgid"),
        ('{"infno": "2304", "msgid": "M"}', "fixmedins_code"),
        (
            '{"infno": "2304", "msgid": "M", "fixmedins_code": "H1", "inf_time": "10/02/2020"}',
            "inf_time",
        ),
        ('{"infno": "2304", "msgid": "M", "fixmedins_code": "H1", "input": [1]}', "input"),
        ("{not json", ""),
    ],
)
def test_refused_requests_name_the_field(body: str, path: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        parse_request(body)
    assert exc.value.problems[0][0] == path


def test_times_are_read_and_written_on_the_platform_clock() -> None:
    utc = AT.astimezone(dt.UTC)
    assert time17(utc) == "20200210093005123"
    with pytest.raises(ValueError, match="no time zone"):
        time17(AT.replace(tzinfo=None))
    env = parse_request('{"infno": "1101", "msgid": "M", "fixmedins_code": "H1", '
                        '"inf_time": null}')  # fmt: skip
    assert env.inf_time is None


def test_ids_and_times() -> None:
    assert time17(AT) == "20200210093005123"
    assert inf_refmsgid("500102", AT, 42) == "500102" + "20200210093005" + "0000000042"
    assert len(inf_refmsgid("500102", AT, 9_999_999_999)) == 30
    with pytest.raises(ValueError, match="6-digit"):
        inf_refmsgid("5001", AT, 1)
    with pytest.raises(ValueError, match="10 digits"):
        inf_refmsgid("500102", AT, 10**10)


def test_success_and_error_responses() -> None:
    ok = success_response({"x": 1}, region="500102", serial=7, received_at=AT,
                          responded_at=LATER)  # fmt: skip
    assert ok["infcode"] == 0
    assert ok["refmsg_time"] == "20200210093005123"
    assert ok["respond_time"] == "20200210093006007"
    assert ok["err_msg"] is None
    back = parse_response(dumps(ok))
    assert back.ok
    assert back.output == {"x": 1}
    bad = error_response(NotFound("settlement S9 does not exist"), region="500102", serial=8,
                         received_at=AT, responded_at=LATER)  # fmt: skip
    assert (bad["infcode"], bad["output"]) == (-1, None)
    assert bad["err_msg"] == "settlement S9 does not exist"
    assert not parse_response(dumps(bad)).ok


def test_err_msg_is_one_line_of_at_most_200_characters() -> None:
    many = InvalidRequest.of([(f"input.feedetail[{n}].pric", "单价不是整分") for n in range(20)])
    assert err_msg_of(many) == "input.feedetail[0].pric: 单价不是整分 (and 19 more)"
    msg = err_msg_of(InvalidRequest.of([("input.data.psn_no", "人员编号不存在" * 40)]))
    assert len(msg) == ERR_MSG_MAX
    assert msg.endswith("…")
    assert "\n" not in msg
    assert err_msg_of("a\n b") == "a b"


@pytest.mark.parametrize("infcode", [0, "0", " 0 "])
def test_infcode_as_number_or_string(infcode: object) -> None:
    resp = parse_response({"infcode": infcode, "output": None, "err_msg": None})
    assert resp.ok
    assert resp.output is None


def test_failed_and_odd_responses() -> None:
    assert parse_response({"infcode": "-1", "err_msg": "失败"}).infcode == -1
    with pytest.raises(InvalidRequest, match="infcode"):
        parse_response({"infcode": "ok"})
    with pytest.raises(InvalidRequest, match="infcode"):
        parse_response({"infcode": True})
