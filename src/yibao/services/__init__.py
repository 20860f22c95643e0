"""Use cases, one package per capability (docs/architecture.md is the map). Each use
case opens the unit of work, does its work, commits once (STYLE.md §5).

Packages depend on one another in this order only (import-linter holds it):
``access``, ``registry`` → ``encounters`` → ``stays`` → ``deferred`` → ``reentry``,
``resettle``; ``reports``, ``demo`` and ``batch`` sit beside them.
"""
