"""Every written lesson validates and its cells run: `fm-tutor run-cells` in a fresh kernel per lesson
(each exercise's check must reject the starter code and accept the solution)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tutor.course import load_course

WRITTEN = load_course().written_ids()


def test_course_validates():
    out = subprocess.run([sys.executable, "-m", "tutor", "check", "-q"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("lesson", WRITTEN)
def test_lesson_cells_run(lesson, tmp_path):
    env = {**os.environ, "FM_TUTOR_DATA_DIR": str(tmp_path), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-m", "tutor", "run-cells", lesson, "--color", "never"],
                         capture_output=True, text=True, timeout=590, env=env, cwd=tmp_path)
    print(out.stdout[-3000:])
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]


def test_lesson_standards():
    """The issue's floors for each written lesson: words, cells, exercises, questions, types, references."""
    course = load_course()
    for lid in WRITTEN:
        les = course.lesson(lid)
        cpu = [c for c in les.cells if not c.is_hidden and not c.is_gpu]
        assert les.word_count() >= 2500, (lid, les.word_count())
        assert len(cpu) >= 5, lid
        assert any(c.is_exercise for c in les.cells), lid
        assert len(les.quizzes) >= 8 and len({q.type for q in les.quizzes}) >= 3, lid
        refs = next(s for s in les.steps if s.id == "references")
        assert sum(b.markdown.count("arXiv:") for b in refs.blocks if b.kind == "prose") >= 3, lid
