"""The reader runs cells in a real ipykernel: press r, read the output; exercises are graded; edits persist."""
from __future__ import annotations

import pytest

from tutor.core import procs
from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course
from tutor.widgets.code_cell import CodeCell

from .helpers import press_run, wait_for

pytestmark = pytest.mark.timeout(180)


async def test_press_run_and_read_the_output(fixture_course, tmp_path):
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await press_run(app, pilot, "01", "what-a-foundation-model-is", "sqrt-two")
        assert await wait_for(pilot, lambda: cell.state == "ok"), (cell.state, cell.message)
        assert "1.414214" in cell.output.full_text()
        assert cell.execution_count is not None
        app.store.flush()
        runs = app.store.cell_runs("01")
        assert runs and runs[-1]["cell_id"] == "sqrt-two" and runs[-1]["status"] == "ok"
        # the setup cell ran first, automatically: `math` was imported by it
        assert "NameError" not in cell.output.full_text()


async def test_exercise_graded_and_edits_survive_restart(fixture_course, tmp_path):
    db = tmp_path / "p.db"
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(db))
    solution = "def params(d):\n    return 12 * d * d\n"
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01", "count")
        await pilot.pause()
        cell = app.screen.query_one("#cell-params-ex", CodeCell)
        cell.focus()
        await pilot.press("r")
        assert await wait_for(pilot, lambda: cell.state in ("failed", "passed", "error")), cell.state
        assert cell.state == "failed" and "params(10) should be 1200" in cell.message
        await pilot.press("e")  # edit: the learner's change is saved at once
        cell.text_area.load_text(solution)
        await pilot.press("escape")
        await pilot.pause(0.5)
        app.store.flush()
        assert app.store.cell_edit("01", "params-ex") == solution
        cell.focus()
        await pilot.press("r")
        assert await wait_for(pilot, lambda: cell.state == "passed"), (cell.state, cell.message)
        app.store.flush()
        assert app.store.exercise_results("01") == {"params-ex": True}

    app2 = TutorApp(course=load_course(fixture_course), store=ProgressStore(db))
    async with app2.run_test(size=(100, 40)) as pilot:
        app2.open_lesson("01", "count")
        await pilot.pause()
        assert app2.screen.query_one("#cell-params-ex", CodeCell).code == solution
        app2.screen.query_one("#cell-params-ex", CodeCell).focus()
        await pilot.press("ctrl+r")  # reset to the lesson's code
        await pilot.pause()
        app2.store.flush()
        assert app2.store.cell_edit("01", "params-ex") is None
        assert "TODO" in app2.screen.query_one("#cell-params-ex", CodeCell).code


async def test_gpu_cell_is_skipped_with_its_cpu_twin_named(fixture_course, tmp_path):
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01", "count")
        await pilot.pause()
        cell = app.screen.query_one("#cell-big-run", CodeCell)
        assert cell.skipped
        await pilot.pause(0.3)
        from .helpers import widget_text

        assert "sqrt-two" in widget_text(cell.query_one(".cell--notice"))


async def test_cell_whose_required_module_is_missing_is_skipped(fixture_course, tmp_path):
    """requires=["fm_no_such_mod"]: the reader shows the reason and does not run it, not even with `r`."""
    les = next((fixture_course / "lessons").glob("01_*.md"))
    les.write_text(les.read_text().replace('```python id="big-run"', '```python id="needs-mod" '
                                           'requires=["fm_no_such_mod"]\nprint("ran")\n```\n\n```python id="big-run"'))
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01", "count")
        await pilot.pause()
        cell = app.screen.query_one("#cell-needs-mod", CodeCell)
        assert cell.skipped and cell.missing == ("fm_no_such_mod",)
        await pilot.pause(0.3)
        from .helpers import widget_text

        notice = widget_text(cell.query_one(".cell--notice"))
        assert "needs the Python module fm_no_such_mod" in notice and "skipped here" in notice
        assert "needs fm_no_such_mod" in widget_text(cell.query_one(".cell--header"))
        cell.focus()
        await pilot.press("r")
        await pilot.pause(0.5)
        assert cell.state == "idle" and "ran" not in cell.output.full_text()
        assert "needs-mod" not in [c.id for c, _ in app.screen._runnable(app.screen.lesson.cells)]


