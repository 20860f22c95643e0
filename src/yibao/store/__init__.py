"""The store: SQLAlchemy 2 models, repositories, the unit of work, Alembic migrations.

- ``db``: ``Base`` (constraint naming convention) and ``make_engine`` (SQLite pragmas);
- ``tables``: the registry tables and ``change_sets`` (who imported what, when);
- ``versioned``: the versioning rule for every registry: staging, checks, merge, as-of;
- ``uow``: ``UnitOfWork``, one transaction with the repositories as attributes;
- ``migrate``: ``upgrade(url)``, ``downgrade(url, rev)``, ``current(url)``;
- ``migrations/``: the one Alembic chain, for SQLite and PostgreSQL.

SQLite is the embedded default; PostgreSQL runs production and CI. docs/STORE.md.
"""
