"""Issue 16's file and document exchange on both databases, through POST /nhsa: 9101/9102
byte for byte, 3202 line by line from the detail file it names, 4101A settlement lists
(validated, versioned) and the catalog downloads 1301/1305/1306/1307 with ``ver``."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api import conftest as api_conftest
from tests.api.conftest import OTHER, Api
from tests.registry_data import CENTRE, DIBAO, put
from yibao.adapters import nhsa
from yibao.adapters.nhsa.exchange import MAX_UPLOAD_BYTES, decode_4101a
from yibao.core.errors import InvalidRequest
from yibao.services.reports.detail_file import read_detail_file
from yibao.services.reports.files import MAX_FILE_BYTES

HERE = Path(__file__).parent / "exchange"
api = api_conftest.api  # the API on both databases (tests/api/conftest.py)


def _call(api: Api, infno: str, msgid: str, inp: Any, role: str = "hospital",
          code: str = CENTRE) -> nhsa.ResponseEnvelope:  # fmt: skip
    body = nhsa.dumps({"infno": infno, "msgid": msgid, "fixmedins_code": code,
                       "mdtrtarea_admvs": "500102", "inf_time": "2020-02-14 10:00:00",
                       "input": inp})  # fmt: skip
    r = api.client.post("/nhsa", content=body, headers=api.h(role))
    assert r.status_code == 200, r.text
    return nhsa.parse_response(r.text)


def _ok(ans: nhsa.ResponseEnvelope) -> dict[str, Any]:
    assert ans.ok, ans.err_msg
    assert ans.output is not None
    return ans.output


def _upload(api: Api, msgid: str, data: bytes, name: str = "detail.zip", role: str = "hospital",
            code: str = CENTRE) -> str:  # fmt: skip
    out = _ok(_call(api, "9101", msgid, {"fsUploadIn": {
        "in": base64.b64encode(data).decode(), "filename": name, "fixmedins_code": code}},
        role, code))  # fmt: skip
    assert out["filename"] == name
    assert out["fixmedins_code"] == code
    return str(out["file_qury_no"])


def _download(api: Api, msgid: str, no: str, role: str = "hospital",
              code: str = CENTRE) -> nhsa.ResponseEnvelope:  # fmt: skip
    return _call(
        api,
        "9102",
        msgid,
        {"fsDownloadIn": {"file_qury_no": no, "filename": "plc", "fixmedins_code": code}},
        role,
        code,
    )


def _unzip(data: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        (name,) = z.namelist()
        text = z.read(name).decode()
    return [line.split("\t") for line in text.splitlines()]


def _zip(text: str, encoding: str = "utf-8") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("detail.txt", text.encode(encoding))
    return buf.getvalue()


FEES = [("1", "YP-0002", "100.00", "2", "50"), ("2", "ZL-0001", "45.00", "3", "15.00")]


def _settled(api: Api) -> dict[str, Any]:
    """A 低保 insuree's stay admitted, two lines, settled on 2020-02-14: the setlinfo."""
    out = _ok(
        _call(
            api,
            "2401",
            "A1",
            {
                "mdtrtinfo": {
                    "psn_no": DIBAO,
                    "insutype": "390",
                    "begntime": "2020-02-03 09:00:00",
                    "med_type": "21",
                },
                "diseinfo": [{"diag_code": "B99.900", "maindiag_flag": "1", "diag_type": "1"}],
            },
        )
    )
    mid = out["result"]["mdtrt_id"]
    rows = [{"feedetl_sn": sn, "mdtrt_id": mid, "med_list_codg": c,
             "det_item_fee_sumamt": nhsa.JsonNumber(a), "cnt": nhsa.JsonNumber(n),
             "pric": nhsa.JsonNumber(p), "fee_ocur_time": "2020-02-04 08:00:00"}
            for sn, c, a, n, p in FEES]  # fmt: skip
    _ok(_call(api, "2301", "F1", {"feedetail": rows}))
    setl = _ok(
        _call(
            api,
            "2304",
            "S1",
            {
                "data": {
                    "psn_no": DIBAO,
                    "mdtrt_id": mid,
                    "medfee_sumamt": nhsa.JsonNumber("145.00"),
                }
            },
        )
    )
    return dict(setl["setlinfo"])


def _files(api: Api) -> int:
    with api.uow:
        q = text("SELECT file_qury_no FROM exchange_files")
        return len(api.uow.session.execute(q).all())


# -- 9101 / 9102 -------------------------------------------------------------------------


