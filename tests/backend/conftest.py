"""Fixtures for the model backend tests: the built fm-tiny, a private runtime dir, a private kernelspec."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FM_TINY = ROOT / "tutor" / "models" / "fm-tiny"


@pytest.fixture(autouse=True)
def _private_runtime(tmp_path, monkeypatch):
    """Endpoint files and GPU locks go to a temp dir; no inherited endpoint; no hub cache hits."""
    monkeypatch.setenv("FM_TUTOR_RUNTIME_DIR", str(tmp_path / "run"))
    for k in ("FM_TUTOR_BASE_URL", "FM_TUTOR_API_KEY", "FM_TUTOR_MODEL", "FM_TUTOR_ENGINE",
              "FM_TUTOR_ENGINE_SERVING"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def fm_tiny() -> Path:
    assert (FM_TINY / "config.json").is_file(), f"fm-tiny is not built at {FM_TINY}: run `fm-tutor model build`"
    return FM_TINY


@pytest.fixture(scope="session")
def kernel_name(tmp_path_factory) -> tuple[str, Path]:
    """A private kernelspec running this interpreter (nothing installed globally)."""
    d = tmp_path_factory.mktemp("kernels")
    spec = d / "fmtutor-test"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fm-tutor test", "language": "python",
    }))
    return "fmtutor-test", d
