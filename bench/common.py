"""What the database benchmarks share: a fresh PostgreSQL schema per run, and running
the ``yibao`` command beside this interpreter, timed, against a database URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from yibao.store.db import make_engine

__all__ = ["YIBAO", "run_yibao", "schema_url"]

YIBAO = str(Path(sys.executable).with_name("yibao"))


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``search_path`` set to ``schema``, dropped and created empty."""
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def run_yibao(url: str, *args: str) -> tuple[float, str]:
    """Run ``yibao ARGS`` on the database ``url``: seconds taken and its stdout; exits
    the benchmark with the command's stderr if it fails."""
    env = dict(os.environ, YIBAO_DATABASE_URL=url)
    t = time.perf_counter()
    proc = subprocess.run([YIBAO, *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"yibao {' '.join(args)} failed ({proc.returncode}): {proc.stderr[:500]}")
    return took, proc.stdout.strip()
