"""Settlements of the public golden cases, for the ledger and codec tests."""

from __future__ import annotations

import functools

from tests.golden.casefile import PUBLIC, load_case
from yibao.core.engine import Settlement, request_from_mapping, settle
from yibao.core.engine.model import SettleRequest
from yibao.core.policy import Policy
from yibao.packs.files import load_pack

SETTLED_CASES = sorted(
    p.stem for p in PUBLIC.glob("*.yaml") if not load_case(p)["expect"].get("error")
)


@functools.cache
def case(name: str) -> tuple[SettleRequest, Policy, Settlement]:
    """The request, pack and settlement of one public case."""
    doc = load_case(PUBLIC / f"{name}.yaml")
    req = request_from_mapping(doc["request"])
    policy = load_pack(doc["pack_path"])
    return req, policy, settle(req, policy)


def settled(name: str) -> Settlement:
    return case(name)[2]
