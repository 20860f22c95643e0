"""Registries as data: the columns of each registry, how a row is read and checked.

- ``identity``: the 18-character 公民身份号码 and its ISO 7064 MOD 11-2 check digit;
- ``regions``: 6-digit administrative codes (行政区划代码) and their ancestors;
- ``fields``: parsers from the text of a cell to a value, each naming its reason;
- ``kinds``: the registries (insurees, providers, catalog, protocol, mapping, diseases):
  columns, natural key, validity period, cross-column rules, references.

Pure: no I/O. The store keeps the rows (``yibao.store``), the services read files and
resolve catalogs (``yibao.services``). docs/STORE.md and docs/IMPORT.md describe them.
"""

from yibao.core.registry.kinds import KINDS, Column, Kind, kind_named

__all__ = ["KINDS", "Column", "Kind", "kind_named"]
