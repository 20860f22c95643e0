"""The compiled pack kept by the hash of the file's bytes (DECISIONS 0090)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from yibao.core.errors import PackError
from yibao.core.policy import parse_pack
from yibao.packs import cache, shipped_pack
from yibao.packs.files import load_pack


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("YIBAO_PACK_CACHE", str(folder))
    return folder


def _copy(tmp_path: Path, name: str = "pack.yaml") -> Path:
    dst = tmp_path / name
    dst.write_bytes(shipped_pack("cq-2020").read_bytes())
    return dst


def test_second_load_is_the_kept_form_and_equal(here: Path, tmp_path: Path) -> None:
    path = _copy(tmp_path)
    first = load_pack(path)
    assert len(list(here.glob("*.pickle"))) == 1
    assert oct(here.stat().st_mode & 0o777) == "0o700"
    second = load_pack(path)
    assert second is not first
    assert second == first
    assert second == parse_pack(path.read_text(encoding="utf-8"))


def test_a_kept_pack_loads_without_pydantic(here: Path, tmp_path: Path) -> None:
    path = _copy(tmp_path)
    probe = (
        "import sys; from yibao.packs.files import load_pack; "
        f"p = load_pack({str(path)!r}); print(p.sha256, 'pydantic' in sys.modules)"
    )
    env = {**os.environ, "YIBAO_PACK_CACHE": str(here)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                       text=True, check=True).stdout.split()
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0][0] == runs[1][0]
    assert (runs[0][1], runs[1][1]) == ("True", "False")


def test_other_bytes_are_parsed_again(here: Path, tmp_path: Path) -> None:
    path = _copy(tmp_path)
    before = load_pack(path)
    text = path.read_text(encoding="utf-8")
    assert "later_admission_bp: 5000" in text
    path.write_text(text.replace("later_admission_bp: 5000", "later_admission_bp: 4000"),
                    encoding="utf-8")  # fmt: skip
    after = load_pack(path)
    assert len(list(here.glob("*.pickle"))) == 2
    assert (before.later_admission_bp, after.later_admission_bp) == (5000, 4000)
    assert after.sha256 != before.sha256


def test_an_invalid_pack_is_never_kept(here: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("pack: x\nratio: nonsense\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(PackError, match=r"bad\.yaml"):
            load_pack(path)
    assert not here.exists() or not list(here.glob("*.pickle"))


def test_a_damaged_entry_is_ignored_and_replaced(here: Path, tmp_path: Path) -> None:
    path = _copy(tmp_path)
    good = load_pack(path)
    (entry,) = here.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_pack(path) == good
    assert entry.read_bytes() != b"not a pickle"


def test_off_keeps_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YIBAO_PACK_CACHE", "off")
    assert cache.cache_dir() is None
    path = _copy(tmp_path)
    assert load_pack(path) == load_pack(path)


def test_an_unwritable_folder_only_means_no_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be", encoding="utf-8")
    monkeypatch.setenv("YIBAO_PACK_CACHE", str(blocker / "packs"))
    path = _copy(tmp_path)
    assert load_pack(path) == parse_pack(path.read_text(encoding="utf-8"))


def test_another_pydantic_version_misses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The kept form is keyed by Pydantic's and PyYAML's version files too (found, not
    imported): an upgrade may change validation or the canonical dump behind the hash."""
    import importlib.machinery

    def fingerprint(version: str) -> str:
        (tmp_path / "version.py").write_text(f"VERSION = {version!r}\n", encoding="utf-8")
        fake = importlib.machinery.ModuleSpec("pydantic", None, origin=str(tmp_path / "x.py"))
        real = cache.importlib.util.find_spec
        monkeypatch.setattr(
            cache.importlib.util,
            "find_spec",
            lambda name: fake if name == "pydantic" else real(name),
        )
        monkeypatch.setattr(cache, "_fingerprint", None)
        return cache._code_fingerprint()

    assert fingerprint("2.14.4") != fingerprint("2.15.0")
    assert fingerprint("2.14.4") == fingerprint("2.14.4")
