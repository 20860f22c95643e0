"""Use cases: each opens the unit of work, does its work, commits once (STYLE.md §5).

- ``registry_io``: import a registry file (CSV/XLSX) all-or-nothing, export one;
- ``catalog``: resolve a line's code at the treatment place on its date; insuree and
  provider snapshots for the engine;
- ``demo``: the synthetic 涪陵 district.
"""