async def test_solution_needs_an_attempt_or_a_confirmation(fixture_course, tmp_path):
    from tutor.ui.screens.cells import ConfirmScreen, SolutionScreen

    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01", "count")
        await pilot.pause()
        cell = app.screen.query_one("#cell-params-ex", CodeCell)
        cell.focus()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # no attempt yet: confirm first
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, SolutionScreen)
        await pilot.press("l")  # load it into the cell
        await pilot.pause()
        assert "12 * d * d" in cell.code
        cell.focus()
        await pilot.press("r")
        assert await wait_for(pilot, lambda: cell.state == "passed"), (cell.state, cell.message)
        assert cell.solved


async def test_kernel_detached_on_exit_and_hangup_then_reattached(fixture_course, tmp_path, monkeypatch):
    import os
    import shutil
    import signal
    import tempfile
    from pathlib import Path

    from tutor.kernel import default_runtime_dir
    from tutor.kernel import detach as reg

    run_dir = tempfile.mkdtemp(prefix="fmx-")  # short: ipc socket paths
    monkeypatch.setenv("XDG_RUNTIME_DIR", run_dir)
    monkeypatch.setenv("FM_TUTOR_DETACH_IDLE", "600")
    base = default_runtime_dir()
    assert str(base).startswith(run_dir)
    db = tmp_path / "p.db"
    try:
        app = TutorApp(course=load_course(fixture_course), store=ProgressStore(db))
        async with app.run_test(size=(100, 40)) as pilot:
            app.open_lesson("01", "what-a-foundation-model-is")
            await pilot.pause()
            cell = app.screen.query_one("#cell-sqrt-two", CodeCell)
            cell.focus()
            await pilot.press("r")
            assert await wait_for(pilot, lambda: cell.state == "ok"), (cell.state, cell.message)
            pid = app.kernel_pool().kernel("01").pid
        assert list(reg.read(Path(base))) == ["01"] and procs.pid_alive(pid)  # detached on exit

        app2 = TutorApp(course=load_course(fixture_course), store=ProgressStore(db))
        async with app2.run_test(size=(100, 40)) as pilot:
            app2.open_lesson("01", "what-a-foundation-model-is")
            await pilot.pause()
            k = app2.kernel_pool().kernel("01")
            assert k.reattached and k.pid == pid
            assert any("Reattached to lesson 01's kernel" in n.message for n in app2._notifications)
            assert app2._hangup_installed
            os.kill(os.getpid(), signal.SIGHUP)  # the terminal went away: detach and exit
            assert await wait_for(pilot, lambda: app2.return_code == 129, timeout=20)
        assert list(reg.read(Path(base))) == ["01"] and procs.pid_alive(pid)
    finally:
        from .kernel.test_detach import kill_kernels_under

        reg.stop(Path(base))
        kill_kernels_under(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


async def test_configured_output_limits_reach_the_reader(fixture_course, tmp_path, monkeypatch):
    """kernel.max_lines (FM_TUTOR_OUTPUT_MAX_LINES) reaches the reader's output buffers: a cell printing 40 lines
    keeps 7 of them (head and tail) and says how many it left out."""
    monkeypatch.setenv("FM_TUTOR_OUTPUT_MAX_LINES", "7")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await press_run(app, pilot, "01", "what-a-foundation-model-is", "sqrt-two")
        assert await wait_for(pilot, lambda: cell.state == "ok"), (cell.state, cell.message)
        cells = app.screen.cells
        assert cells.output_limits["max_lines"] == 7
        lesson_cell = app.screen.lesson.cell("sqrt-two")
        status = await cells.run(lesson_cell, "for i in range(40): print('line', i)")
        assert status == "ok"
        buf = cells.record("sqrt-two").buffer
        assert buf.total_lines == 40 and buf.hidden_lines == 33, (buf.total_lines, buf.hidden_lines)
        assert "line 0" in buf.display_text() and "line 39" in buf.display_text()
        assert "line 20" not in buf.display_text()
