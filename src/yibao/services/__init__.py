"""Use cases, one package per capability (docs/architecture.md is the map). Each use
case opens the unit of work, does its work, commits once (STYLE.md §5).

Packages depend on one another in this order only (import-linter holds it):
``tools``, ``reports`` → ``claims``, ``filings``, ``supervision``, ``funds`` → ``drugs`` →
``stays`` (inside it: ``reentry``, ``resettle`` → ``deferred`` → its booking) →
``encounters`` → ``registry``, ``access``.
"""