def test_upload_and_download_byte_for_byte(api: Api) -> None:
    data = bytes(range(256)) * 11 + b"\x00PK\xff"
    no = _upload(api, "U1", data, name="任意文件.bin")
    assert no.startswith("U20200214")
    out = _ok(_download(api, "D1", no))
    assert base64.b64decode(out["file"]) == data
    assert (out["size"], out["filename"]) == (len(data), "任意文件.bin")
    # a byte array as Java sends it (signed bytes) is the same file
    signed = [b - 256 if b > 127 else b for b in data]
    again = _ok(_call(api, "9101", "U2", {"fsUploadIn": {"in": signed, "filename": "x.bin",
                                                         "fixmedins_code": CENTRE}}))  # fmt: skip
    assert again["file_qury_no"] != no
    got = _ok(_download(api, "D2", again["file_qury_no"]))
    assert got["sha256"] == out["sha256"]
    assert MAX_UPLOAD_BYTES == MAX_FILE_BYTES


def test_upload_refusals_name_the_field(api: Api) -> None:
    before = _files(api)
    bad = _call(api, "9101", "U1", {"fsUploadIn": {"in": "", "filename": "a.zip",
                                                   "fixmedins_code": CENTRE}})  # fmt: skip
    assert bad.infcode == -1
    assert "input.fsUploadIn.in" in bad.err_msg
    bad = _call(api, "9101", "U2", {"fsUploadIn": {"in": "!!not base64", "filename": "a.zip",
                                                   "fixmedins_code": CENTRE}})  # fmt: skip
    assert bad.infcode == -1
    assert "input.fsUploadIn.in" in bad.err_msg
    bad = _call(api, "9101", "U3", {"fsUploadIn": {"in": "QUJD", "filename": "../etc/passwd",
                                                   "fixmedins_code": CENTRE}})  # fmt: skip
    assert bad.infcode == -1
    assert "input.fsUploadIn.filename" in bad.err_msg
    bad = _call(api, "9101", "U4", {"fsUploadIn": {"in": "QUJD", "filename": "a.zip",
                                                   "fixmedins_code": OTHER}})  # fmt: skip
    assert bad.infcode == -1
    assert "input.fsUploadIn.fixmedins_code" in bad.err_msg
    assert _files(api) == before


def test_another_hospitals_file_is_not_found(api: Api) -> None:
    no = _upload(api, "U1", b"mine")
    theirs = _download(api, "D1", no, role="other", code=OTHER)
    assert theirs.infcode == -1
    assert f"file {no} not found" in theirs.err_msg
    assert _download(api, "D2", "U20200214nosuchfile").infcode == -1


# -- 3202 ------------------------------------------------------------------------------


def _3202(api: Api, msgid: str, no: str, setl: dict[str, Any], cnt: int = 1) -> Any:
    return _call(api, "3202", msgid, {"data": {
        "setl_optins": "500102", "file_qury_no": no, "stmt_begndate": "2020-02-14",
        "stmt_enddate": "2020-02-14", "medfee_sumamt": setl["medfee_sumamt"],
        "fund_pay_sumamt": setl["fund_pay_sumamt"], "cash_payamt": setl["psn_cash_pay"],
        "fixmedins_setl_cnt": cnt}})  # fmt: skip


def test_3202_with_a_detail_file_that_matches(api: Api) -> None:
    s = _settled(api)
    line = "\t".join([s["setl_id"], s["mdtrt_id"], DIBAO, str(s["medfee_sumamt"]),
                      str(s["fund_pay_sumamt"]), str(s["acct_pay"]), "0"])  # fmt: skip
    no = _upload(api, "U1", _zip(line + "\n"))
    out = _ok(_3202(api, "T1", no, s))
    assert out["stmtinfo"]["stmt_rslt"] == "0", out
    assert "明细 1 笔相符" in out["stmtinfo"]["stmt_rslt_dscr"]
    info = out["fileinfo"]
    assert info["filename"] == "result.zip"
    got = _ok(_download(api, "D1", info["file_qury_no"]))
    (row,) = _unzip(base64.b64decode(got["file"]))
    assert row[:7] == [DIBAO, s["mdtrt_id"], s["setl_id"], "S1", "0", "0", "null"]
    assert row[7:] == [str(s["medfee_sumamt"]), str(s["fund_pay_sumamt"]), str(s["acct_pay"])]


