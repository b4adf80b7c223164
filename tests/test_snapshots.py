"""Snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Update after an intended change with `pytest tests/test_snapshots.py --snapshot-update` and review the SVGs.
"""
from __future__ import annotations

import pytest

from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course

SIZES = [(80, 24), (120, 40)]
pytestmark = pytest.mark.timeout(120)


def _app(fixture_course, tmp_path, path="quick", done=("01",), custom=None):
    store = ProgressStore(tmp_path / "snap.db")
    if path:
        store.set_active_path(path)
    for lid in done:
        store.set_lesson_done(lid)
    store.flush()
    return TutorApp(course=load_course(fixture_course), store=store)


async def _quiet(pilot):
    from textual.widgets import Input, TextArea

    for w in pilot.app.query(Input):
        w.cursor_blink = False
    for w in pilot.app.query(TextArea):
        w.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, fixture_course, tmp_path, size):
    assert snap_compare(_app(fixture_course, tmp_path), terminal_size=size, run_before=_quiet)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_roadmap(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        await pilot.press("m")
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path, path="vision"), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paths(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        await pilot.press("p")
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reader(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        pilot.app.open_lesson("01", "what-a-foundation-model-is")
        await pilot.pause()
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path, done=()), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reader_quiz_answered(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        pilot.app.open_lesson("01", "quiz")
        await pilot.pause()
        from tutor.widgets.quiz_card import QuizCard

        cards = list(pilot.app.screen.query(QuizCard))
        cards[0].submit("1.1e20")
        cards[1].submit([0, 1])
        await pilot.pause()
        pilot.app.clear_notifications()
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path, done=()), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        await pilot.press("question_mark")
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path), terminal_size=size, run_before=go)


def _course_app(tmp_path):
    """The real course (lessons written in this checkout), for the search, notes and ask screens."""
    from pathlib import Path

    store = ProgressStore(tmp_path / "snap.db")
    store.set_bookmark("02", "chinchilla", True)
    store.save_note("02", "chinchilla", "Compute-optimal: about 20 tokens per parameter.")
    store.save_note("01", "modern-decoder", "GQA shares K and V between query heads.")
    store.flush()
    return TutorApp(course=load_course(Path(__file__).resolve().parent.parent / "content"), store=store)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_search(snap_compare, tmp_path, size):
    from tests.helpers import wait_for

    async def go(pilot):
        await pilot.press("slash")
        assert await wait_for(pilot, lambda: pilot.app.screen.ready)
        await pilot.press(*"GQA")
        await pilot.pause()
        await pilot.press("down")  # to the results (the query's cursor would blink into the picture)
        await _quiet(pilot)

    assert snap_compare(_course_app(tmp_path), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_notes(snap_compare, tmp_path, size):
    async def go(pilot):
        await pilot.press("N")
        await _quiet(pilot)

    assert snap_compare(_course_app(tmp_path), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_ask_fm_tiny(snap_compare, tmp_path, size):
    from tests.helpers import wait_for

    async def go(pilot):
        pilot.app.open_lesson("02", "chinchilla")
        from tutor.widgets.step_view import StepView

        def painted():  # the step fully mounted and its table of steps filled: nothing left to change under the panel
            screen = pilot.app.screen  # (the next step, prepared hidden under it, is never drawn)
            return (type(screen).__name__ == "ReaderScreen" and screen.paints >= 1
                    and all(v.complete for v in screen.query(StepView) if v.display)
                    and screen.query_one("#toc").visible)

        assert await wait_for(pilot, painted)
        await pilot.pause()
        await pilot.press("K")
        await pilot.press(*"why does Chinchilla use more tokens than Kaplan?")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: pilot.app.screen.links)
        await pilot.press("down")  # to the links (the question's cursor would blink into the picture)
        await _quiet(pilot)

    assert snap_compare(_course_app(tmp_path), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_outline_of_an_unwritten_lesson(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        pilot.app.open_lesson("09")
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path), terminal_size=size, run_before=go)
