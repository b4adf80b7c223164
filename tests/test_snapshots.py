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


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_outline_of_an_unwritten_lesson(snap_compare, fixture_course, tmp_path, size):
    async def go(pilot):
        pilot.app.open_lesson("09")
        await _quiet(pilot)

    assert snap_compare(_app(fixture_course, tmp_path), terminal_size=size, run_before=go)
