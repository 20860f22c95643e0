"""Tools around the service: the demo district and its simulated epidemic (``demo``),
and settling whole Parquet tables with the synthetic tables the benchmarks use
(``batch``)."""
