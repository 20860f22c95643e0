"""The API on the test database (both legs of the db fixture), the example registries
loaded, and one key per role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.registry_data import CENTRE, load_examples
from yibao.adapters.api.app import create_app
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import create_key
from yibao.services.encounters.context import CST, Context
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
OTHER = "H50010200002"


@dataclass
class Api:
    client: TestClient
    uow: UnitOfWork
    keys: dict[str, str]

    def h(self, role: str = "hospital", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}

    def counts(self) -> dict[str, int]:
        with self.uow:
            return self.uow.hospital.counts()


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    engine = make_engine(db_url)
    uow = UnitOfWork(engine)
    load_examples(uow)
    keys = {}
    for role, provider in (("hospital", CENTRE), ("other", OTHER), ("clerk", None),
                           ("finance", None), ("auditor", None), ("admin", None)):  # fmt: skip
        made = create_key(uow, role="hospital" if role == "other" else role,
                          provider_code=provider, label=role, by="test", now=NOW)  # fmt: skip
        keys[role] = made.key
    from yibao import bootstrap

    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)
    app = create_app(db_url, ctx=ctx)
    with TestClient(app) as client:
        yield Api(client, uow, keys)
    bootstrap.dispose_engines()
    engine.dispose()