def test_3202_names_each_difference(api: Api) -> None:
    s = _settled(api)
    rev = _ok(_call(api, "2305", "R1", {"data": {"psn_no": DIBAO, "mdtrt_id": s["mdtrt_id"],
                                                 "setl_id": s["setl_id"]}}))  # fmt: skip
    assert rev["setlinfo"]["medfee_sumamt"] is not None
    # a GBK file, comma-separated, with a header in another order: the settlement with
    # another fund amount, a settlement we do not have; the reversal left out
    text = (HERE / "detail_differs.csv").read_text(encoding="utf-8")
    text = text.format(setl_id=s["setl_id"], mdtrt_id=s["mdtrt_id"], psn_no=DIBAO,
                       medfee=s["medfee_sumamt"])  # fmt: skip
    no = _upload(api, "U1", _zip(text, "gbk"))
    out = _ok(_3202(api, "T1", no, s, cnt=0))
    info = out["stmtinfo"]
    assert info["stmt_rslt"] == "1"
    assert "不符 3 笔" in info["stmt_rslt_dscr"], info
    got = _ok(_download(api, "D1", out["fileinfo"]["file_qury_no"]))
    rows = {(r[2], r[5]): r for r in _unzip(base64.b64decode(got["file"]))}
    assert rows[(s["setl_id"], "0")][4] == "3"  # amounts differ
    assert "fund_pay_sumamt 中心" in rows[(s["setl_id"], "0")][6]
    assert rows[(s["setl_id"], "1")][4] == "1"  # the reversal: ours only
    assert rows[("S-NOT-OURS", "0")][4] == "2"  # theirs only
    assert rows[("S-NOT-OURS", "0")][3] == "null"


def test_3202_malformed_file_names_row_and_column_and_stores_nothing(api: Api) -> None:
    s = _settled(api)
    good = "\t".join([s["setl_id"], s["mdtrt_id"], DIBAO, "145.00", "10.00", "0", "0"])
    bad = "\t".join(["S2", "M2", DIBAO, "12.00", "12.345", "0", "0"])
    no = _upload(api, "U1", _zip(f"{good}\n{bad}\n"))
    before = (api.counts(), _files(api))
    ans = _3202(api, "T1", no, s)
    assert ans.infcode == -1
    assert "input.data.file_qury_no: row 2 column 5 (fund_pay_sumamt)" in ans.err_msg
    assert (api.counts(), _files(api)) == before
    no_file = _call(api, "3202", "T2", {"data": {"stmt_begndate": "2020-02-14",
        "stmt_enddate": "2020-02-14", "medfee_sumamt": 0, "fund_pay_sumamt": 0,
        "cash_payamt": 0, "fixmedins_setl_cnt": 0}})  # fmt: skip
    assert no_file.infcode == -1
    assert "input.data.file_qury_no" in no_file.err_msg


