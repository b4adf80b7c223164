"""Pilot tests: `/` search from any screen, enter opens the step with the match in view; bookmarks and notes from
the reader, the Notes screen; the Ask panel with the built-in fm-tiny (passages, no generated answer)."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, TextArea

from tutor.course import load_course
from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.ui.screens.ask import AskScreen
from tutor.ui.screens.cells import FullOutputScreen
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.reader import ReaderScreen
from tutor.ui.screens.search import NoteEditor, NotesScreen, SearchScreen

from .helpers import plain, wait_for, widget_text

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


def make_app(db: Path) -> TutorApp:
    return TutorApp(course=load_course(ROOT / "content"), store=ProgressStore(db))


def _in_view(scroll, widget) -> bool:
    top = widget.virtual_region.y - scroll.scroll_y
    return 0 <= top < scroll.size.height


async def test_slash_searches_and_enter_opens_the_step_at_the_match(tmp_path):
    app = make_app(tmp_path / "p.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        screen = app.screen
        assert await wait_for(pilot, lambda: screen.ready)
        await pilot.press(*"?!")
        assert "nothing to search for" in widget_text(screen.query_one("#search-status"))
        screen.query_one("#search-input", Input).value = ""
        await pilot.press(*"softmax")
        await pilot.pause()
        assert screen.hits, widget_text(screen.query_one("#search-status"))
        first = screen.hits[0]
        shown = plain(screen.query_one("#search-results", OptionList).get_option_at_index(0).prompt)
        assert first.lesson_id in shown and first.step_title in shown and "softmax" in shown.lower()
        await pilot.press("down", "enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        reader = app.screen
        assert reader.lesson.id == first.lesson_id and reader.lesson.steps[reader.index].id == first.step_id
        assert await wait_for(pilot, lambda: reader.revealed is not None)
        scroll = reader.query_one("#step-scroll", VerticalScroll)
        await pilot.pause()
        assert _in_view(scroll, reader.revealed)
        # `/` from the reader too, then escape back to it
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("escape")
        assert app.screen is reader


async def test_search_finds_a_match_deep_in_a_step_and_scrolls_to_it(tmp_path):
    """A word only in a late block of a long step: the reader opens scrolled down to that block."""
    course = load_course(ROOT / "content")
    lesson = course.lesson("04")
    step = lesson.step("prefix-lm")
    assert step is not None
    app = make_app(tmp_path / "p.db")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("04", "prefix-lm", reveal=("_prefix_mask",))
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen) and app.screen.revealed is not None)
        reader = app.screen
        scroll = reader.query_one("#step-scroll", VerticalScroll)
        await pilot.pause()
        assert "_prefix_mask" in reader.revealed.cell.code
        assert scroll.scroll_y > 0 and _in_view(scroll, reader.revealed)


async def test_bookmark_note_and_the_notes_screen(tmp_path):
    app = make_app(tmp_path / "p.db")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("02", "chinchilla")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        await pilot.press("b")
        assert app.store.is_bookmarked("02", "chinchilla")
        await pilot.press("w")
        assert isinstance(app.screen, NoteEditor)
        await pilot.press(*"RoPE clicked")
        await pilot.press("escape")
        assert isinstance(app.screen, ReaderScreen)
        assert app.store.note("02", "chinchilla") == "RoPE clicked"
        app.open_lesson("01", "modern-decoder")
        await pilot.pause()
        await pilot.press("N")
        assert isinstance(app.screen, NotesScreen)
        lst = app.screen.query_one("#notes-list", OptionList)
        rows = [plain(lst.get_option_at_index(i).prompt) for i in range(lst.option_count)]
        assert rows[0].startswith("02 Scaling Laws")
        assert any("[bookmark]" in r for r in rows) and any("[note]" in r and "RoPE clicked" in r for r in rows)
        note_row = next(i for i, r in enumerate(rows) if "[note]" in r)
        lst.highlighted = note_row
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        assert app.screen.lesson.id == "02" and app.screen.lesson.steps[app.screen.index].id == "chinchilla"
        # an empty note deletes it; b again removes the bookmark
        await pilot.press("w")
        app.screen.query_one("#note-text", TextArea).text = ""
        await pilot.press("escape")
        await pilot.press("b")
        assert app.store.note("02", "chinchilla") is None and not app.store.is_bookmarked("02", "chinchilla")


async def test_ask_with_fm_tiny_shows_passages_and_no_generated_answer(tmp_path):
    app = make_app(tmp_path / "p.db")
    assert app.config.model == "fm-tiny"
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("02", "chinchilla")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        await pilot.press("K")
        assert isinstance(app.screen, AskScreen)
        ask = app.screen
        await pilot.press(*"why does Chinchilla use more tokens than Kaplan?")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: ask.links)
        answer = widget_text(ask.query_one("#ask-answer"))
        assert "far too small to answer" in answer and not ask.generated and ask.answer == ""
        assert ask.links[0].current and (ask.links[0].lesson_id, ask.links[0].step_id) == ("02", "chinchilla")
        lst = ask.query_one("#ask-sources", OptionList)
        shown = [plain(lst.get_option_at_index(i).prompt) for i in range(lst.option_count)]
        assert "[02/chinchilla]" in shown[1] and len(shown) == len(ask.links) + 1
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, FullOutputScreen)
        assert "Question: why does Chinchilla" in app.screen.text and "no answer generated" in app.screen.text
        await pilot.press("escape")
        target = ask.links[1]
        await pilot.press("down")
        lst.highlighted = 2
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        assert app.screen.lesson.steps[app.screen.index].id == target.step_id


async def test_help_lists_the_new_keys(tmp_path):
    app = make_app(tmp_path / "p.db")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("01")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(widget_text(w, 80) for w in app.screen.query("Static"))
        for want in ("/", "Search", "Bookmark", "Note", "Ask", "Notes", "Prompt"):
            assert want in text, want


async def test_notes_survive_a_renamed_step(tmp_path):
    """Notes are keyed by the step's stable id: renaming its heading keeps them, under the new title."""
    import shutil

    root = tmp_path / "course"
    shutil.copytree(ROOT / "content", root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    store = ProgressStore(tmp_path / "p.db")
    store.save_note("02", "kaplan", "N grows faster than D")
    store.set_bookmark("02", "kaplan", True)
    store.flush()
    lesson = root / "lessons" / "02_Scaling_Laws.md"
    text = lesson.read_text(encoding="utf-8")
    assert "## 5. Kaplan et al. (2020): the first scaling laws {#kaplan}" in text
    lesson.write_text(text.replace("## 5. Kaplan et al. (2020): the first scaling laws {#kaplan}",
                                   "## 5. The Kaplan laws, renamed {#kaplan}"), encoding="utf-8")
    app = TutorApp(course=load_course(root), store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("N")
        lst = app.screen.query_one("#notes-list", OptionList)
        rows = [plain(lst.get_option_at_index(i).prompt) for i in range(lst.option_count)]
        assert any("[note] 5. The Kaplan laws, renamed" in r for r in rows), rows
        assert any("[bookmark] 5. The Kaplan laws, renamed" in r for r in rows), rows
        lst.highlighted = next(i for i, r in enumerate(rows) if "[note]" in r)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        assert app.screen.lesson.steps[app.screen.index].title == "5. The Kaplan laws, renamed"


async def test_the_palette_opens_search_and_notes(tmp_path):
    app = make_app(tmp_path / "p.db")
    async with app.run_test(size=(80, 24)) as pilot:
        for name, screen_cls in (("Notes and bookmarks", NotesScreen), ("Search the course", SearchScreen)):
            await pilot.press("ctrl+p")
            await pilot.press(*name)
            assert await wait_for(pilot, lambda: app.screen.query("CommandList") and
                                  app.screen.query_one("CommandList").option_count > 0)
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: isinstance(app.screen, screen_cls)), (name, app.screen)
