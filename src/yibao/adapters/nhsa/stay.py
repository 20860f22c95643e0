"""Decoders of the stay-change and stay-query transactions (2403 admission change, 2405
discharge cancel, 5203 settlement query, 5303 in-hospital query, 5304 transfer query):
merged into ``DECODERS`` (this package's ``__init__``); later entries replace earlier
ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from yibao.adapters.nhsa.fields import Decoded

STAY_DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {}
"""infno -> input decoder (issue 16: stay changes and queries)."""
