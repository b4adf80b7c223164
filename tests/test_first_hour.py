"""Issue 14, the learner's first hour: a failed exercise says why, leaving a lesson keeps (or plainly stops) its
kernel, esc leaves the innermost mode, help lists the focused widget's keys, the footer keeps esc and ?."""
from __future__ import annotations

import pytest
from textual.widgets import Input

from tutor.core.config import KernelConfig
from tutor.course import load_course
from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.home import HomeScreen
from tutor.ui.screens.reader import ReaderScreen
from tutor.widgets.code_cell import CodeCell
from tutor.widgets.key_bar import KeyBar, fit_keys
from tutor.widgets.quiz_card import QuizCard

from .helpers import plain, texts, wait_for, widget_text

pytestmark = pytest.mark.timeout(180)


def _app(course_dir, tmp_path) -> tuple[TutorApp, list[str]]:
    app = TutorApp(course=load_course(course_dir), store=ProgressStore(tmp_path / "p.db"))
    said: list[str] = []
    notify = app.notify

    def record(message, *a, **kw):
        said.append(str(message))
        return notify(message, *a, **kw)

    app.notify = record  # every toast, to assert on what the learner was told
    return app, said


# the fixture lesson's headings with numbers: its steps are then "1" and "2", as the prose may say
NUMBERED = (("## What a foundation model is", "## 1. What a foundation model is"),
            ("## Counting parameters {#count}", "## 2. Counting parameters {#count}"))


def _rewrite_lesson(course_dir, *replacements: tuple[str, str]) -> str:
    """Apply (old, new) replacements to the fixture course's lesson 01 -> its new text."""
    f = next((course_dir / "lessons").glob("01_*.md"))
    text = f.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    f.write_text(text)
    return text


def _row(widget, y: int) -> str:
    """Line ``y`` of a Line API widget as drawn (markers included), without trailing blanks."""
    return "".join(seg.text for seg in widget.render_line(y)).rstrip()


async def _focus_cell(app, pilot, step_id: str, cell_id: str) -> CodeCell:
    """Open lesson 01 at ``step_id`` and focus the cell ``cell_id`` -> the cell."""
    app.open_lesson("01", step_id)
    await pilot.pause()
    cell = app.screen.query_one(f"#cell-{cell_id}", CodeCell)
    cell.focus()
    return cell


async def test_failed_exercise_shows_the_checks_message_and_passed_a_success_line(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await _focus_cell(app, pilot, "count", "params-ex")
        await pilot.press("r")
        assert await wait_for(pilot, lambda: cell.state in ("failed", "passed", "error")), cell.state
        assert cell.state == "failed"
        notice = cell.query_one(".cell--notice")
        assert notice.display and "params(10) should be 1200, got 0" in widget_text(notice)
        assert notice.has_class("-failed")
        await pilot.press("e")
        cell.text_area.load_text("def params(d):\n    return 12 * d * d\n")
        await pilot.press("escape")
        assert not cell.editing
        assert "edited" in widget_text(cell.query_one(".cell--header"))  # the learner's version is marked
        await pilot.press("r")
        assert await wait_for(pilot, lambda: cell.state == "passed"), (cell.state, cell.message)
        assert "Passed" in widget_text(notice) and notice.has_class("-passed")
        await pilot.press("ctrl+r")  # reset: the mark goes
        await pilot.pause()
        assert "edited" not in widget_text(cell.query_one(".cell--header"))


async def test_esc_leaves_editing_then_the_lesson_and_an_answer_box_before_the_lesson(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await _focus_cell(app, pilot, "count", "params-ex")
        await pilot.press("e")
        await pilot.pause()
        assert cell.editing
        assert "Stop editing" in widget_text(app.screen.query_one(KeyBar), width=200)  # the edit keys are shown
        assert await wait_for(pilot, lambda: "✎ editing" in widget_text(cell.query_one(".cell--header")), timeout=5)
        await pilot.press("escape")  # leaves edit mode only
        assert not cell.editing and isinstance(app.screen, ReaderScreen) and app.focused is cell
        await pilot.press("escape")  # a focused cell, not editing: esc goes back
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)

        app.open_lesson("01", "quiz")
        await pilot.pause()
        card = next(c for c in app.screen.query(QuizCard) if c.quiz.type == "numeric")
        card.focus()
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press("escape")  # leaves the answer box, not the lesson
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and app.focused is card
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_leaving_a_lesson_never_says_the_kernel_died(fixture_course, tmp_path):
    assert KernelConfig().keep_alive >= 60  # a left lesson keeps its variables for minutes by default
    app, said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.kernel_keep_alive = 0.0  # stop at once: the planned stop must not read as a death
        app.open_lesson("01")
        await pilot.pause()
        reader = app.screen
        assert await wait_for(pilot, lambda: reader.cells is not None and reader.cells._kernel is not None)
        kernel = reader.cells._kernel
        assert await wait_for(pilot, lambda: kernel.state == "idle", timeout=90)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: kernel.state == "dead", timeout=30)
        await pilot.pause(0.3)
        assert kernel.stopping
        assert not [m for m in said if "died" in m], said
        app.open_lesson("01")  # back after the kernel stopped: said plainly
        assert await wait_for(pilot, lambda: any("stopped while you were away" in m for m in said), timeout=10), said


