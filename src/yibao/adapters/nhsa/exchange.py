"""Decoders of the file and document exchange transactions (9101/9102 files, 3202 with
its detail file, 4101A settlement lists, 1301–1319 catalog downloads): merged into
``DECODERS`` (this package's ``__init__``); later entries replace earlier ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from yibao.adapters.nhsa.fields import Decoded

EXCHANGE_DECODERS: dict[str, Callable[[Mapping[str, Any]], Decoded[Any]]] = {}
"""infno -> input decoder (issue 16: file exchange)."""
