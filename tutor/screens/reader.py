"""The lesson reader: one step at a time, a table of steps, position and time per step saved."""
from __future__ import annotations

import time

from rich.syntax import Syntax
from rich.text import Text
from widgets.key_bar import KeyBar
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from widgets.quiz_card import QuizCard
from widgets.step_view import StepView

from ..completion import completion
from ..course.model import Cell, Lesson, Quiz
from ..glyphs import g

MAX_STEP_SECONDS = 15 * 60  # a step left open longer than this counts as 15 minutes (the learner walked away)


class CellPreview(Static):
    """A read-only view of a cell: id, flags and code."""

    DEFAULT_CSS = """
    CellPreview { height: auto; border: round $primary; padding: 0 1; margin: 0 1 1 1; }
    """

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        flags = " ".join(f"[{t}]" for t in cell.tags)
        super().__init__(Syntax(cell.code, "python", theme="ansi_dark", word_wrap=True), id=f"cell-{cell.id}")
        self.border_title = f"{cell.id} {flags}".strip()


class ReaderScreen(Screen):
    """Reads one lesson, one step at a time."""

    BINDINGS = [
        Binding("n", "next_step", "Next", id="reader.next"),
        Binding("p", "prev_step", "Prev", id="reader.prev"),
        Binding("right", "next_step", "Next", show=False, id="reader.next-arrow"),
        Binding("left", "prev_step", "Prev", show=False, id="reader.prev-arrow"),
        Binding("t", "toggle_toc", "Steps", id="reader.toc"),
        Binding("escape", "back", "Back", id="reader.back"),
        Binding("j", "scroll_down", "Down", show=False, id="reader.down"),
        Binding("k", "scroll_up", "Up", show=False, id="reader.up"),
        Binding("X", "retry_wrong", "Retry wrong", show=False, id="reader.retry-wrong"),
        Binding("tab", "app.focus_next", "Next item", show=False, id="reader.focus-next"),
    ]

    def __init__(self, lesson: Lesson, step_id: str | None = None) -> None:
        super().__init__()
        self.lesson = lesson
        self.index = lesson.step_index(step_id)
        self._shown_at: float | None = None

    # ------------------------------------------------------------------ compose
    def compose(self) -> ComposeResult:
        # Everything of the first page is composed here, so the first layout pass already holds the step.
        yield Static(self._top_text(), id="topbar", classes="topbar")
        with Horizontal(id="reader-body"):
            toc = OptionList(*self._toc_options(), id="toc")
            toc.display = self.app.size.width >= 100
            yield toc
            with VerticalScroll(id="step-scroll"):
                yield self._step_view(self.index)
        yield KeyBar()

    def on_mount(self) -> None:
        self.app.store.open_lesson(self.lesson.id)
        self.query_one("#toc", OptionList).highlighted = self.index
        self._step_shown(self.index)
        self.query_one("#step-scroll", VerticalScroll).focus()

    def _toc_options(self) -> list[Option]:
        seen = self.app.store.lesson_state(self.lesson.id).steps_seen
        return [
            Option(Text(f"{g('check') if s.id in seen else ' '}{i + 1:>2} {s.title}"), id=f"step-{i}")
            for i, s in enumerate(self.lesson.steps)
        ]

    def _fill_toc(self) -> None:
        toc = self.query_one("#toc", OptionList)
        toc.clear_options()
        toc.add_options(self._toc_options())
        toc.highlighted = self.index

    def _top_text(self) -> Text:
        step = self.lesson.steps[self.index]
        top = Text()
        top.append(f" {self.lesson.id} {self.lesson.title} ", style="bold reverse")
        top.append(f"  step {self.index + 1}/{len(self.lesson.steps)}: {step.title}")
        return top

    def _step_view(self, index: int) -> StepView:
        step = self.lesson.steps[index]
        return StepView(step, index + 1, len(self.lesson.steps), self.make_cell_widget, self.make_quiz_widget, classes="step-view")

    def _step_shown(self, index: int) -> None:
        self._shown_at = time.monotonic()
        self.app.store.step_shown(self.lesson.id, self.lesson.steps[index].id)
        if index == len(self.lesson.steps) - 1:
            self.call_later(self.update_completion)

    # ------------------------------------------------------------------ steps
    def show_step(self, index: int) -> None:
        index = max(0, min(index, len(self.lesson.steps) - 1))
        self._account_time()
        self.index = index
        scroll = self.query_one("#step-scroll", VerticalScroll)
        scroll.remove_children()
        scroll.mount(self._step_view(index))
        scroll.scroll_home(animate=False)
        self._step_shown(index)
        self.query_one("#topbar", Static).update(self._top_text())
        toc = self.query_one("#toc", OptionList)
        if toc.option_count:
            toc.highlighted = index
        scroll.focus()

    def make_cell_widget(self, cell: Cell) -> Widget:
        return CellPreview(cell)

    def make_quiz_widget(self, quiz: Quiz) -> Widget:
        latest = self.app.store.latest_quiz_results(self.lesson.id)
        return QuizCard(quiz, previous=latest.get(quiz.id))

    # ------------------------------------------------------------------ quizzes
    def on_quiz_card_answered(self, event: QuizCard.Answered) -> None:
        store = self.app.store
        lid = self.lesson.id
        store.record_quiz_attempt(lid, event.quiz.id, event.grade.answer, event.grade.correct, event.seconds)
        store.review_answer(f"{lid}:{event.quiz.id}", lid, event.grade.correct)
        step = self.lesson.steps[self.index]
        if step.is_quiz:
            cards = list(self.query(QuizCard))
            if all(c.result is not None for c in cards):
                right = sum(1 for c in cards if c.result.correct)
                wrong = len(cards) - right
                msg = f"Quiz score: {right}/{len(cards)} ({right / len(cards):.0%})."
                if wrong:
                    msg += f" Press X to retry the {wrong} wrong one(s)."
                self.notify(msg, timeout=8)
        self.update_completion()

    def action_retry_wrong(self) -> None:
        wrong = [c for c in self.query(QuizCard) if c.result is not None and not c.result.correct]
        for c in wrong:
            c.reset()
        if wrong:
            wrong[0].focus()
            wrong[0].scroll_visible()
        else:
            self.notify("No wrong answers to retry on this step.")

    def completion(self):
        store = self.app.store
        lid = self.lesson.id
        return completion(
            self.lesson,
            store.lesson_state(lid).steps_seen,
            store.latest_quiz_results(lid),
            store.exercise_results(lid),
            getattr(self.app, "quiz_threshold", 0.7),
        )

    def update_completion(self) -> None:
        comp = self.completion()
        state = self.app.store.lesson_state(self.lesson.id)
        if comp.done and state.status != "done":
            self.app.store.set_lesson_done(self.lesson.id, True)
            self.notify(f"Lesson {self.lesson.id} complete!", timeout=6)
        elif not comp.done and state.status == "done":
            pass  # once done, stays done; a later wrong retry does not undo it

    def _account_time(self) -> None:
        if self._shown_at is None:
            return
        spent = min(time.monotonic() - self._shown_at, MAX_STEP_SECONDS)
        step = self.lesson.steps[self.index]
        self.app.store.add_step_time(self.lesson.id, step.id, spent)
        self._shown_at = None

    def on_screen_suspend(self) -> None:
        self._account_time()

    def on_screen_resume(self) -> None:
        if self._shown_at is None:
            self._shown_at = time.monotonic()

    def on_unmount(self) -> None:
        self._account_time()

    # ------------------------------------------------------------------ actions
    def action_next_step(self) -> None:
        if self.index + 1 < len(self.lesson.steps):
            self.show_step(self.index + 1)
            self._fill_toc()
        else:
            self._finish()

    def _finish(self) -> None:
        comp = self.completion()
        if comp.done:
            self.update_completion()
            self.notify(f"Lesson {self.lesson.id} is done. Escape goes home; c there continues the path.")
        else:
            self.notify("End of lesson. To complete it: " + "; ".join(comp.missing), severity="warning", timeout=8)

    def action_prev_step(self) -> None:
        if self.index > 0:
            self.show_step(self.index - 1)

    def action_toggle_toc(self) -> None:
        toc = self.query_one("#toc", OptionList)
        toc.display = not toc.display
        if toc.display:
            toc.focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_scroll_down(self) -> None:
        self.query_one("#step-scroll", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#step-scroll", VerticalScroll).scroll_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "toc" and event.option.id:
            self.show_step(int(event.option.id.split("-")[1]))
            if self.app.size.width < 100:
                event.option_list.display = False
