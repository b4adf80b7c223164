"""The lesson reader: one step at a time, a table of steps, position and time per step saved."""
from __future__ import annotations

import gc
import logging
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tutor.core.glyphs import g
from tutor.course.model import Cell, Lesson, Quiz
from tutor.ui.screens.paint import PaintOnceScreen
from tutor.widgets.code_cell import CodeCell
from tutor.widgets.key_bar import KeyBar
from tutor.widgets.quiz_card import QuizCard
from tutor.widgets.step_view import StepView

log = logging.getLogger(__name__)

# the table of steps (30 columns) is open by default from this terminal width on, where the text beside it still
# holds the course's diagrams (up to ~110 columns) whole; below it, t opens it (and a chosen step closes it again),
# so at 120 columns every diagram fits, and at 80 the text keeps the whole width
TOC_MIN_WIDTH = 140


def run_summary(done: dict[str, str], runnable: int, gpu_skipped: int, seconds: float) -> str:
    """The line A ends with: 'Run all done: 7 of 7 cells ran (5 ok; exercises: 1 passed, 1 failed), 1 skipped
    (GPU), 12 s.'"""
    ok = sum(1 for s in done.values() if s == "ok")
    passed = sum(1 for s in done.values() if s == "passed")
    failed = sum(1 for s in done.values() if s == "failed")
    bad = [(cid, s) for cid, s in done.items() if s not in ("ok", "passed", "failed")]
    not_run = runnable - len(done)
    what = f"{ok} ok" + (f"; exercises: {passed} passed, {failed} failed" if passed or failed else "")
    parts = [f"{len(done)} of {runnable} cells ran ({what})"]
    skipped = []
    if gpu_skipped:
        skipped.append(f"{gpu_skipped} skipped (GPU)")
    if not_run:
        skipped.append(f"{not_run} not run")
    head = "Run all stopped" if bad else "Run all done"
    line = f"{head}: " + ", ".join(parts + skipped) + f", {seconds:.0f} s."
    if bad:
        line += f" Stopped at {bad[0][0]} ({bad[0][1]})."
    return line


