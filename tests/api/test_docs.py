"""docs/API.md names every route of the OpenAPI schema, and the demo's printed curl
session is the one the API answers (a confirmed COVID-19 patient pays 0 cash)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import NOW, Api
from yibao.adapters.api.app import create_app
from yibao.adapters.api.demo import curl_text, steps
from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.hospital import demo_case, demo_key

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_is_in_api_md() -> None:
    spec = create_app("sqlite:///:memory:", check=False).openapi()
    doc = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|", doc, re.M))
    missing = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops
               if (m.upper(), p) not in rows]  # fmt: skip
    assert missing == [], "document these routes in docs/API.md"


def test_the_demo_curl_session_settles_with_no_cash(api: Api, tmp_path: Path) -> None:
    load_demo(api.uow, insurees=30)
    case = demo_case(api.uow)
    key, created = demo_key(api.uow, tmp_path / "key", now=NOW)
    assert created
    assert demo_key(api.uow, tmp_path / "key", now=NOW) == (key, False)  # reused
    plan = steps(case.insuree_id, case.lines)
    text = curl_text("http://127.0.0.1:8000", key, plan)
    assert text.count("curl -s -X POST") == 3
    eid = ""
    for st in plan:
        assert st.path.replace("{encounter_id}", "$EID") in text
        r = api.client.request(st.method, st.path.replace("{encounter_id}", eid), json=st.body,
                               headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        eid = eid or r.json()["id"]
    s = r.json()
    assert s["covid"]
    assert s["setlinfo"]["psn_cash_pay"] == 0
    assert s["setlinfo"]["hifp_pay"] > 0
