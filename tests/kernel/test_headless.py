"""fm-tutor run-cells and export on fixture lessons."""
import argparse
import io
import json
import re

import nbformat
import pytest

from tutor.cli import kernel as cli_kernel
from tutor.course import parse_lesson_file
from tutor.course.export import lesson_to_notebook
from tutor.kernel.headless import run_lessons

from .conftest import FIXTURES

pytestmark = pytest.mark.timeout(90)


def lesson(name):
    les, problems = parse_lesson_file(FIXTURES / name)
    assert not [p for p in problems if p.severity == "error"], problems
    return les


def test_run_cells_good_lesson_passes():
    out = io.StringIO()
    rc = run_lessons([lesson("good_lesson.md")], out=out, color=False)
    text = out.getvalue()
    assert rc == 0, text
    assert "double [starter+check]" in text and "(the check rejected the starter, as expected)" in text
    assert "double [solution+check]" in text and "(the check accepts the solution)" in text
    assert "big-matmul" in text and "skipped" in text
    assert "all 1 lesson(s) passed" in text


def test_run_cells_stops_at_first_failure_with_traceback():
    out = io.StringIO()
    rc = run_lessons([lesson("bad_lesson.md")], out=out, color=False)
    text = out.getvalue()
    assert rc == 1
    assert "broken" in text and "FAIL" in text
    assert "ZeroDivisionError" in text and "return 1 / 0" in text
    assert "never" not in text
    assert "\x1b[" not in text


def test_run_cells_keep_going_runs_the_cells_after_a_failure_and_lists_it():
    out = io.StringIO()
    rc = run_lessons([lesson("bad_lesson.md")], out=out, color=False, keep_going=True)
    text = out.getvalue()
    assert rc == 1
    assert "ZeroDivisionError" in text
    assert re.search(r"^  never +ok ", text, re.MULTILINE), text  # the cell after the failed one ran, in the same kernel
    assert "1 cell(s) failed: 91/broken; 2 cell(s) passed" in text


def test_run_cells_rejects_a_check_that_accepts_the_starter(tmp_path):
    src = (FIXTURES / "good_lesson.md").read_text()
    src = src.replace("return x  # TODO: fix me", "return x * 2  # already solved")
    p = tmp_path / "lax.md"
    p.write_text(src)
    out = io.StringIO()
    les, _ = parse_lesson_file(p)
    rc = run_lessons([les], out=out, color=False)
    assert rc == 1
    assert "accepts the untouched starter code" in out.getvalue()


def test_export_notebook_validates(tmp_path):
    ap = argparse.ArgumentParser()
    cli_kernel.add_commands(ap.add_subparsers(dest="cmd"))
    dest = tmp_path / "nb" / "lesson.ipynb"
    args = ap.parse_args(["export", str(FIXTURES / "good_lesson.md"), "--ipynb", str(dest)])
    assert cli_kernel.run(args) == 0
    nb = nbformat.read(str(dest), as_version=4)
    nbformat.validate(nb)
    code = {c["id"]: c for c in nb.cells if c.cell_type == "code"}
    assert list(code) == ["imports", "demo", "big-matmul", "double", "double-check", "double-solution", "after"]
    assert code["double-check"].metadata["tags"] == ["check"]
    assert code["double-check"].metadata["jupyter"]["source_hidden"] is True
    assert code["big-matmul"].metadata["fm_tutor"]["cpu_twin"] == "demo"
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## An exercise" in md and "What is `double(3)`?" in md and "A tiny lesson" in md
    assert json.loads(dest.read_text())["nbformat"] == 4


def test_run_returns_none_for_other_commands():
    assert cli_kernel.run(argparse.Namespace(cmd="check")) is None
    nb = lesson_to_notebook(lesson("bad_lesson.md"))
    assert [c.id for c in nb.cells if c.cell_type == "code"] == ["fine", "broken", "never"]


def test_requires_skips_in_run_cells_and_notes_it_in_export(tmp_path):
    """A cell whose `requires` module the kernel cannot find is skipped by run-cells with the reason, and the
    exported notebook notes it; a cell whose modules are there runs."""
    src = (FIXTURES / "good_lesson.md").read_text()
    marker = '```python id="big-matmul"'
    assert marker in src
    src = src.replace(marker, '```python id="needs-mod" requires=["fm_no_such_mod"]\nraise SystemExit("ran")\n```\n\n'
                      '```python id="has-mod" requires=["json"]\nprint("json ok")\n```\n\n' + marker)
    p = tmp_path / "req.md"
    p.write_text(src)
    les, problems = parse_lesson_file(p)
    assert not [x for x in problems if x.severity == "error"], problems
    out = io.StringIO()
    rc = run_lessons([les], out=out, color=False)
    text = out.getvalue()
    assert rc == 0, text
    line = next(ln for ln in text.splitlines() if "needs-mod" in ln)
    assert "skipped" in line and "needs the Python module fm_no_such_mod, which is not installed here" in line
    assert any("has-mod" in ln and " ok " in ln + " " for ln in text.splitlines()), text
    nb = lesson_to_notebook(les)
    code = {c["id"]: c for c in nb.cells if c.cell_type == "code"}
    assert code["needs-mod"].metadata["fm_tutor"]["requires"] == ["fm_no_such_mod"]
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Skipped where exported: this cell needs the Python module fm_no_such_mod" in md
    assert "needs the Python module(s) json." in md
