"""The filings' REST resources, both databases: take in, queue, decide with a reason, a
problem+json for bad input, never a 500."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.registry_data import EMPLOYEE


def test_filing_through_rest(api: Api) -> None:
    clerk_headers = api.h("clerk")
    body: dict[str, Any] = {"kind": "temporary", "insuree_id": EMPLOYEE, "dest_region": "420100",
                            "valid_from": "2020-01-24", "covid": True}  # fmt: skip
    r = api.client.post("/v1/filings", json=body, headers=clerk_headers)
    assert r.status_code == 201, r.text
    f = r.json()
    assert (f["state"], f["channel"], len(f["steps"])) == ("accepted", "district", 2)
    r = api.client.get("/v1/filings", headers=clerk_headers)
    assert [x["id"] for x in r.json()["filings"]] == [f["id"]]
    r = api.client.post(f"/v1/filings/{f['id']}/decision", json={"approve": False},
                        headers=clerk_headers)  # fmt: skip
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = api.client.post(f"/v1/filings/{f['id']}/decision",
                        json={"approve": False, "reason": "材料不全"},
                        headers=clerk_headers)  # fmt: skip
    assert r.json()["state"] == "refused"
    r = api.client.post("/v1/filings", json=body | {"kind": "abroad"}, headers=clerk_headers)
    assert r.status_code == 422
    r = api.client.get("/v1/filings/nope", headers=clerk_headers)
    assert r.status_code == 404
