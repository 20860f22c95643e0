"""Fund supervision (基金监管, issue 22): rules as data (packs/supervision-2020.yaml,
``yibao.core.supervision``) evaluated over Polars tables (``scan``), the year of the
demo district with misuse injected that tests and benchmarks them (``generate``)."""

from yibao.services.supervision.scan import FLAG_SCHEMA, Tables, scan

__all__ = ["FLAG_SCHEMA", "Tables", "scan"]
