"""The curl session ``yibao demo serve`` prints, run with bash against ``yibao serve``:
every JSON answer it shows is on a line of its own, Chinese readable (no ``\\u``
escapes); and the CLI prints JSON with Chinese readable too (issue 15, demo polish)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

YIBAO = str(Path(sys.executable).with_name("yibao"))
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes], seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert server.poll() is None, "yibao serve stopped"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds} s")


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="curl, bash")
def test_the_printed_curl_session_shows_each_answer_on_its_own_line(tmp_path: Path) -> None:
    env = dict(os.environ, YIBAO_DATABASE_URL=f"sqlite:///{tmp_path / 'yibao.db'}")
    env.pop("YIBAO_PACKS_DIR", None)

    def yibao(*args: str) -> str:
        done = subprocess.run([YIBAO, *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    yibao("demo", "load", "--insurees", "30")
    port = _free_port()
    printed = yibao("demo", "serve", "--dry-run", "--port", str(port), "--key-file", "key")
    session = printed[printed.index("KEY=") :]
    server = subprocess.Popen([YIBAO, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}/openapi.json", server)
        ran = subprocess.run(["bash", "-c", session], cwd=tmp_path, capture_output=True,
                             timeout=60, check=False)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert ran.returncode == 0, ran.stderr
    out = ran.stdout.decode("utf-8")
    assert out.endswith("\n")
    lines = out.splitlines()
    assert lines[0].startswith("encounter ")
    answers = [json.loads(line) for line in lines[1:]]  # one JSON answer a line
    assert len(answers) == 2
    assert answers[1]["setlinfo"]["psn_cash_pay"] == 0
    assert "\\u" not in out
    assert "渝医保发〔2020〕3号" in out


def test_the_cli_prints_json_with_chinese_readable() -> None:
    from typer.testing import CliRunner

    from yibao.adapters.cli.app import app
    from yibao.examples import example_requests
    from yibao.packs import shipped_pack

    pack = str(shipped_pack("cq-2020"))
    for args in (["settle", "--pack", pack, str(example_requests()[0])],
                 ["pack", "show", "--json", pack]):  # fmt: skip
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.stderr
        assert "\\u" not in res.stdout
        assert "渝医保发" in res.stdout