def test_detail_file_variants() -> None:
    rows = read_detail_file(b"\xef\xbb\xbfS1,M1,P1,10.00,8,null,1\r\nS2,M2,P2,1,1,0.5,0\r\n")
    assert [(r.settlement_id, r.refund, r.fund_pay_sumamt, r.acct_pay) for r in rows] == [
        ("S1", True, 800, 0), ("S2", False, 100, 50)]  # fmt: skip
    with pytest.raises(InvalidRequest) as e:
        read_detail_file(
            b"S1\tM1\tP1\t1\t1\t0\t0\nS1\tM1\tP1\t1\tx\t0\t2\nS1\tM1\tP1\t1\t1\t0\t0\n"
        )
    assert [m for _, m in e.value.problems] == [
        "row 2 column 5 (fund_pay_sumamt): not a decimal number: 'x' (yuan, 2 decimals)",
        "row 2 column 7 (refd_setl_flag): '2' is not 0 or 1",
        "row 3 column 1 (setl_id): S1 is listed again (first on row 1)",
    ]
    with pytest.raises(InvalidRequest, match="row 1: 3 columns"):
        read_detail_file(b"S1\tM1\tP1\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "x")
        z.writestr("b.txt", "y")
    with pytest.raises(InvalidRequest, match="exactly one TXT"):
        read_detail_file(buf.getvalue())


# -- 4101A -----------------------------------------------------------------------------


def _list(s: dict[str, Any], **setl: Any) -> dict[str, Any]:
    return json.loads(
        (HERE / "settlement_list.json")
        .read_text(encoding="utf-8")
        .replace("{setl_id}", s["setl_id"])
        .replace("{mdtrt_id}", s["mdtrt_id"])
        .replace("{psn_no}", DIBAO)
    ) | ({"setlinfo": setl} if setl else {})


def test_4101a_accepted_then_a_second_version(api: Api) -> None:
    s = _settled(api)
    first = _ok(_call(api, "4101A", "L1", _list(s)))
    second = _ok(_call(api, "4101A", "L2", _list(s)))
    assert (first["vers"], second["vers"]) == (1, 2)
    assert first["setl_list_id"] != second["setl_list_id"]
    assert _call(api, "4101A", "L2", _list(s)).output == second  # a repeat: the same answer
    with api.uow:
        rows = api.uow.exchange.settlement_lists(s["setl_id"])
    assert [r.version for r in rows] == [1, 2]
    assert rows[0].document["setlinfo"]["dscg_way"] == "1"


def test_4101a_refusals(api: Api) -> None:
    s = _settled(api)
    doc = _list(s)
    unknown = _call(api, "4101A", "L1", doc | {"setlinfo": doc["setlinfo"] | {"setl_id": "NOPE"}})
    assert "input.setlinfo.setl_id: settlement NOPE not found" in unknown.err_msg
    theirs = _call(api, "4101A", "L2", doc, role="other", code=OTHER)
    assert f"input.setlinfo.setl_id: settlement {s['setl_id']} not found" in theirs.err_msg
    wrong = _call(api, "4101A", "L3", doc | {"setlinfo": doc["setlinfo"] | {"mdtrt_id": "M9"}})
    assert "input.setlinfo.mdtrt_id: M9 is not the mdtrt_id" in wrong.err_msg
    dise = [{"diag_type": "1", "diag_code": "I10", "diag_name": "高血压", "maindiag_flag": "1"}]
    bad_code = _call(api, "4101A", "L4", doc | {"diseinfo": dise})
    assert "input.diseinfo[0].diag_code: I10 is not an insurance disease code" in bad_code.err_msg
    with api.uow:
        assert api.uow.exchange.settlement_lists(s["setl_id"]) == []
    # missing fields: every one named
    with pytest.raises(InvalidRequest) as e:
        decode_4101a({"setlinfo": {"setl_id": "S1"}, "diseinfo": [{"diag_type": "1"}],
                      "icuinfo": [{"scs_cutd_ward_type": "1"}]})  # fmt: skip
    assert sorted(p for p, _ in e.value.problems) == [
        "input.diseinfo[0].diag_code", "input.diseinfo[0].diag_name",
        "input.icuinfo[0].scs_cutd_exit_time", "input.icuinfo[0].scs_cutd_inpool_time",
        "input.icuinfo[0].scs_cutd_sum_dura", "input.setlinfo.mdtrt_id",
        "input.setlinfo.psn_no"]  # fmt: skip
    with pytest.raises(InvalidRequest, match="exactly one row has maindiag_flag 1"):
        decode_4101a(doc | {"diseinfo": [dise[0] | {"maindiag_flag": "0"}]})


# -- 1301–1307 -------------------------------------------------------------------------


def _catalog(
    api: Api, infno: str, msgid: str, ver: object
) -> tuple[dict[str, Any], list[list[str]]]:
    out = _ok(_call(api, infno, msgid, {"data": {"ver": ver}}))
    got = _ok(_download(api, f"{msgid}D", out["file_qury_no"]))
    return out, _unzip(base64.b64decode(got["file"]))


def test_catalog_downloads_list_the_registry_and_ver_gives_what_changed(api: Api) -> None:
    out, drugs = _catalog(api, "1301", "C1", "0")
    assert out["data_cnt"] == len(drugs) > 0
    assert out["filename"] == "1301_0.zip"
    assert len(out["dld_end_time"]) == 10
    codes = {r[0] for r in drugs}
    assert {"XJ05AXA159A001010101445", "XL04AXX999T000000000001"} <= codes
    assert {r[3] for r in drugs} == {"drug"}
    lpv = next(r for r in drugs if r[0] == "XL04AXX999T000000000001")
    assert lpv[4:8] == ["03", "0.0000", "null", "0"]  # 丙类, no self-pay, no cap, not temp
    _, services = _catalog(api, "1305", "C2", "")
    temp = next(r for r in services if r[0] == "T50000000012")
    assert temp[7] == "1"
    assert temp[8].startswith("新型冠状病毒感染的肺炎诊疗方案")
    _, consumables = _catalog(api, "1306", "C3", 0)
    assert consumables
    assert {r[3] for r in consumables} == {"consumable"}
    _, diseases = _catalog(api, "1307", "C4", "0")
    assert {"B99.900", "U07.100x001", "Z03.800x001"} <= {r[0] for r in diseases}
    # the highest ver held: nothing new; then one new drug: only it
    top = max(int(r[-2]) for r in drugs)
    none, empty = _catalog(api, "1301", "C5", str(top))
    assert (none["data_cnt"], empty) == (0, [])
    put(api.uow, "catalog", {"region": "500000", "code": "XNEWDRUG0001", "name": "新药",
                             "category": "drug", "item_class": "B", "selfpay_bp": "1000",
                             "valid_from": "2020-02-01"})  # fmt: skip
    new, rows = _catalog(api, "1301", "C6", str(top))
    assert new["data_cnt"] == 1
    assert [r[0] for r in rows] == ["XNEWDRUG0001"]
    assert rows[0][5] == "0.1000"
    assert int(rows[0][-2]) > top
    # the same content is the same file: asking again stores nothing
    files = _files(api)
    assert _ok(_call(api, "1301", "C7", {"data": {"ver": str(top)}}))["file_qury_no"] == new[
        "file_qury_no"]  # fmt: skip
    assert _files(api) == files
    bad = _call(api, "1301", "C8", {"data": {"ver": "v2021"}})
    assert bad.infcode == -1
    assert "input.data.ver" in bad.err_msg