class ReaderScreen(PaintOnceScreen):  # painted once each time a lesson opens (tutor.ui.screens.paint)
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
        Binding("a", "run_step", "Run step", id="reader.run-step"),
        Binding("A", "run_lesson", "Run all", show=False, id="reader.run-lesson"),
        Binding("ctrl+k", "restart_kernel", "Restart kernel", show=False, id="reader.restart-kernel"),
        Binding("tab", "app.focus_next", "Next item (cell, question, wide diagram)", show=False,
                id="reader.focus-next"),
        Binding("b", "bookmark", "Bookmark", show=False, id="reader.bookmark"),
        Binding("w", "note", "Note", show=False, id="reader.note"),
        Binding("K", "ask", "Ask", show=False, id="reader.ask"),
    ]

    def __init__(self, lesson: Lesson | None = None, step_id: str | None = None) -> None:
        """With a lesson: shows it when mounted. Without: an empty reader that :meth:`load` fills later (the app
        keeps one reader, composed while the learner is on the home screen, and reuses it for every lesson)."""
        super().__init__()
        self.lesson: Lesson | None = None
        self.index = 0
        self.cells = None
        self._shown_at: float | None = None
        self._kernel_pending = False
        self._left = False  # popped off the screen stack (its cells closed) since the lesson was loaded
        self._paint_pending: StepView | None = None
        self._view: StepView | None = None
        # the next step, composed hidden under the visible one while the learner reads (at most one), and the
        # step views swapped out by `n`, removed once the new step is painted
        self._next: StepView | None = None
        self._next_key: tuple = ()  # (lesson, step index, gpu_available) the next view was built for
        self._next_ready = False  # composed and its text rendered
        self._widths: tuple = (None, {})  # (app size, {block type: content width}) of the steps shown so far
        self._retired: list[Widget] = []
        self._toc_lesson: Lesson | None = None  # the lesson the table of steps holds, and its options' texts
        self._toc_plain: list[str] = []
        self.paints = 0  # lessons/steps painted so far (`fm-tutor bench reader` waits on it)
        self._reveal: tuple[str, ...] = ()  # words of a search to scroll into view once the step is in
        self.revealed: Widget | None = None  # the block last scrolled into view for a search
        self._progress = ""  # "running cell i of n" while A runs the whole lesson
        self._wide: bool | None = None  # the terminal was at least TOC_MIN_WIDTH wide (at the last resize)
        if lesson is not None:
            self._set_lesson(lesson, step_id)

    def _set_lesson(self, lesson: Lesson, step_id: str | None) -> None:
        self.lesson = lesson
        self.index = lesson.step_index(step_id)
        # outputs and states of cells, kept while the lesson is open; built with its dependencies once the reader
        # is attached to the app (compose, or load() on a mounted reader); the kernel starts after the first paint
        self.cells = self._make_cells(lesson) if self.is_attached else None

    def _make_cells(self, lesson: Lesson):
        from tutor.ui.screens.cells import LessonCells

        app = self.app
        return LessonCells(lesson, kernels=app.kernel_pool, store=app.store, output_limits=app.output_limits,
                           keep_alive=lambda: app.kernel_keep_alive, detaching=app.detaching_on_exit, owner=self,
                           notify=app.notify, on_update=self._cell_updated)

    # ------------------------------------------------------------------ compose
    def compose(self) -> ComposeResult:
        if self.lesson is not None and self.cells is None:
            self.cells = self._make_cells(self.lesson)
        # Everything of the first page is composed here, so the first layout pass already holds the step.
        yield Static(self._top_text() if self.lesson else "", id="topbar", classes="topbar")
        with Horizontal(id="reader-body"):
            # filled right after the first paint, and invisible until then (it keeps its width, so the step does
            # not reflow when it appears; an invisible widget is not rendered)
            toc = OptionList(id="toc")
            toc.visible = False
            toc.display = self._wide = self.app.size.width >= TOC_MIN_WIDTH
            yield toc
            with VerticalScroll(id="step-scroll"):
                if self.lesson is not None:
                    yield self._step_view(self.index)
        yield KeyBar()

    def on_mount(self) -> None:
        if self.lesson is not None:
            self._opened()

    def _opened(self) -> None:
        """The lesson's first page is in the DOM (its step view reports ready; _painted follows the paint): start its kernel
        after the paint, record the visit."""
        self._kernel_pending = any(not c.is_hidden and not c.is_gpu for c in self.lesson.cells)
        self.app.store.open_lesson(self.lesson.id)
        self._step_shown(self.index)
        self.query_one("#step-scroll", VerticalScroll).focus()

    def load(self, lesson: Lesson, step_id: str | None = None):
        """Show ``lesson`` at ``step_id`` in this (mounted) reader. The same lesson keeps its kernel and outputs;
        another one closes the previous lesson's cells (its kernel lingers for kernel.keep_alive).
        -> an awaitable that completes when the new step is mounted (None if the step view was kept)."""
        if self.lesson is not None and lesson.id == self.lesson.id and lesson is self.lesson:
            if self._left:  # back to the lesson that was left: keep its kernel (if keep_alive has not run out)
                self._left = False
                self.cells.reopen()
            index = lesson.step_index(step_id) if step_id is not None else self.index
            if index != self.index:
                self.show_step(index)
            self._fill_toc()
            return
        self._account_time()
        if self.cells is not None and not self._left:
            self.cells.close()
        self._left = False
        self.workers.cancel_group(self, "cells")
        self._set_lesson(lesson, step_id)
        self.query_one("#topbar", Static).update(self._top_text())
        toc = self.query_one("#toc", OptionList)
        toc.clear_options()
        toc.visible = False
        scroll = self.query_one("#step-scroll", VerticalScroll)
        scroll.remove_children()
        self._view = self._next = None  # until the new step reports ready
        self._retired = []
        mounted = scroll.mount(self._step_view(self.index))
        scroll.scroll_home(animate=False)
        self._opened()
        return mounted

    def warm_up(self, lessons) -> None:
        """Mount (then remove) one of each kind of step widget while this reader is off screen, so their CSS is
        parsed and applied now rather than when the first lesson opens (called once, by the app's prebuild)."""
        cell = quiz = None
        for lesson in lessons:
            cell = cell or next((c for c in lesson.cells if not c.is_hidden), None)
            quiz = quiz or next(iter(lesson.quizzes), None)
            if cell is not None and quiz is not None:
                break
        widgets: list[Widget] = [StepView.warm_up_widget()]
        if cell is not None:
            widgets.append(CodeCell(cell, gpu_available=False))
        if quiz is not None:
            widgets.append(QuizCard(quiz))
        scroll = self.query_one("#step-scroll", VerticalScroll)

        async def mount_and_remove() -> None:
            await scroll.mount_all(widgets)
            for w in widgets:
                await w.remove()

        self.run_worker(mount_and_remove(), group="warm-up", exit_on_error=False)

    def _step_ready(self, view: StepView) -> None:
        """A step view's first screenful is composed: paint it (now, or when this screen is shown)."""
        self._view = view
        if self.is_current:
            self.call_after_refresh(self._painted, view)
        else:  # composed off screen (the app shows the reader once the step is in): paint on resume
            self._paint_pending = view

    def _painted(self, view: StepView | None = None) -> None:
        self.first_paint_at = time.perf_counter()  # read by `fm-tutor bench reader`
        gc.enable()  # the app disables it while a lesson opens
        self.paints += 1
        if view is not None and view is self._view and view.is_attached:
            view.mount_rest()
        if self._reveal:
            self.call_after_refresh(self._do_reveal)
        if self.paints == 1:  # the key bar was filled in the layout pass that _refresh_layout counts as painted
            self.query_one(KeyBar).refresh()
        self._fill_toc()
        if self._kernel_pending:
            self._kernel_pending = False
            self.call_after_refresh(self._start_kernel)
        self.call_after_refresh(self._prepare_next)

    # The next step is composed while the learner reads this one: hidden under it, its text rendered at the width
    # it will have, so `n` only swaps it in (one layout and one paint) instead of building it.
    def _prepare_next(self) -> None:
        """Remove the step views swapped out, then compose the next step hidden (if there is one)."""
        retired, self._retired = self._retired, []
        for w in retired:
            if w.is_attached:
                w.remove()
        if self.lesson is None or self._next is not None or not self.is_current or self._view is None:
            return
        if self.index + 1 >= len(self.lesson.steps):
            return
        view = self._step_view(self.index + 1, prepared=True)
        view.display = False
        self._next, self._next_key, self._next_ready = view, (self.lesson, self.index + 1, self.app.gpu_available), False
        self.query_one("#step-scroll", VerticalScroll).mount(view)

    def _prepared_ready(self, view: StepView) -> None:
        """The hidden next step is composed: render its text now, at the widths of the step on screen."""
        if view is self._next and self._view is not None and self._view.is_attached:
            size, widths = self._widths
            if size != self.app.size:  # resized: the widths of earlier steps no longer hold
                widths = {}
            widths.update(self._view.block_widths())
            self._widths = (self.app.size, widths)
            view.prerender(widths)
            self._next_ready = True

    def next_prepared(self) -> bool:
        """True when the next step is composed and rendered, hidden, ready to be swapped in (`fm-tutor bench
        reader` waits for it, as a learner reading the step would)."""
        return self._next is not None and self._next_ready

    def _take_prepared(self, index: int) -> StepView | None:
        """The prepared view if it is ready and is step ``index`` of this lesson, built for the same GPU setting;
        else None (the caller then removes every step view, this one with them)."""
        view, self._next = self._next, None
        if view is None or not self._next_ready or not view.is_attached:
            return None
        lesson, prepared_index, gpu = self._next_key
        return view if lesson is self.lesson and prepared_index == index and gpu == self.app.gpu_available else None

    def _toc_options(self) -> list[Option]:
        seen = self.app.store.lesson_state(self.lesson.id).steps_seen
        return [
            Option(Text(f"{g('check') if s.id in seen else ' '}{self.lesson.step_mark(i):>2} "
                        f"{s.plain_title if self.lesson.numbered else s.title}", no_wrap=True, overflow="ellipsis"),
                   id=f"step-{i}")
            for i, s in enumerate(self.lesson.steps)
        ]

    def _fill_toc(self) -> None:
        """The table of steps, its highlight on the step shown. Filled anew for another lesson; for the same one
        only the options whose text changed (a step newly seen gets its check) are replaced and the highlight
        moves (refilling it after every step re-measured and re-rendered the whole table)."""
        toc = self.query_one("#toc", OptionList)
        options = self._toc_options()
        if self._toc_lesson is self.lesson and toc.option_count == len(options) == len(self._toc_plain):
            for i, (shown, option) in enumerate(zip(self._toc_plain, options)):
                if shown != option.prompt.plain:
                    toc.replace_option_prompt_at_index(i, option.prompt)
        else:
            toc.clear_options()
            toc.add_options(options)
        self._toc_lesson, self._toc_plain = self.lesson, [o.prompt.plain for o in options]
        toc.highlighted = self.index
        toc.visible = True

    def _top_text(self) -> Text:
        top = Text()
        top.append(f" {self.lesson.id} {self.lesson.title} ", style="bold reverse")
        top.append(f"  {self.lesson.step_line(self.index)}")
        if self._progress:
            top.append(f"  {self._progress}", style="bold yellow")
        return top

    def _step_view(self, index: int, prepared: bool = False) -> StepView:
        step = self.lesson.steps[index]
        return StepView(step, index + 1, len(self.lesson.steps), self.make_cell_widget, self.make_quiz_widget,
                        label=self.lesson.step_label(index),
                        on_ready=self._prepared_ready if prepared else self._step_ready, classes="step-view")

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
        gc.disable()  # no collection pause before the step's paint (_painted turns it back on; in 2 s at the latest)
        self.set_timer(2.0, gc.enable)
        scroll = self.query_one("#step-scroll", VerticalScroll)
        view = self._take_prepared(index)
        if view is not None:  # composed while the previous step was read: swap it in, remove the old after the paint
            self._retired += [w for w in scroll.children if w is not view]
            for w in self._retired:
                w.display = False
            view.display = True
            self._view = view
        else:
            scroll.remove_children()
            self._retired = []
            self._view = None  # until the new step reports ready
            scroll.mount(self._step_view(index))
        scroll.scroll_home(animate=False)
        self._step_shown(index)
        topbar = self.query_one("#topbar", Static)
        topbar.update(self._top_text())
        # the table of steps follows right after the step's paint (_painted refills it with the highlight on this
        # step): moving its highlight now would repaint the whole table in the same frame as the step
        scroll.focus()
        if view is not None:
            # laid out and painted now, with the top bar, not after the widgets' Layout messages and the screen's
            # update timer (else as when a step is composed: painted on the next refresh)
            if self.layout_now(topbar):
                self._painted(view)
            else:
                self._step_ready(view)

    # ------------------------------------------------------------------ cells
    def _start_kernel(self) -> bool:
        try:
            self.cells.start()
            return True
        except Exception as e:  # a broken Jupyter install must not take the reader down
            log.debug("_start_kernel: a broken Jupyter install must not take the reader down", exc_info=True)
            self.notify(f"Cannot start a kernel for this lesson: {e}", severity="error", timeout=10)
            return False

    def make_cell_widget(self, cell: Cell) -> Widget:
        code = self.app.store.cell_edit(self.lesson.id, cell.id)
        rec = self.cells.record(cell.id)
        w = CodeCell(cell, code, lesson_code=cell.code, gpu_available=self.app.gpu_available,
                     buffer=rec.buffer, missing=cell.missing_modules(), id=f"cell-{cell.id}")
        if cell.is_exercise:
            w.solved = bool(self.app.store.exercise_results(self.lesson.id).get(cell.id))
        if rec.state != "idle":
            self.call_after_refresh(self._cell_updated, cell.id)
        return w

    def _cell_widget(self, cell_id: str) -> CodeCell | None:
        try:
            return self.query_one(f"#cell-{cell_id}", CodeCell)
        except Exception:
            log.debug("_cell_widget: caught and carried on", exc_info=True)
            return None

    def _cell_updated(self, cell_id: str) -> None:
        w = self._cell_widget(cell_id)
        if w is None:
            return
        rec = self.cells.record(cell_id)
        if rec.solved:
            w.solved = True
        w.set_state(rec.state, execution_count=rec.execution_count, elapsed=rec.elapsed, message=rec.message)

    def on_kernel_state_changed(self, event) -> None:
        """A kernel of this reader changed state (a message: it arrives under a modal or the help screen too)."""
        lesson_id, state, kernel = event.lesson_id, event.state, event.kernel
        if self.lesson is None or lesson_id != self.lesson.id:
            return
        if state == "dead" and getattr(kernel, "stopping", False):  # a planned stop (left lesson, restart, exit)
            if self._left or not self.is_current:
                return  # the learner left the lesson: it stopped as planned (kernel.keep_alive ran out)
            self.notify(f"The kernel of lesson {lesson_id} stopped; its variables are cleared. Setup cells run "
                        "again before the next cell.", timeout=6)
        elif state == "dead" and getattr(kernel, "start_error", None):  # e.g. a kernel host that cannot be reached
            self.notify(f"The lesson's kernel could not start: {kernel.start_error}. Press R on a cell (or ctrl+k) "
                        "to try again.", severity="error", timeout=20)
        elif state == "dead":
            why = getattr(kernel, "exit_code", None)
            self.notify(f"The lesson's kernel died{f' (exit code {why})' if why is not None else ''}. "
                        "Press R on a cell (or ctrl+k) to restart it; your code and outputs are kept.",
                        severity="error", timeout=12)

    def _run(self, pairs) -> None:
        if self._start_kernel():
            self.run_worker(self.cells.run_many(pairs), group="cells", exclusive=False, exit_on_error=False)

    def on_code_cell_run_requested(self, event: CodeCell.RunRequested) -> None:
        event.stop()
        if self.cells.record(event.cell_id).state in ("running", "queued"):
            self.notify("That cell is already running (i interrupts it).")
            return
        self._run([(event.control.cell, event.code)])

    def on_code_cell_edited(self, event: CodeCell.Edited) -> None:
        event.stop()
        self.app.store.save_cell_edit(self.lesson.id, event.cell_id, event.code)

    def on_code_cell_reset_requested(self, event: CodeCell.ResetRequested) -> None:
        event.stop()
        self.app.store.clear_cell_edit(self.lesson.id, event.cell_id)
        self.notify(f"Cell {event.cell_id} is back to the lesson's code.")

    def on_code_cell_interrupt_requested(self, event: CodeCell.InterruptRequested) -> None:
        event.stop()
        if self.cells.pool is not None:
            self.cells.interrupt()

    def on_code_cell_restart_requested(self, event: CodeCell.RestartRequested) -> None:
        event.stop()
        self.action_restart_kernel()

    def action_restart_kernel(self) -> None:
        from tutor.ui.screens.cells import ConfirmScreen

        def done(yes: bool | None) -> None:
            if yes and self._start_kernel():
                self.run_worker(self.cells.restart(), group="cells", exit_on_error=False)
                self.notify("Restarting the kernel: variables are cleared, setup cells run again before the next cell.")

        self.app.push_screen(ConfirmScreen("Restart this lesson's kernel? Every variable is lost."), done)

    def on_code_cell_show_full_output(self, event: CodeCell.ShowFullOutput) -> None:
        event.stop()
        from tutor.ui.screens.cells import FullOutputScreen

        self.app.push_screen(FullOutputScreen(f"Output of {event.cell_id}", event.control.output.full_text()))

    def on_code_cell_solution_requested(self, event: CodeCell.SolutionRequested) -> None:
        event.stop()
        from tutor.ui.screens.cells import ConfirmScreen, SolutionScreen

        cell = event.control.cell
        _check, sol = self.lesson.exercise_parts(cell.id)
        if sol is None:
            self.notify("This exercise has no reference solution.")
            return
        widget = event.control

        def show(ok: bool | None = True) -> None:
            if not ok:
                return

            def load(use: bool | None) -> None:
                if use:
                    widget.set_code(sol.code)
                    self.app.store.save_cell_edit(self.lesson.id, cell.id, sol.code)
                    self.notify("The solution is in the cell; ctrl+r gives you the starter code back.")

            self.app.push_screen(SolutionScreen(cell.id, sol.code), load)

        tried = self.cells.record(cell.id).attempts > 0 or any(
            r["cell_id"] == cell.id for r in self.app.store.cell_runs(self.lesson.id)
        )
        if tried:
            show()
        else:
            self.app.push_screen(ConfirmScreen("You have not tried this exercise yet. Show the solution anyway?"), show)

    def _runnable(self, cells) -> list:
        out = []
        for c in cells:
            if c.is_hidden or c.is_setup or (c.is_gpu and not self.app.gpu_available) or c.missing_modules():
                continue
            w = self._cell_widget(c.id)
            code = w.code if w is not None else (self.app.store.cell_edit(self.lesson.id, c.id) or c.code)
            out.append((c, code))
        return out

    def action_run_step(self) -> None:
        pairs = self._runnable(self.lesson.steps[self.index].cells)
        if not pairs:
            self.notify("No runnable cell on this step.")
            return
        self._run(pairs)

    def action_run_lesson(self) -> None:
        pairs = self._runnable(self.lesson.cells)
        if pairs and self._start_kernel():
            self.run_worker(self._run_lesson(pairs), group="cells", exclusive=False, exit_on_error=False)

    async def _run_lesson(self, pairs) -> None:
        """Run every cell of the lesson with a progress line (cell i of n, elapsed) in the top bar and a summary
        at the end: passed, failed, skipped."""
        lesson, t0 = self.lesson, time.monotonic()
        gpu_skipped = sum(1 for c in lesson.cells if c.is_gpu and not c.is_hidden and not self.app.gpu_available)
        self.notify(f"Running {len(pairs)} cells in order; it stops at the first error.")

        now = [""]  # the cell running: the elapsed seconds tick on while it runs (a long cell too)

        def progress(i: int = 0, n: int = 0, cell: Cell | None = None) -> None:
            now[0] = f"running cell {i} of {n} ({cell.id})" if cell is not None else now[0]
            if self.lesson is lesson and now[0]:
                self._progress = f"{now[0]} · {time.monotonic() - t0:.0f} s"
                self.query_one("#topbar", Static).update(self._top_text())

        ticker = self.set_interval(1.0, progress)
        try:
            done = await self.cells.run_many(pairs, on_progress=progress)
        finally:
            ticker.stop()
            self._progress = ""
            if self.lesson is lesson:
                self.query_one("#topbar", Static).update(self._top_text())
        summary = run_summary(done, len(pairs), gpu_skipped, time.monotonic() - t0)
        self.notify(summary, severity="information" if summary.startswith("Run all done") else "warning",
                    timeout=15)

    def make_quiz_widget(self, quiz: Quiz) -> Widget:
        latest = self.app.store.latest_quiz_results(self.lesson.id)
        return QuizCard(quiz, previous=latest.get(quiz.id))

    # ------------------------------------------------------------------ quizzes
    def on_quiz_card_answered(self, event: QuizCard.Answered) -> None:
        recorded = self.app.session.record_answer(self.lesson, event.quiz.id, event.grade.answer, event.grade.correct,
                                                  event.seconds)
        step = self.lesson.steps[self.index]
        cards = list(self._view.query(QuizCard)) if self._view is not None else []  # not the hidden next step's
        if step.is_quiz and cards:
            if all(c.result is not None for c in cards):
                right = sum(1 for c in cards if c.result.correct)
                wrong = len(cards) - right
                msg = f"Quiz score: {right}/{len(cards)} ({right / len(cards):.0%})."
                if wrong:
                    msg += f" Press X to retry the {wrong} wrong one(s)."
                self.notify(msg, timeout=8)
        if recorded.lesson_done_now:
            self.notify(f"Lesson {self.lesson.id} complete!", timeout=6)

    def action_retry_wrong(self) -> None:
        cards = self._view.query(QuizCard) if self._view is not None else []  # not the hidden next step's
        wrong = [c for c in cards if c.result is not None and not c.result.correct]
        for c in wrong:
            c.reset()
        if wrong:
            wrong[0].focus()
            wrong[0].scroll_visible()
        else:
            self.notify("No wrong answers to retry on this step.")

    def completion(self):
        return self.app.session.completion(self.lesson)

    def update_completion(self) -> None:
        if self.app.session.update_done(self.lesson):
            self.notify(f"Lesson {self.lesson.id} complete!", timeout=6)

    def _account_time(self) -> None:
        if self._shown_at is None:
            return
        step = self.lesson.steps[self.index]
        self.app.session.record_step_time(self.lesson.id, step.id, time.monotonic() - self._shown_at)
        self._shown_at = None

    def on_screen_suspend(self) -> None:
        self._account_time()
        if self not in self.app.screen_stack and self.cells is not None and not self._left:
            # popped (the learner left the lesson), not covered by a help screen or a dialog: its kernel stops
            # after kernel.keep_alive unless the lesson is opened again before then
            self._left = True
            self.cells.close()

    def on_screen_resume(self) -> None:
        if self._shown_at is None and self.lesson is not None:
            self._shown_at = time.monotonic()
        if self._paint_pending is not None:
            view, self._paint_pending = self._paint_pending, None
            self.call_after_refresh(self._painted, view)

    def on_unmount(self) -> None:
        self._account_time()
        if self.cells is not None and not self._left:
            self.cells.close()

    # ------------------------------------------------------------------ search, bookmarks, notes, ask
    def reveal(self, terms) -> None:
        """Scroll the first block of the step that holds one of ``terms`` into view (now, or once it is painted)."""
        self._reveal = tuple(terms or ())
        self.revealed = None
        if self._reveal and self._view is not None and self._view.is_attached and self._view.complete:
            self.call_after_refresh(self._do_reveal)

    def _do_reveal(self, tries: int = 0) -> None:
        view = self._view
        if not self._reveal or view is None or not view.is_attached:
            return
        target = view.widget_matching(self._reveal)
        if target is None and tries < 20 and len(view.children) < view.block_widget_count():
            self.call_after_refresh(self._do_reveal, tries + 1)  # the rest of the step is still being mounted
            return
        self._reveal = ()
        if target is not None:
            self.revealed = target
            self.query_one("#step-scroll", VerticalScroll).scroll_to_widget(target, animate=False, top=True)

    def _step_id(self) -> str:
        return self.lesson.steps[self.index].id

    def action_bookmark(self) -> None:
        if self.lesson is None:
            return
        sid = self._step_id()
        on = not self.app.store.is_bookmarked(self.lesson.id, sid)
        self.app.store.set_bookmark(self.lesson.id, sid, on)
        self.notify(("Bookmarked: " if on else "Bookmark removed: ") + self.lesson.steps[self.index].title)

    def action_note(self) -> None:
        if self.lesson is None:
            return
        from tutor.ui.screens.search import NoteEditor

        lid, sid = self.lesson.id, self._step_id()
        title = self.lesson.steps[self.index].title

        def saved(text: str | None) -> None:
            if text is None:
                return
            old = self.app.store.note(lid, sid) or ""
            if text == old:
                return
            self.app.store.save_note(lid, sid, text)
            self.notify("Note saved." if text.strip() else "Note deleted.")

        self.app.push_screen(NoteEditor(f"{lid} › {title}", self.app.store.note(lid, sid) or ""), saved)

    def action_ask(self) -> None:
        if self.lesson is None:
            return
        from tutor.ui.screens.ask import AskScreen

        self.app.push_screen(AskScreen(self.lesson.id, self._step_id(), self.lesson.steps[self.index].title))

    # ------------------------------------------------------------------ actions
    def action_next_step(self) -> None:
        if self.index + 1 < len(self.lesson.steps):
            self.show_step(self.index + 1)
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
            if self.app.size.width < TOC_MIN_WIDTH:
                event.option_list.display = False

    def on_resize(self, event) -> None:
        """Crossing TOC_MIN_WIDTH opens or closes the table of steps (t still toggles it at any width)."""
        wide = event.size.width >= TOC_MIN_WIDTH
        if self._wide is not None and wide != self._wide:
            self.query_one("#toc", OptionList).display = wide
        self._wide = wide
