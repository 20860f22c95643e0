"""The console on the test database: the example registries, one user of every role
(the township clerk of 500102001, 张三丰's township; 李秀英 lives in 500102009), and
two settled stays (one of each), made through the REST API of the same app."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE, load_examples
from yibao.adapters.api.app import create_app
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal, create_key
from yibao.services.access.users import USER_ROLES, create_user
from yibao.services.encounters.context import CST, Context
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
PASSWORD = "console-pw-2020"
TOWN = "500102001"
LINES = [{"sn": "1", "code": "YP-0002", "price_e6": 50_000_000, "qty_e4": 20_000},
         {"sn": "2", "code": "ZL-0001", "price_e6": 1_500_000_000, "qty_e4": 30_000}]  # fmt: skip
SECRET = "test-console-secret-0123456789abcdef-0123456789"


@dataclass
class Seeded:
    uow: UnitOfWork
    stays: dict[str, str]  # psn_no -> encounter id
    settlements: dict[str, str]  # psn_no -> settlement id


def seed(uow: UnitOfWork, client: TestClient) -> Seeded:
    """Registries, users (login = role), two settled stays."""
    load_examples(uow)
    admin = Principal("cli:test", "admin", None)
    for role in USER_ROLES:
        create_user(uow, admin, login=role.replace("_", "-"), role=role, password=PASSWORD,
                    township_code=TOWN if role == "township_clerk" else None,
                    display_name=f"测试{role}", now=NOW)  # fmt: skip
    key = create_key(uow, role="hospital", provider_code=CENTRE, label="t", by="t", now=NOW).key
    h = {"Authorization": f"Bearer {key}"}
    stays, settlements = {}, {}
    for psn in (EMPLOYEE, DIBAO):
        r = client.post("/v1/encounters", headers=h, json={
            "insuree_id": psn, "admit_time": "2020-02-03T09:00:00+08:00",
            "diagnoses": [{"code": "B99.900", "main": True}]})  # fmt: skip
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        r = client.post(f"/v1/encounters/{eid}/fees", json={"lines": LINES}, headers=h)
        assert r.status_code == 200, r.text
        r = client.post(f"/v1/encounters/{eid}/settlement", headers=h,
                        json={"discharge_date": "2020-02-12"})  # fmt: skip
        assert r.status_code == 201, r.text
        stays[psn], settlements[psn] = eid, r.json()["settlement_id"]
    return Seeded(uow, stays, settlements)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def app_for(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("YIBAO_CONSOLE_SECRET", SECRET)
    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)
    return create_app(db_url, ctx=ctx)


@dataclass
class Console:
    client: TestClient
    data: Seeded

    def sign_in(self, login: str, password: str = PASSWORD) -> Any:
        token = csrf_of(self.client.get("/console/login").text)
        return self.client.post("/console/login", data={"csrf": token, "login": login,
                                                         "password": password})  # fmt: skip


@pytest.fixture
def console(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    engine = make_engine(db_url)
    uow = UnitOfWork(engine)
    from yibao import bootstrap

    with TestClient(app_for(db_url, monkeypatch)) as client:
        data = seed(uow, client)
        client.cookies.clear()
        yield Console(client, data)
    bootstrap.dispose_engines()
    engine.dispose()
