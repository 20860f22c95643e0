"""Use cases: each opens the unit of work, does its work, commits once (STYLE.md §5).

- ``registry_io``: import a registry file (CSV/XLSX) all-or-nothing, export one;
- ``catalog``: resolve a line's code at the treatment place on its date; insuree and
  provider snapshots for the engine;
- ``demo``: the synthetic 涪陵 district;
- ``batch``: settle whole Parquet tables of encounters (one pass, parts, Dask);
  ``batch_scalar``: the same rows one by one with the scalar engine; ``synth``:
  synthetic tables for benchmarks and tests.
"""
