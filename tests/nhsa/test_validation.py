"""Issue 15 over the national envelope, on both databases: every malformed message is
infcode -1 naming the national key path, and nothing of it is stored."""

# ruff: noqa: F811  (test arguments named after the imported `api` fixture)
from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from tests.api.conftest import Api, api  # noqa: F401  (the fixture: the app on both databases)
from tests.registry_data import CENTRE, DIBAO
from yibao.adapters import nhsa
from yibao.adapters.nhsa.envelope import clean_problems
from yibao.adapters.nhsa.numbers import Fen, scaled

BAD_CHECK = DIBAO[:17] + ("0" if DIBAO[17] != "0" else "1")
MDTRT = {"psn_no": DIBAO, "insutype": "390", "begntime": "2020-02-03 09:00:00", "med_type": "21"}
DISE = {"diag_code": "B99.900", "maindiag_flag": "1"}


def _env(infno: str, data: Any, msgid: str = "V1") -> str:
    doc = {"infno": infno, "msgid": msgid, "fixmedins_code": CENTRE, "mdtrtarea_admvs": "500102",
           "inf_time": "2020-02-12 10:00:00", "input": data}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False)


def _call(api: Api, body: str) -> nhsa.ResponseEnvelope:
    r = api.client.post("/nhsa", content=body.encode("utf-8", "surrogatepass"),
                        headers=api.h())  # fmt: skip
    assert r.status_code == 200, r.text
    return nhsa.parse_response(r.text)


def _refused(api: Api, body: str, path: str) -> None:
    before = api.counts()
    ans = _call(api, body)
    assert ans.infcode == -1, ans
    assert ans.err_msg is not None
    assert path in ans.err_msg, ans.err_msg
    assert api.counts() == before


def _admit(api: Api) -> str:
    ans = _call(api, _env("2401", {"mdtrtinfo": MDTRT, "diseinfo": DISE}, "A1"))
    assert ans.ok, ans.err_msg
    assert ans.output is not None
    return str(ans.output["result"]["mdtrt_id"])


@pytest.mark.parametrize(
    ("path", "change", "dise"),
    [
        ("input.mdtrtinfo.psn_no", {"psn_no": "abc", "insuplc_admdvs": "500102"}, DISE),
        ("input.mdtrtinfo.psn_no", {"psn_no": BAD_CHECK}, DISE),
        ("input.mdtrtinfo.begntime", {"begntime": "2817-02-03 09:00:00"}, DISE),
        ("input.mdtrtinfo.med_type", {"med_type": "12345678"}, DISE),
        ("input.mdtrtinfo.med_type", {"med_type": "2\u202e1"}, DISE),
        ("input.mdtrtinfo.insutype", {"insutype": "123456789"}, DISE),
        ("input.mdtrtinfo.insuplc_admdvs",
         {"psn_no": "500102199501010061", "insuplc_admdvs": "999999"}, DISE),
        ("input.diseinfo[0].diag_code", {}, {"diag_code": "NOT-A-CODE", "maindiag_flag": "1"}),
    ],
)  # fmt: skip
def test_a_malformed_2401_is_infcode_minus_1_and_not_stored(
    api: Api, path: str, change: dict[str, Any], dise: dict[str, Any]
) -> None:
    _refused(api, _env("2401", {"mdtrtinfo": MDTRT | change, "diseinfo": dise}), path)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("5001021952110800\\u0000", "input.mdtrtinfo.psn_no"),
        ("50010219521108002\\ud800", "input.mdtrtinfo.psn_no"),
    ],
)
def test_nul_and_lone_surrogates_anywhere_are_refused(api: Api, text: str, path: str) -> None:
    body = _env("2401", {"mdtrtinfo": MDTRT | {"psn_no": "@"}, "diseinfo": DISE})
    _refused(api, body.replace('"@"', f'"{text}"'), path)


def test_an_unknown_field_with_a_nul_or_a_wide_integer_is_refused(api: Api) -> None:
    body = _env("2401", {"mdtrtinfo": MDTRT | {"memo": "@"}, "diseinfo": DISE})
    _refused(api, body.replace('"@"', '"x\\u0000"'), "input.mdtrtinfo.memo")
    wide = _env("2401", {"mdtrtinfo": MDTRT | {"fetts": 2**70}, "diseinfo": DISE})
    _refused(api, wide, "input.mdtrtinfo.fetts")


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("cnt", False, "input.feedetail[0].cnt"),
        ("cnt", "1e400", "input.feedetail[0].cnt"),
        ("pric", 10**30, "input.feedetail[0].pric"),
        ("feedetl_sn", "1" * 31, "input.feedetail[0].feedetl_sn"),
        ("bilg_dept_codg", "d" * 31, "input.feedetail[0].bilg_dept_codg"),
        ("fee_ocur_time", "2817-01-01 00:00:00", "input.feedetail[0].fee_ocur_time"),
    ],
)
def test_a_malformed_2301_is_refused(api: Api, field: str, value: Any, path: str) -> None:
    mid = _admit(api)
    row = {"feedetl_sn": "1", "mdtrt_id": mid, "med_list_codg": "YP-0002",
           "det_item_fee_sumamt": 100, "cnt": 2, "pric": 50, field: value}  # fmt: skip
    body = _env("2301", {"feedetail": [row]})
    if value == "1e400":
        body = body.replace('"1e400"', "1e400")
    _refused(api, body, path)


def test_a_transfer_to_a_provider_that_does_not_exist_is_refused(api: Api) -> None:
    _admit(api)
    data = {"refmedin": {"psn_no": DIBAO, "reflin_medins_no": "H50019999999"}}
    _refused(api, _env("2501", data), "input.refmedin.reflin_medins_no")


def test_a_2304_total_beyond_64_bits_is_refused(api: Api) -> None:
    mid = _admit(api)
    data = {"data": {"psn_no": DIBAO, "mdtrt_id": mid, "medfee_sumamt": "1e30"}}
    _refused(api, _env("2304", data).replace('"1e30"', "1e30"), "input.data.medfee_sumamt")


# -- the pure parts --------------------------------------------------------------------------


def test_clean_problems_names_every_bad_path() -> None:
    doc = {"a": "ok\n\t", "b": ["x\x00", 2**63, -(2**63)], "c": {"d\ud800": 1}, "e": True}
    assert clean_problems(doc) == [
        ("b[0]", "holds the control character U+0000"),
        ("b[1]", "the integer is not in -9223372036854775808 … 9223372036854775807: "
         "beyond signed 64 bits"),
        ("c.(key)", "a key holds a lone surrogate (U+D800), which is not text"),
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["1e20", "1e999999999", "-1e400", "1e-999999"])
def test_wire_numbers_beyond_64_bits_are_refused_without_writing_them_out(text: str) -> None:
    with pytest.raises(ValueError, match="64 bits"):
        scaled(nhsa.JsonNumber(text), 2)


def test_an_amount_beyond_64_bits_in_fen_is_refused() -> None:
    adapter = TypeAdapter(Fen)
    assert adapter.validate_python(nhsa.JsonNumber("92233720368547758.07")) == 2**63 - 1
    with pytest.raises(ValueError, match="64 bits"):
        adapter.validate_python(nhsa.JsonNumber("92233720368547758.08"))
