"""README.md's command blocks run in the order written on a fresh SQLite database
(issue 15): every line exits 0. ``make`` and ``serve`` (which runs until Ctrl-C) are
left out; the demo district and the bench tables are made smaller to keep the test
within seconds (the substitutions below), nothing else is changed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALLER = (("demo load", "demo load --insurees 300"), ("--encounters 100000", "--encounters 2000"))


def readme_lines() -> list[str]:
    """The shell lines of README.md's ```sh blocks, in order, continuations joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line)
    return lines


def _runnable(line: str) -> bool:
    return not line.startswith("make ") and not re.match(r"\S*yibao serve\b", line)


def test_the_readme_lines_exist_and_name_the_commands() -> None:
    lines = readme_lines()
    assert sum(not _runnable(x) for x in lines) == 3  # make demo, make test, yibao serve
    assert any("deferred import offline.xlsx" in x for x in lines)


def test_the_readme_runs_in_the_order_written(tmp_path: Path) -> None:
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "yibao").symlink_to(Path(sys.executable).with_name("yibao"))
    (tmp_path / "src").symlink_to(ROOT / "src")
    env = dict(os.environ, YIBAO_DATABASE_URL=f"sqlite:///{tmp_path / 'yibao.db'}")
    for name in ("YIBAO_PACKS_DIR", "YIBAO_OPERATOR"):
        env.pop(name, None)
    start = time.monotonic()
    for line in filter(_runnable, readme_lines()):
        cmd = line.replace("/tmp/t", str(tmp_path / "t"))
        for old, new in SMALLER:
            cmd = cmd.replace(old, new)
        done = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    assert (tmp_path / "offline.result.xlsx").exists()
    assert time.monotonic() - start < 240
