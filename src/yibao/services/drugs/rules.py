"""The monitoring rules: thresholds of every drug signal, with their clauses, read from a
versioned YAML file (``yibao/packs/drugs/*.yaml``; policy is data, DECISIONS d1).

``monitoring_rules(on)`` gives the version in force on a day; ``load_rules(path)`` reads
one file (a bad file raises ``PackError`` naming the file and the key path).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yibao.core.errors import PackError
from yibao.packs import PACKS_DIR

__all__ = ["RULES_DIR", "Rules", "load_rules", "monitoring_rules"]

RULES_DIR = PACKS_DIR / "drugs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PriceRule(_Strict):
    clause: str
    baseline_days: int = Field(gt=0)
    min_baseline_days: int = Field(gt=0)
    above_baseline_bp: int = Field(gt=0)
    above_listed_bp: int = Field(ge=0)


class QuantityRule(_Strict):
    clause: str
    window_days: int = Field(gt=0)
    baseline_days: int = Field(gt=0)
    robust_z: int = Field(gt=0)
    min_ratio_bp: int = Field(gt=0)


class DeliveryRule(_Strict):
    clause: str
    due_days: int = Field(ge=0)
    window_days: int = Field(gt=0)
    min_rate_bp: int = Field(gt=0, le=10000)
    min_orders: int = Field(gt=0)


class StockRule(_Strict):
    clause: str
    usage_days: int = Field(gt=0)
    warmup_days: int = Field(ge=0)
    min_days: int = Field(gt=0)


class MarkupRule(_Strict):
    clause: str
    tolerance_bp: int = Field(ge=0)


class Signals(_Strict):
    price: PriceRule
    quantity: QuantityRule
    delivery: DeliveryRule
    stock: StockRule
    markup: MarkupRule


class Rules(_Strict):
    """One version of the monitoring rules."""

    id: str
    version: int = Field(gt=0)
    valid_from: dt.date = Field(alias="from")
    region: str
    episode_gap_days: int = Field(gt=0)
    evidence_days: int = Field(ge=0)
    signals: Signals
    forms: tuple[str, ...]

    def clause(self, kind: str) -> str:
        """The clause of a signal kind (``price``, ``quantity`` … ``markup``)."""
        rule: Any = getattr(self.signals, {"listed": "price", "shortage": "stock"}.get(kind, kind))
        return str(rule.clause)

    def form_of(self, name: str) -> str | None:
        """The dosage form (剂型) a generic name ends with, if any."""
        return next((f for f in sorted(self.forms, key=len, reverse=True) if f in name), None)


def load_rules(path: Path) -> Rules:
    """Read one rules file; ``PackError`` naming the file and the key path."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot read monitoring rules: {exc}") from None
    try:
        return Rules.model_validate(raw, strict=False)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise PackError(f"{path}: {where}: {err['msg']}") from None


@cache
def _shipped() -> tuple[Rules, ...]:
    return tuple(sorted((load_rules(p) for p in RULES_DIR.glob("*.yaml")),
                        key=lambda r: (r.valid_from, r.version)))  # fmt: skip


def monitoring_rules(on: dt.date) -> Rules:
    """The shipped rules in force on ``on`` (the newest version that has begun)."""
    live = [r for r in _shipped() if r.valid_from <= on]
    if not live:
        raise PackError(f"no drug monitoring rules in force on {on} (in {RULES_DIR})")
    return live[-1]
