"""A non-editable wheel carries course.toml, FORMAT.md and every written lesson file, under exactly one top-level
import package (`tutor`): the repo's widgets/, progress/ and content/ folders are installed as tutor.widgets,
tutor.progress and tutor.content."""
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
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith((".dist-info", ".data"))}
    assert top == {"tutor"}, top
    assert "tutor/content/course.toml" in names and "tutor/content/FORMAT.md" in names
    assert "tutor/content/README.md" in names
    lessons = sorted(p.name for p in (ROOT / "content" / "lessons").glob("*.md"))
    assert lessons, "no lesson written"
    for name in lessons:
        assert f"tutor/content/lessons/{name}" in names, name
    for pkg in ("tutor/cli/entry.py", "tutor/ui/app.py", "tutor/ui/app.tcss", "tutor/course/parser.py",
                "tutor/widgets/step_view.py", "tutor/progress/__init__.py", "tutor/models/fm-tiny/config.json"):
        assert pkg in names, pkg
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["tutor"]
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fm-tutor = tutor.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
