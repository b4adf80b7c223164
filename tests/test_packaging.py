"""A non-editable wheel carries course.toml, FORMAT.md and every written lesson file."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_carries_the_course(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=280,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next(tmp_path.glob("fm_tutor-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "content/course.toml" in names and "content/FORMAT.md" in names and "content/README.md" in names
    lessons = sorted(p.name for p in (ROOT / "content" / "lessons").glob("*.md"))
    assert lessons, "no lesson written"
    for name in lessons:
        assert f"content/lessons/{name}" in names, name
    for pkg in ("tutor/cli.py", "tutor/app.py", "tutor/app.tcss", "tutor/course/parser.py", "widgets/step_view.py", "progress/__init__.py"):
        assert pkg in names, pkg
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fm-tutor = tutor.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