async def test_help_lists_the_focused_cells_keys_aligned_and_not_itself(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _focus_cell(app, pilot, "count", "params-ex")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = texts(app.screen.query("Static"), width=96)
        assert "Focused: Code cell" in text and "Interrupt" in text and "Solution" in text
        assert "This screen (Reader)" in text and "This screen (Help)" not in text
        # every description starts in the same column
        cols = {line.index(what) for line in text.splitlines()
                for what in ("Interrupt", "Next", "Home", "Help") if line.lstrip().startswith(("i ", "n ", "H ", "? "))
                and what in line}
        assert len(cols) == 1, text


def test_footer_keeps_esc_and_help_when_narrow():
    items = [(k, d, True, k in ("esc", "?")) for k, d in
             [("r", "Run"), ("e", "Edit"), ("^r", "Reset code"), ("i", "Interrupt"), ("R", "Restart kernel"),
              ("o", "Output"), ("n", "Next"), ("p", "Prev"), ("t", "Steps"), ("esc", "Back"), ("a", "Run step"),
              ("?", "Help")]]
    line = fit_keys(items, 80).plain
    assert len(line) <= 80 and " esc  Back " in line and " ?  Help " in line and "…" in line
    assert "Restart kernel" not in line  # left out, with the marker, rather than cut off at the edge
    wide = fit_keys(items, 200).plain
    assert "…" not in wide and "Restart kernel" in wide


def test_lesson_step_that_does_not_exist_is_an_error_listing_the_steps(fixture_course, monkeypatch, capsys):
    from tutor.cli import main

    monkeypatch.setenv("FM_TUTOR_CONTENT", str(fixture_course))
    assert main(["lesson", "01", "--step", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no step 'nope'" in err and "count" in err and "what-a-foundation-model-is" in err


async def test_run_all_ends_with_a_summary_line(fixture_course, tmp_path):
    app, said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_lesson("01")
        await pilot.pause()
        await pilot.press("A")
        assert await wait_for(pilot, lambda: any(m.startswith("Run all") for m in said), timeout=120), said
        summary = next(m for m in said if m.startswith("Run all"))
        # sqrt-two ran; the exercise's starter fails its check; the GPU cell is skipped on this machine
        assert "Run all done: 2 of 2 cells ran (1 ok; exercises: 0 passed, 1 failed)" in summary, summary
        assert "1 skipped (GPU)" in summary or app.gpu_available
        assert "running cell" not in widget_text(app.screen.query_one("#topbar"))


def test_path_command_marks_unwritten_lessons(fixture_course, monkeypatch, capsys):
    from tutor.cli import main

    monkeypatch.setenv("FM_TUTOR_CONTENT", str(fixture_course))
    assert main(["path"]) == 0
    out = capsys.readouterr().out
    quick = next(line for line in out.splitlines() if line.startswith("quick"))
    assert "1 of 6 written" in quick and "01 -> 02° -> 08°" in quick
    assert "° not written yet" in out


async def test_paths_screen_marks_unwritten_lessons(fixture_course, tmp_path):
    from tutor.ui.screens.paths import PathsScreen

    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PathsScreen)
        from textual.widgets import OptionList

        ol = app.screen.query_one("#paths", OptionList)
        text = texts(app.screen.query("Static"), width=116) + "\n".join(
            plain(ol.get_option_at_index(i).prompt, 116) for i in range(ol.option_count))
        assert "1/6 written" in text and "02°" in text and "01°" not in text
        assert "°: not written" in text


def test_one_step_numbering_the_headings_and_check_warns_about_a_wrong_step_reference(fixture_course):
    from tutor.course import validate_course

    text = _rewrite_lesson(fixture_course, *NUMBERED, (
        "A *foundation model* is trained once",
        "As step 2 shows, and step 7 does not, a *foundation model* is trained once"))
    course = load_course(fixture_course)
    les = course.lesson("01")
    assert les.numbered
    count = les.step_index("count")
    assert les.step_label(count) == "Step 2/2 · Counting parameters"  # the heading's own number, as the prose says
    assert les.step_label(0) == "Introduction" and les.step_mark(0) == ""
    assert les.step_label(les.step_index("quiz")) == "Quiz"
    _course, problems = validate_course(fixture_course)
    refs = [p for p in problems if "points to no step" in p.message]
    assert len(refs) == 1 and "'step 7'" in refs[0].message and refs[0].severity == "warning", refs
    assert refs[0].line == text.splitlines().index(next(l for l in text.splitlines() if "step 7" in l)) + 1


def test_unnumbered_lessons_keep_counting_in_order_and_a_step_reference_is_flagged(fixture_course):
    _rewrite_lesson(fixture_course,
                    ("A *foundation model* is trained once", "In step 3, a *foundation model* is trained once"))
    les = load_course(fixture_course).lesson("01")
    assert not les.numbered and les.step_label(1).startswith("Step 2/5 · ")
    assert any("'step 3' points to no step" in p.message for p in les.problems)


def test_check_warns_about_a_wrong_step_reference_in_quiz_text(fixture_course):
    text = _rewrite_lesson(
        fixture_course, *NUMBERED,
        ("question: Which are foundation models?", "question: As in step 2, which are foundation models?"),
        ("explain: Size alone does not make one.", "explain: Size alone does not make one (step 9)."),
        ("explain: 6 * 1e9 * 2e10 = 1.2e20.", "explain: 6 * 1e9 * 2e10 = 1.2e20, as in step 4."))
    les = load_course(fixture_course).lesson("01")
    refs = sorted(p.message for p in les.problems if "points to no step" in p.message)
    assert refs == ["'step 4' (in quiz flops) points to no step: this lesson's numbered steps are 1-2",
                    "'step 9' (in quiz define-fm) points to no step: this lesson's numbered steps are 1-2"], refs
    lines = text.splitlines()
    assert {p.line for p in les.problems if "points to no step" in p.message} == {
        lines.index("id: define-fm"), lines.index("id: flops")}  # the quiz's fence line


async def test_a_long_code_line_ends_in_a_marker_and_the_cell_scrolls_sideways(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        cell = await _focus_cell(app, pilot, "what-a-foundation-model-is", "sqrt-two")
        index = app.screen.index
        cell.set_code("x = 1  # " + "a long comment " * 10 + "END\nshort = 2")
        await pilot.pause()
        from tutor.widgets.code_cell import _CodeView

        view = cell.query_one(_CodeView)

        assert _row(view, 0).endswith("→") and "END" not in _row(view, 0) and _row(view, 1) == "short = 2"
        assert "→  Scroll" in widget_text(app.screen.query_one(KeyBar))
        for _ in range(12):
            await pilot.press("right")
        await pilot.pause()
        assert _row(view, 0).endswith("END") and _row(view, 0).startswith("←")
        assert app.screen.index == index  # right scrolled the cell: the step did not change
        await pilot.press("left")
        await pilot.pause()
        assert _row(view, 0).endswith("→")
        cell.set_code("y = 2")  # nothing to scroll: right is the reader's next step again
        await pilot.pause()
        assert _row(view, 0) == "y = 2" and "Scroll" not in widget_text(app.screen.query_one(KeyBar))


async def test_a_wide_diagram_is_not_wrapped_it_scrolls_sideways_with_a_marker(fixture_course, tmp_path):
    from tutor.widgets.step_view import FenceBlock

    wide = "input --> " + " --> ".join(f"stage{i}" for i in range(12)) + " --> OUT"
    _rewrite_lesson(fixture_course, ("A *foundation model* is trained once",
                                     f"```text\n{wide}\n  | below\n```\n\nA *foundation model* is trained once"))
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("01", "what-a-foundation-model-is")
        await pilot.pause()
        block = app.screen.query_one(FenceBlock)

        assert block.size.height == 2  # two lines, not wrapped
        assert _row(block, 0).startswith("input -->") and _row(block, 0).endswith("→")
        assert _row(block, 1) == "  | below"
        await pilot.press("tab")  # the wide block is a tab stop
        await pilot.pause()
        assert app.focused is block
        assert "→  Scroll" in widget_text(app.screen.query_one(KeyBar))
        for _ in range(10):
            await pilot.press("right")
        await pilot.pause()
        assert _row(block, 0).startswith("←") and _row(block, 0).endswith("--> OUT")
        await pilot.press("question_mark")  # help names the focused block and its keys
        await pilot.pause()
        shown = "\n".join(widget_text(s, width=96) for s in app.screen.query("#help-dialog > Static"))
        assert "Focused: Wide diagram or text block" in shown and "Scroll back" in shown


def test_export_mine_writes_the_learners_version(fixture_course, tmp_path, monkeypatch, capsys):
    import json

    from tutor.cli import main

    monkeypatch.setenv("FM_TUTOR_CONTENT", str(fixture_course))
    data = tmp_path / "data"
    store = ProgressStore(data / "progress.db")
    store.save_cell_edit("01", "params-ex", "def params(d):\n    return 12 * d * d  # mine\n")
    store.flush()
    store.close()

    def code_of(nb_path, cell_id):
        nb = json.loads(nb_path.read_text())
        cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("fm_tutor", {}).get("id") == cell_id)
        return "".join(cell["source"]), cell["metadata"]["fm_tutor"]

    assert main(["--data-dir", str(data), "export", "01", "--ipynb", str(tmp_path / "lesson.ipynb")]) == 0
    code, meta = code_of(tmp_path / "lesson.ipynb", "params-ex")
    assert "TODO" in code and "edited" not in meta  # without --mine: the lesson's code
    assert main(["--data-dir", str(data), "export", "01", "--ipynb", str(tmp_path / "mine.ipynb"), "--mine"]) == 0
    code, meta = code_of(tmp_path / "mine.ipynb", "params-ex")
    assert "# mine" in code and meta["edited"] is True
    assert "1 cell(s) in your version" in capsys.readouterr().out


def test_dashboard_weeks_are_dates():
    from tutor.ui.screens.dashboard import week_label

    assert week_label("2026-W49") == "week of 30 Nov 2026"
    assert week_label("later") == "later"


async def test_home_header_keeps_review_due_at_80(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        top = widget_text(app.screen.query_one("#topbar"), width=78)
        assert "review: 0 due" in top.splitlines()[0][:78]


async def test_quiz_explanations_wrap_under_their_choice_and_the_verdict_scrolls_into_view(fixture_course, tmp_path):
    from textual.containers import VerticalScroll
    from textual.widgets import Static

    long = "Pre-trained on image-text pairs " + "and used zero-shot for many tasks " * 4 + "END."
    intro = "\n\n".join(f"Paragraph {i} before the questions." for i in range(12))
    _rewrite_lesson(fixture_course,
                    ("explain: Pre-trained on image-text pairs, used zero-shot for many tasks.", f"explain: {long}"),
                    ("## Quiz\n", f"## Quiz\n\n{intro}\n"))
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("01", "quiz")
        await pilot.pause()
        assert await wait_for(pilot, lambda: len(app.screen.query(QuizCard)) == 4)
        assert await wait_for(pilot, lambda: app.screen._view is not None and app.screen._view.complete)
        card = app.screen.query_one("#quiz-pick-two", QuizCard)
        card.focus()
        await pilot.pause()
        # the card's last line at the bottom of the reader: answering it adds lines (the explanations), and the
        # verdict would be below the fold unless enter scrolls it into view
        scroll = app.screen.query_one("#step-scroll", VerticalScroll)
        view_bottom = scroll.scrollable_content_region.bottom
        for _ in range(5):  # until the layout has settled
            bottom = card.region.bottom - scroll.region.y + int(scroll.scroll_y)
            scroll.scroll_to(y=bottom - scroll.scrollable_content_region.height, animate=False, immediate=True)
            await pilot.pause()
            if card.region.bottom == view_bottom:
                break
        assert view_bottom <= card.region.bottom <= view_bottom + 1 and card.region.y > scroll.region.y
        verdict = card.query_one("#q-verdict", Static)
        await pilot.press("1", "2", "enter")
        await pilot.pause()
        await pilot.pause()
        assert "try again" in widget_text(verdict)
        region = app.screen.find_widget(verdict).region
        assert scroll.scrollable_content_region.contains_region(region), (region, scroll.region)
        body = widget_text(card.query_one("#q-body"), width=card.content_size.width)
        start = next(i for i, line in enumerate(body.splitlines()) if "CLIP" in line)
        col = body.splitlines()[start].index("CLIP")
        wrapped = body.splitlines()[start + 1:start + 3]
        assert all(line[:col].strip() == "" and line[col:].strip() for line in wrapped), body  # a hanging indent


async def test_steps_table_titles_stay_on_one_line_and_it_follows_the_width(fixture_course, tmp_path):
    from textual.widgets import OptionList

    _rewrite_lesson(fixture_course, ("## Counting parameters {#count}",
                                     "## Counting the parameters of a very large decoder, layer by layer {#count}"))
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(150, 40)) as pilot:
        app.open_lesson("01", "count")
        await pilot.pause()
        toc = app.screen.query_one("#toc", OptionList)
        assert await wait_for(pilot, lambda: toc.option_count == len(app.screen.lesson.steps))
        await pilot.pause()
        assert toc.display and toc.virtual_size.height == toc.option_count  # one line per step, none wrapped
        row = "".join(seg.text for seg in toc.render_line(app.screen.index)).rstrip()
        assert row.endswith("…") and "Counting the" in row
        await pilot.resize_terminal(120, 40)  # below the width: the table closes, the text gets the whole width
        await pilot.pause()
        assert not toc.display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        top = app.screen.query_one("#topbar").render_line(0).text.rstrip()
        assert len(top) <= 80 and top.endswith("…"), top  # the top bar is cut with a marker
        await pilot.resize_terminal(150, 40)
        await pilot.pause()
        assert toc.display


async def test_footer_keeps_the_model_status_esc_and_help_at_80_columns(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("01", "what-a-foundation-model-is")
        await pilot.pause()
        app.model_status = "model ready · 118 MB · fm-tiny · transformers · cpu"
        bar = app.screen.query_one(KeyBar)
        for focus in (None, "#cell-sqrt-two"):  # the reader's keys, then a focused cell's (more keys)
            if focus:
                app.screen.query_one(focus).focus()
                await pilot.pause()
            bar.redraw()
            await pilot.pause()
            line = widget_text(bar, width=80).splitlines()[0]
            assert len(line.rstrip()) <= 80 and " esc  Back " in line and " ?  Help " in line, line
            assert "model ready · 118 MB" in line and "…" in line, line  # the state survives, the rest is cut


async def test_home_list_marks_a_long_title_and_the_detail_has_it_all(fixture_course, tmp_path):
    toml = fixture_course / "course.toml"
    long = "Parameter-Efficient Fine-Tuning, Unified, with Adapters"
    toml.write_text(toml.read_text().replace('title = "Parameter-Efficient Fine-Tuning, Unified"', f'title = "{long}"'))
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lessons = app.screen.query_one("#lessons")
        prompt = str(lessons.get_option("lesson-19").prompt)
        assert "Parameter-Efficient Fine-Tuning, Unifie… " in prompt and long not in prompt
        lessons.highlighted = lessons.get_option_index("lesson-19")
        await pilot.pause()
        assert f"19 {long}" in widget_text(app.screen.query_one("#lesson-detail"), width=78).replace("\n", " ")


async def test_a_toast_of_the_paths_screen_does_not_stay_over_the_lesson(fixture_course, tmp_path):
    from tutor.ui.screens.paths import PathsScreen

    app, said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for route in (("n",), ("escape", "c")):  # straight to the next lesson, or home and continue
            await pilot.press("p")
            assert await wait_for(pilot, lambda: isinstance(app.screen, PathsScreen), timeout=10)
            await pilot.press("enter")  # activate a path: a toast says so
            await pilot.pause()
            assert any("Active path" in s for s in said) and app._notifications
            await pilot.press(*route)
            assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen), timeout=10)
            await pilot.pause()
            assert not app._notifications, route
            app.pop_screen()  # the lesson, back to where it was opened from (paths or home)
            await pilot.pause()
            if not isinstance(app.screen, HomeScreen):
                await pilot.press("escape")
            assert await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=10)


