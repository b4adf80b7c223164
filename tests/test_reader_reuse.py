"""The app keeps one reader screen, composed while the learner is on the home screen, and reuses it for every
lesson; steps paint their first screenful first; code cells build their editor and output view on demand."""
from __future__ import annotations

import pytest
from textual.widgets import OptionList, Static, TextArea

from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course
from tutor.course.parser import parse_lesson
from tutor.ui.screens.home import HomeScreen
from tutor.ui.screens.reader import ReaderScreen
from tutor.widgets.code_cell import CodeCell, _CodeView
from tutor.widgets.output_view import OutputView
from tutor.widgets.step_view import ProseBlock, StepView

from .helpers import wait_for, widget_text

pytestmark = pytest.mark.timeout(180)


async def _prebuilt(app, pilot) -> ReaderScreen:
    await app.workers.wait_for_complete()
    assert await wait_for(pilot, lambda: app.reader_screen() is not None and app.reader_screen().is_mounted)
    return app.reader_screen()


async def _lesson_02_with_the_next_step_prepared(app, pilot, lesson) -> ReaderScreen:
    """The prebuilt reader, lesson 02 open at its first step, painted, and its second step prepared."""
    reader = await _prebuilt(app, pilot)
    app.open_lesson("02", lesson.steps[0].id)
    assert await wait_for(pilot, lambda: reader.paints >= 1 and reader.next_prepared())
    return reader


async def test_reader_is_prebuilt_off_screen_and_reused_across_lessons(tmp_path):
    course = load_course()
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(120, 40)) as pilot:
        reader = await _prebuilt(app, pilot)
        await pilot.pause()
        # built, but never shown: home is what the learner sees, and the reader holds no lesson and no step
        assert isinstance(app.screen, HomeScreen) and reader not in app.screen_stack
        assert reader.lesson is None and not reader.query(StepView)

        app.open_lesson("01", course.lesson("01").steps[0].id)
        assert await wait_for(pilot, lambda: reader.paints >= 1)
        assert app.screen is reader and reader.lesson.id == "01"
        assert "01 Foundation Model Paradigm" in widget_text(reader.query_one("#topbar", Static))
        toc = reader.query_one("#toc", OptionList)
        assert await wait_for(pilot, lambda: toc.option_count == len(course.lesson("01").steps))

        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        app.open_lesson("02", course.lesson("02").steps[1].id)
        assert await wait_for(pilot, lambda: reader.paints >= 2)
        assert app.screen is reader and reader.lesson.id == "02" and reader.index == 1
        # one step on screen; besides it at most the next step, prepared hidden (no unbounded widget growth)
        shown = [v for v in reader.query(StepView) if v.display]
        assert len(shown) == 1 and shown[0].step.id == course.lesson("02").steps[1].id
        assert all(v is shown[0] or (not v.display and v.step.id == course.lesson("02").steps[2].id)
                   for v in reader.query(StepView))
        assert len(reader.query(StepView)) <= 2
        assert await wait_for(pilot, lambda: toc.option_count == len(course.lesson("02").steps))
        assert "02 " in widget_text(reader.query_one("#topbar", Static))
        app.store.flush()
        assert app.store.lesson_state("02").last_step == course.lesson("02").steps[1].id


async def test_opening_a_lesson_from_a_screen_above_the_reader(tmp_path):
    course = load_course()
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 30)) as pilot:
        reader = await _prebuilt(app, pilot)
        app.open_lesson("01")
        assert await wait_for(pilot, lambda: reader.paints >= 1)
        await pilot.press("question_mark")  # the help screen, on top of the reader
        assert app.screen is not reader
        app.open_lesson("02")
        assert await wait_for(pilot, lambda: app.screen is reader and reader.lesson.id == "02")
        assert app.screen_stack.count(reader) == 1


async def test_the_next_step_is_prepared_hidden_and_n_swaps_it_in(tmp_path):
    """While a step is read, the next one is composed (and its text rendered) hidden under it; `n` shows that view
    instead of building one. At any time: one step on screen, at most one prepared, nothing else left behind."""
    course = load_course()
    lesson = course.lesson("02")
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(120, 40)) as pilot:
        reader = await _lesson_02_with_the_next_step_prepared(app, pilot, lesson)
        for i in range(1, 4):
            prepared = [v for v in reader.query(StepView) if not v.display]
            assert len(prepared) == 1 and prepared[0].step.id == lesson.steps[i].id
            assert not any(w.has_focus for w in prepared[0].query("*"))
            before = reader.paints
            await pilot.press("n")
            assert await wait_for(pilot, lambda: reader.paints > before)
            shown = [v for v in reader.query(StepView) if v.display]
            assert shown == [prepared[0]]  # the prepared view itself, now on screen
            assert reader.index == i and widget_text(shown[0].query_one(".step-title", Static)).strip() == lesson.step_label(i)
            assert await wait_for(pilot, lambda: reader.next_prepared() and len(reader.query(StepView)) == 2)
        # p (or a step chosen in the table) is built as before; the prepared view goes with the old one
        await pilot.press("p")
        assert await wait_for(pilot, lambda: reader.index == 2 and reader.next_prepared()
                              and len(reader.query(StepView)) == 2)
        shown = [v for v in reader.query(StepView) if v.display]
        assert len(shown) == 1 and shown[0].step.id == lesson.steps[2].id
        app.store.flush()
        assert set(app.store.lesson_state("02").steps_seen) >= {s.id for s in lesson.steps[:4]}


