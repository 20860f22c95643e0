"""Batch settlement of Parquet tables (``yibao batch settle``, ``files``) and the
synthetic tables it is measured on (``yibao bench gen``, ``synth``). The scalar engine
over the same tables, the batch's reference, is a test oracle (tests/batch_scalar.py)."""

from yibao.services.tools.batch.files import settle_tables
from yibao.services.tools.batch.synth import generate, write_tables

__all__ = ["generate", "settle_tables", "write_tables"]