async def test_a_wide_output_line_ends_in_a_marker_and_the_cells_keys_scroll_it(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        cell = await _focus_cell(app, pilot, "what-a-foundation-model-is", "sqrt-two")
        cell.output.stream("stdout", "result: " + "0123456789 " * 12 + "END\nshort\n")
        from tutor.widgets.output_view import _TextPart

        cell.output_view  # noqa: B018 - mounts the view, which polls the buffer
        assert await wait_for(pilot, lambda: len(cell.query(_TextPart)) == 1, timeout=10)
        await pilot.pause()
        part = cell.query_one(_TextPart)

        assert _row(part, 0).startswith("result: 0123") and _row(part, 0).endswith("→") and _row(part, 1) == "short"
        assert "→  Scroll" in widget_text(app.screen.query_one(KeyBar))
        for _ in range(8):
            await pilot.press("right")
        await pilot.pause()
        assert _row(part, 0).startswith("←") and _row(part, 0).endswith("END")


async def test_paths_screen_lines_wrap_under_their_indent(fixture_course, tmp_path):
    from textual.widgets import OptionList

    from tutor.ui.screens.paths import PathsScreen

    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PathsScreen), timeout=10)
        ol = app.screen.query_one("#paths", OptionList)
        lines = plain(ol.get_option("path-complete").prompt, 76).splitlines()
        assert len(lines) > 4  # the chain of 25 lessons and the summary wrap at 80 columns
        assert all(line.startswith("   ") for line in lines[1:] if line.strip()), lines


async def test_home_detail_shows_every_line_and_wraps_under_its_value(fixture_course, tmp_path):
    app, _said = _app(fixture_course, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        detail = app.screen.query_one("#lesson-detail")
        await pilot.pause()
        text = widget_text(detail, width=detail.content_size.width)
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines[-1].strip() == "Specialist" and lines[-2].startswith("On paths:"), lines  # wrapped, not cut
        assert lines[-1].index("Specialist") == len("On paths:    ")  # under the value, not the label
        assert detail.size.height >= len(lines)
