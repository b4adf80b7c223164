from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixture_course(tmp_path) -> Path:
    """A course dir: the real course.toml with only the fixture lesson 01 written."""
    root = tmp_path / "course"
    (root / "lessons").mkdir(parents=True)
    shutil.copy(ROOT / "content" / "course.toml", root / "course.toml")
    for p in (FIXTURES / "lessons").glob("*.md"):
        shutil.copy(p, root / "lessons" / p.name)
    return root


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Never touch the real user data or config dirs from tests."""
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FM_TUTOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("FM_TUTOR_CONTENT", raising=False)
    monkeypatch.setenv("FM_TUTOR_SPARE_KERNEL", "0")
    monkeypatch.setenv("FM_TUTOR_DETACH_IDLE", "0")  # test apps' kernels stop with them (none left detached)
    monkeypatch.setenv("FM_TUTOR_MODEL_SERVER", "off")  # Pilot tests do not start transformers serve
    monkeypatch.setenv("FM_TUTOR_RUNTIME_DIR", str(tmp_path / "run"))  # no warm spare kernel per test app (2 cores)
    monkeypatch.setenv("FM_TUTOR_CACHE_DIR", str(tmp_path / "cache"))  # the search index of each test its own
