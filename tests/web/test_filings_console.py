"""异地就医备案 pages without a browser (TestClient, both databases): a township clerk
takes a filing in (a bad region refused beside its field), forwards it; the district
sees it in its queue with its due time, refuses without a reason (refused beside the
field), approves; the history shows every step; another township's clerk is refused."""

from __future__ import annotations

from tests.registry_data import DIBAO, EMPLOYEE
from tests.web.conftest import Console, csrf_of


def test_the_filing_pages(console: Console) -> None:
    c = console.client
    console.sign_in("township-clerk")
    form = c.get("/console/filings/new")
    assert form.status_code == 200
    token = csrf_of(form.text)
    data = {"csrf": token, "kind": "temporary", "insuree_id": EMPLOYEE, "dest_region": "4201",
            "valid_from": "2020-02-14", "covid": "1"}  # fmt: skip
    bad = c.post("/console/filings/new", data=data)
    assert bad.status_code == 422
    assert 'id="err-dest_region"' in bad.text
    other = c.post("/console/filings/new", data=data | {"dest_region": "420100",
                                                        "insuree_id": DIBAO})  # fmt: skip
    assert other.status_code == 403  # 李秀英 is another township's
    done = c.post("/console/filings/new", data=data | {"dest_region": "420100"},
                  follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    page = c.get(done.headers["location"])
    fid = done.headers["location"].rsplit("/", 1)[1]
    assert "已受理" in page.text
    assert "渝医保发〔2020〕3号 四（一）" in page.text
    assert 'id="do-forward"' in page.text
    assert 'id="do-approve"' not in page.text  # a township does not decide
    moved = c.post(f"/console/filings/{fid}/forward", data={"csrf": csrf_of(page.text)})
    assert "已报送" in moved.text
    c.cookies.clear()
    console.sign_in("district-clerk")
    queue = c.get("/console/filings")
    assert fid in queue.text
    assert "2020-02-15 10:00" in queue.text  # 24 hours after it was forwarded
    one = c.get(f"/console/filings/{fid}")
    token = csrf_of(one.text)
    refused = c.post(f"/console/filings/{fid}/refuse", data={"csrf": token, "reason": ""})
    assert refused.status_code == 422
    assert 'id="err-reason"' in refused.text
    approved = c.post(f"/console/filings/{fid}/approve", data={"csrf": token})
    assert 'id="filing-state">已核准' in approved.text
    assert approved.text.count("<tr>") >= 5  # header + four steps