async def test_n_paints_the_prepared_step_at_once_and_moves_the_steps_table_without_refilling_it(tmp_path):
    """`n` on a prepared step lays out and paints the screen in its handler (not on a later update tick); the table
    of steps keeps its options (the step newly seen gets its check) and moves its highlight to the step shown."""
    from tutor.core.glyphs import g

    course = load_course()
    lesson = course.lesson("02")
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(120, 40)) as pilot:
        reader = await _lesson_02_with_the_next_step_prepared(app, pilot, lesson)
        toc = reader.query_one("#toc", OptionList)
        assert await wait_for(pilot, lambda: toc.option_count == len(lesson.steps))
        for i in (1, 2):
            options = list(toc.options)
            assert not toc.get_option_at_index(i).prompt.plain.startswith(g("check"))
            before = reader.paints
            reader.action_next_step()
            assert reader.paints == before + 1  # painted before the handler returned
            assert reader.index == i and toc.highlighted == i
            assert all(a is b for a, b in zip(toc.options, options)) and toc.option_count == len(options)
            assert toc.get_option_at_index(i).prompt.plain.startswith(g("check"))
            assert f"step {i}" in widget_text(reader.query_one("#topbar", Static))
            assert await wait_for(pilot, lambda: reader.next_prepared())
        # another lesson: its own steps in the table
        app.open_lesson("01", course.lesson("01").steps[0].id)
        assert await wait_for(pilot, lambda: reader.lesson.id == "01" and reader.paints >= 4
                              and toc.option_count == len(course.lesson("01").steps))
        assert toc.highlighted == 0


LONG = """---
id: "91"
title: Long step
section: 1
difficulty: 1
minutes: 5
objectives:
  - Scroll a long step
prerequisites: []
---

## Only step

{paras}

```python id="late-cell"
print(2 + 2)
```
"""


async def test_a_long_step_paints_its_first_screen_then_mounts_the_rest(tmp_path):
    para = "A sentence that fills part of a line in the reader. " * 6
    lesson, problems = parse_lesson(LONG.format(paras="\n\n".join(f"Paragraph {i}: {para}" for i in range(40))), "91_long.md")
    assert lesson is not None, problems
    course = load_course()
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ReaderScreen(lesson)
        app.push_screen(screen)
        assert await wait_for(pilot, lambda: screen.paints >= 1)
        view = screen.query_one(StepView)
        blocks = len(view.blocks)  # the long prose is split into pieces of whole paragraphs
        assert len(lesson.steps[0].blocks) == 2 and blocks >= 4
        assert 0 < view.first_screen_blocks <= blocks // 2  # 80x24: a few paragraphs, not forty
        assert await wait_for(pilot, lambda: view.complete)
        assert await wait_for(pilot, lambda: len(view.query(ProseBlock)) + len(view.query(CodeCell)) == blocks)
        assert screen.query_one("#cell-late-cell", CodeCell)


async def test_code_cell_builds_editor_and_output_view_on_demand(tmp_path):
    course = load_course()
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    lesson = course.lesson("01")
    step = next(s for s in lesson.steps if any(not c.is_hidden and not c.is_setup for c in s.cells))
    cell_id = next(c.id for c in step.cells if not c.is_hidden and not c.is_setup)
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01", step.id)
        cell = None

        def found():
            nonlocal cell
            try:
                cell = app.screen.query_one(f"#cell-{cell_id}", CodeCell)
            except Exception:
                return False
            return True

        assert await wait_for(pilot, found)
        await pilot.pause()
        assert not cell.query(TextArea) and not cell.query(OutputView)
        assert cell.code == (app.store.cell_edit("01", cell_id) or lesson.cell(cell_id).code)
        cell.set_code("print('replaced')\n")  # before any edit: the read-only view shows it
        await pilot.pause()
        assert "replaced" in widget_text(cell.query_one(_CodeView))
        cell.focus()
        await pilot.press("e")
        assert await wait_for(pilot, lambda: bool(cell.query(TextArea)) and not cell.query(_CodeView))
        assert cell.query_one(TextArea).has_focus and cell.code == "print('replaced')\n"
        await pilot.press("end", "x")
        await pilot.press("escape")
        assert cell.code.endswith("x") or "x" in cell.code
        await pilot.press("r")
        assert await wait_for(pilot, lambda: bool(cell.query(OutputView)), timeout=60)


async def test_leaving_a_lesson_stops_its_kernel_after_keep_alive_and_coming_back_keeps_it(tmp_path):
    course = load_course()
    app = TutorApp(course=course, store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 30)) as pilot:
        reader = await _prebuilt(app, pilot)
        app.kernel_keep_alive = 60.0  # leaving the lesson: its kernel lingers this long
        app.open_lesson("01")
        assert await wait_for(pilot, lambda: reader.cells is not None and reader.cells._kernel is not None)
        pool = app.kernel_pool()
        kernel = pool.kernel("01")
        assert await wait_for(pilot, lambda: kernel.state == "idle", timeout=90)
        await pilot.press("question_mark")  # covered by the help screen: nothing is closed
        await pilot.pause()
        assert "01" not in pool._pending_close
        await pilot.press("escape")
        assert app.screen is reader
        await pilot.press("escape")  # back home: the lesson is left, its kernel scheduled to stop in 60 s
        assert await wait_for(pilot, lambda: "01" in pool._pending_close, timeout=10)
        app.open_lesson("01")  # back within keep_alive: the same kernel, shutdown cancelled
        assert await wait_for(pilot, lambda: app.screen is reader and "01" not in pool._pending_close, timeout=10)
        assert pool.kernel("01") is kernel and kernel.state != "dead"

        app.kernel_keep_alive = 0.0
        await pilot.press("escape")  # keep_alive 0: the kernel stops as the lesson is left
        assert await wait_for(pilot, lambda: pool.kernel("01") is None, timeout=30)
