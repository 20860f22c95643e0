"""Hypothesis strategies over the national envelope (``POST /nhsa``, docs/NHSA.md): a
well-formed message of each supported infno aimed at the world's stays, then mutated —
a value anywhere replaced by a hostile one (integers past 64 bits, NUL bytes, lone
surrogates, right-to-left overrides, over-long text, floats, booleans, dates far out),
a key dropped or added, the infno swapped — and wholly random JSON bodies besides."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.world import OTHER, World
from tests.registry_data import CENTRE
from yibao.adapters.nhsa import DECODERS

__all__ = ["INFNOS", "envelope_bodies", "hostile_values"]

INFNOS = tuple(sorted(DECODERS))
"""Every transaction the envelope decodes: the fuzz follows the adapter, never a copy."""


def _templates(w: World) -> dict[str, list[dict[str, Any]]]:
    """Well-formed ``input`` nodes per infno, aimed at the world's rows."""
    ids = w.ids
    enc, stl, fil = ids["encounter_id"], ids["settlement_id"], ids["filing_id"]
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in INFNOS}
    psns = ids["psn_no"][:3]
    out["9001"].append(
        {"signIn": {"opter_no": "0001", "mac": "00-1B-44-11-3A-B7", "ip": "10.0.0.1"}}
    )
    out["9002"].append({"signOut": {"sign_no": "S" + "0" * 29, "opter_no": "0001"}})
    for psn in psns:
        out["1101"].append({"data": {"psn_no": psn}})
        out["1101"].append({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": psn}})
        out["5206"].append({"data": {"psn_no": psn, "cum_ym": "202002"}})
        out["2401"].append(
            {
                "mdtrtinfo": {
                    "psn_no": psn,
                    "insutype": "310",
                    "begntime": "2020-02-10 09:00:00",
                    "med_type": "21",
                },
                "diseinfo": [{"diag_code": "B99.900", "maindiag_flag": "1", "diag_srt_no": 1}],
            }
        )
        out["2501"].append(
            {
                "refmedin": {
                    "psn_no": psn,
                    "reflin_medins_no": OTHER,
                    "refl_date": "2020-02-14",
                    "refl_rea": "病情需要",
                }
            }
        )
        out["2601"].append({"data": {"psn_no": psn, "omsgid": "F1", "oinfno": "2304"}})
    for mid, psn in zip(enc, [*psns, psns[0]], strict=False):
        out["2301"].append(
            {
                "feedetail": [
                    {
                        "feedetl_sn": "9",
                        "mdtrt_id": mid,
                        "psn_no": psn,
                        "med_list_codg": "YP-0002",
                        "det_item_fee_sumamt": 100.00,
                        "cnt": 2,
                        "pric": 50.0,
                        "fee_ocur_time": "2020-02-04 08:00:00",
                        "bilg_dept_codg": "A01",
                        "bilg_dr_codg": "D1",
                    }
                ]
            }
        )
        out["2302"].append({"data": {"psn_no": psn, "mdtrt_id": mid, "feedetl_sn": "1"}})
        out["2302"].append({"data": {"psn_no": psn, "mdtrt_id": mid, "feedetl_sn": "0000"}})
        settle = {
            "psn_no": psn,
            "mdtrt_id": mid,
            "medfee_sumamt": 550.00,
            "acct_used_flag": "0",
            "insutype": "310",
            "mid_setl_flag": "0",
        }
        out["2303"].append({"data": settle})
        out["2304"].append({"data": settle})
        out["2402"].append(
            {
                "dscginfo": {"psn_no": psn, "mdtrt_id": mid, "endtime": "2020-02-12 09:00:00"},
                "diseinfo": {"diag_code": "B99.900", "maindiag_flag": "1"},
            }
        )
        out["2404"].append({"data": {"psn_no": psn, "mdtrt_id": mid}})
        for sid in stl:
            out["2305"].append({"data": {"psn_no": psn, "mdtrt_id": mid, "setl_id": sid}})
    for sn in fil:
        out["2502"].append({"data": {"psn_no": psns[0], "trt_dcla_detl_sn": sn, "memo": "好转"}})
    totals = {
        "stmt_begndate": "2020-02-01",
        "stmt_enddate": "2020-02-29",
        "medfee_sumamt": 550.00,
        "fund_pay_sumamt": 500.00,
        "acct_pay": 0,
        "fixmedins_setl_cnt": 1,
        "insutype": "310",
        "clr_type": "21",
        "setl_optins": "500102",
    }
    out["3201"].append({"data": totals})
    out["3202"].append({"data": {**totals, "cash_payamt": 50.00, "file_qury_no": "F1"}})
    # issue 16's exchange (n3): files, settlement lists, catalog downloads
    up = {"in": "UEsDBBQAAAAIAA==", "filename": "detail.zip", "fixmedins_code": CENTRE}
    out["9101"].append({"fsUploadIn": up})
    out["9101"].append({"fsUploadIn": {**up, "in": [80, 75, 3, 4, -1, 0]}})
    out["9102"].append({"fsDownloadIn": {"file_qury_no": "U2020021400000000000000000",
                                         "filename": "plc", "fixmedins_code": CENTRE}})  # fmt: skip
    for sid in stl[:2]:
        doc = {"setlinfo": {"setl_id": sid, "mdtrt_id": enc[0], "psn_no": psns[0],
                            "dscg_way": "1"},
               "diseinfo": [{"diag_type": "1", "diag_code": "B99.900", "diag_name": "新冠",
                             "maindiag_flag": "1"}]}  # fmt: skip
        out["4101A"].append(doc)
        out["4101"].append(doc)
    for infno in ("1301", "1305", "1306", "1307"):
        out[infno] += [{"data": {"ver": "0"}}, {"data": {"ver": 3}}]
    # issue 16's stay changes and queries (n2): 2403, 2405, 5203, 5303, 5304
    for mid, psn in zip(enc, [*psns, psns[0]], strict=False):
        info = {"mdtrt_id": mid, "psn_no": psn, "med_type": "21",
                "begntime": "2020-02-10 09:00:00"}  # fmt: skip
        out["2403"].append(
            {"adminfo": info, "diseinfo": [{"diag_code": "B99.900", "maindiag_flag": "1"}]}
        )
        out["2405"].append({"data": {"mdtrt_id": mid, "psn_no": psn}})
        for sid in stl[:2]:
            out["5203"].append({"data": {"psn_no": psn, "setl_id": sid, "mdtrt_id": mid}})
    for psn in psns:
        out["5303"].append({"data": {"psn_no": psn}})
        out["5304"].append({"data": {"psn_no": psn, "begntime": "2020-02-01 00:00:00",
                                     "endtime": "2020-02-29 23:59:59"}})  # fmt: skip
    missing = [i for i, msgs in out.items() if not msgs]
    assert not missing, f"no real message to fuzz for infno {missing}: add one here"
    return out


BIG = (2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**30, -(10**30))


def hostile_values() -> st.SearchStrategy[Any]:
    """Values a careless client or an attacker puts where a field should be."""
    text = st.text(max_size=40)
    return st.one_of(
        st.sampled_from(BIG),
        st.integers(),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(
            [
                "",
                " ",
                "\x00",
                "a\x00b",
                "\ud800",
                "x\udfff",
                "\u202egnp.exe",
                "1" * 19,
                "9" * 40,
                "X" * 300,
                "中" * 100,
                "0000",
                "-1",
                "1e400",
                "2817-01-01 00:00:00",
                "9663-12-31",
                "0001-01-01",
                "2020-02-30",
                "2020-02-10T09:00:00+08:00",
                "12345678",
                "abc",
                "B99.900;DROP",
                "500102198003150016",
                "50010219800315001X",
                "NaN",
                "Infinity",
                "0.0000001",
                "1.005",
                "-0.00",
                "100.001",
            ]
        ),
        text,
        st.lists(st.integers() | text, max_size=3),
        st.dictionaries(text, st.integers() | text, max_size=3),
    )


def _mutate(draw: st.DrawFn, node: Any, depth: int = 0) -> Any:
    """``node`` with one change somewhere inside it."""
    if isinstance(node, dict) and node and depth < 6:
        key = draw(st.sampled_from(sorted(node)))
        how = draw(st.integers(0, 9))
        out = dict(node)
        if how == 0:
            del out[key]
        elif how == 1:
            out[draw(st.text(max_size=12))] = draw(hostile_values())
        elif how <= 4:
            out[key] = draw(hostile_values())
        else:
            out[key] = _mutate(draw, node[key], depth + 1)
        return out
    if isinstance(node, list) and node and depth < 6:
        i = draw(st.integers(0, len(node) - 1))
        how = draw(st.integers(0, 5))
        if how == 0:
            return node * draw(st.integers(0, 3))
        return [*node[:i], _mutate(draw, node[i], depth + 1), *node[i + 1 :]]
    return draw(hostile_values())


@st.composite
def _mutated(draw: st.DrawFn, w: World, templates: dict[str, list[dict[str, Any]]]) -> str:
    infno = draw(st.sampled_from(INFNOS))
    inp = draw(st.sampled_from(templates[infno]))
    env: dict[str, Any] = {
        "infno": infno,
        "msgid": f"FZ{draw(st.integers(0, 10**9))}",
        "fixmedins_code": CENTRE,
        "mdtrtarea_admvs": "500102",
        "insuplc_admdvs": "500102",
        "inf_time": "2020-02-14 10:00:00",
        "input": inp,
    }
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            env["input"] = _mutate(draw, env["input"])
        else:
            env = _mutate(draw, env)
    return _dumps(draw, env)


@st.composite
def _random(draw: st.DrawFn) -> str:
    """A body from scratch: random JSON, or an envelope of random parts."""
    leaf = hostile_values()
    anything = st.recursive(
        leaf,
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
        ),
        max_leaves=12,
    )
    if draw(st.booleans()):
        return _dumps(draw, draw(anything))
    env = {
        "infno": draw(st.sampled_from(INFNOS) | leaf),
        "msgid": draw(st.text(max_size=40) | leaf),
        "fixmedins_code": draw(st.sampled_from([CENTRE, OTHER]) | leaf),
        "input": draw(anything),
    }
    return _dumps(draw, env)


def _dumps(draw: st.DrawFn, doc: Any) -> str:
    """JSON text; lone surrogates go as ``\\ud800`` escapes (valid JSON the server must
    refuse), Chinese raw or escaped as a client may send it."""
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


def envelope_bodies(w: World) -> st.SearchStrategy[str]:
    """Request bodies for ``POST /nhsa``: mostly mutated real messages, some random."""
    templates = _templates(w)
    return st.one_of(
        _mutated(w, templates),
        _mutated(w, templates),
        _random(),
        st.sampled_from(
            [
                "",
                "{",
                "[]",
                "null",
                "{}",
                '{"infno": "2304"}',
                "\ufeff{}",
                '{"infno": 2304, "input": 1e999}',
            ]
        ),
    )
