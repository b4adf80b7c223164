"""Running a lesson's cells from the reader: one kernel per open lesson, outputs kept per cell, every run
recorded. The reader screen owns one :class:`LessonCells`; widgets only post messages."""
from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

from tutor.course.model import Cell, Lesson

if TYPE_CHECKING:  # pragma: no cover
    from tutor.kernel import KernelPool, OutputBuffer


@dataclass
class CellRecord:
    """What a cell shows, kept while the lesson is open (widgets come and go with the steps)."""

    buffer: "OutputBuffer"
    state: str = "idle"
    execution_count: int | None = None
    elapsed: float | None = None
    message: str = ""
    solved: bool | None = None
    attempts: int = 0
    extra: dict = field(default_factory=dict)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


class KernelStateChanged(Message):
    """Posted to the screen that owns a :class:`LessonCells` when its kernel's state changes (thread-safe: posted
    from the kernel thread). It reaches the reader even while a modal or the help screen covers it."""

    def __init__(self, lesson_id: str, state: str, kernel) -> None:
        super().__init__()
        self.lesson_id = lesson_id
        self.state = state
        self.kernel = kernel


class LessonCells:
    """Runs cells of one lesson in its kernel and reports back through ``on_update(cell_id)``.

    Built by the reader when it is mounted, with everything it uses handed in: ``kernels`` (the app's pool, created
    on first use), the progress ``store``, the configured ``output_limits`` (kernel.max_lines/max_bytes),
    ``keep_alive`` (how long a left lesson's kernel lingers), ``detaching`` (True while the app exits and detaches
    its kernels), ``owner`` (the widget that receives :class:`KernelStateChanged`) and ``notify``."""

    def __init__(self, lesson: Lesson, *, kernels: Callable[[], "KernelPool"], store, output_limits: dict,
                 keep_alive: Callable[[], float], detaching: Callable[[], bool], owner,
                 notify: Callable[[str], None], on_update: Callable[[str], None]) -> None:
        from tutor.kernel import OutputBuffer

        self.lesson = lesson
        self.on_update = on_update
        self.records: dict[str, CellRecord] = {}
        limits = dict(output_limits or {})
        self.output_limits = limits
        self._make_buffer = lambda: OutputBuffer(**limits)
        self._kernels = kernels
        self.store = store
        self._keep_alive = keep_alive
        self._detaching = detaching
        self._owner = owner
        self._notify = notify
        self.pool: "KernelPool | None" = None
        self._kernel = None
        self.setup = [c for c in lesson.cells if c.is_setup]

    def start(self):
        """Start (or adopt a warm spare) kernel for the lesson in the background; idempotent."""
        if self._kernel is None or self._kernel.state == "dead" and self.pool.kernel(self.lesson.id) is None:
            self.pool = self._kernels()
            self._kernel = self.pool.start(self.lesson.id)
            self._kernel.add_state_listener(self._kernel_state)
            if getattr(self._kernel, "reattached", False):
                self._notify(f"Reattached to lesson {self.lesson.id}'s kernel: your variables are still there.")
        return self._kernel

    @property
    def kernel(self):
        return self.start()

    def record(self, cell_id: str) -> CellRecord:
        if cell_id not in self.records:
            self.records[cell_id] = CellRecord(self._make_buffer())
        return self.records[cell_id]

    # ------------------------------------------------------------------ kernel state
    def _kernel_state(self, kernel, state: str) -> None:  # on the kernel thread
        self._owner.post_message(KernelStateChanged(self.lesson.id, state, kernel))

    # ------------------------------------------------------------------ running
    async def run(self, cell: Cell, code: str) -> str:
        """Run one cell (an exercise runs with its hidden check); returns the final status."""
        store = self.store
        rec = self.record(cell.id)
        rec.buffer.clear()
        rec.state, rec.message, rec.elapsed = "running", "", None
        self.on_update(cell.id)
        t0 = time.monotonic()
        if cell.is_exercise:
            from tutor.kernel import arun_exercise

            check, _sol = self.lesson.exercise_parts(cell.id)
            grade = await arun_exercise(self.kernel, code, check.code if check else "", timeout=cell.timeout,
                                        on_event=rec.buffer.add, setup=self.setup)
            status = {"passed": "ok", "failed": "error"}.get(grade.status, grade.status)
            rec.attempts += 1
            rec.solved = grade.passed
            rec.message = ("Passed: " if grade.passed else ("Not yet: " if grade.status == "failed" else "")) + grade.message
            res = grade.learner or grade.check
            rec.execution_count = res.execution_count if res else None
            rec.elapsed = time.monotonic() - t0
            rec.state = "passed" if grade.passed else ("failed" if grade.status == "failed" else status)
            store.record_exercise_result(self.lesson.id, cell.id, grade.passed, grade.message)
            store.record_cell_run(self.lesson.id, cell.id, code_hash(code), rec.state, rec.elapsed)
        else:
            r = await self.kernel.aexecute(code, timeout=cell.timeout, on_event=rec.buffer.add, setup=self.setup)
            rec.state = r.status
            rec.execution_count = r.execution_count
            rec.elapsed = r.duration
            rec.message = r.message or ""
            store.record_cell_run(self.lesson.id, cell.id, code_hash(code), r.status, r.duration)
        self.on_update(cell.id)
        return rec.state

    async def run_many(self, cells: list[tuple[Cell, str]],
                       on_progress: Callable[[int, int, Cell], None] | None = None) -> dict[str, str]:
        """Run ``cells`` in order, stopping at the first error -> {cell id: final state} of those that ran.
        ``on_progress(i, n, cell)`` is called before cell i (1-based) of n runs."""
        for cell, _ in cells:
            rec = self.record(cell.id)
            rec.state = "queued"
            self.on_update(cell.id)
        done: dict[str, str] = {}
        for i, (cell, code) in enumerate(cells):
            if on_progress is not None:
                on_progress(i + 1, len(cells), cell)
            status = done[cell.id] = await self.run(cell, code)
            if status not in ("ok", "passed", "failed"):
                for rest, _ in cells[i + 1 :]:
                    self.record(rest.id).state = "idle"
                    self.on_update(rest.id)
                break
        return done

    def interrupt(self) -> None:
        self.kernel.interrupt()

    async def restart(self) -> None:
        await asyncio.wrap_future(self.kernel.restart())
        for cid, rec in self.records.items():
            if rec.state in ("running", "queued"):
                rec.state = "interrupted"
            self.on_update(cid)

    def reopen(self) -> None:
        """The lesson is shown again: cancel the delayed shutdown :meth:`close` scheduled (the same kernel and
        variables while it still runs; a fresh kernel if it was already stopped)."""
        if self.pool is None or self._kernel is None:
            return
        k = self.pool.start(self.lesson.id)
        if k is not self._kernel:
            self._notify(f"Lesson {self.lesson.id}'s kernel was stopped while you were away (kernel.keep_alive "
                         f"{self._keep_alive():g} s): a fresh one starts, and its variables are cleared.")
            self._kernel = k
            k.add_state_listener(self._kernel_state)

    def close(self) -> None:
        if self.pool is not None:
            if self._detaching():
                return  # the app is exiting: TutorApp.on_unmount detaches the kernel for the next fm-tutor
            self.pool.shutdown(self.lesson.id, delay=self._keep_alive())


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "yes", "Yes", id="confirm.yes"), Binding("n,escape", "no", "No", id="confirm.no")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 60; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmScreen Horizontal { height: auto; margin: 1 0 0 0; }
    ConfirmScreen Button { margin: 0 2 0 0; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class FullOutputScreen(ModalScreen[None]):
    """The whole output of a cell, searchable and scrollable (read-only)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="output.close")]
    DEFAULT_CSS = """
    FullOutputScreen { align: center middle; }
    FullOutputScreen > Vertical { width: 95%; height: 90%; border: thick $accent; background: $surface; }
    FullOutputScreen TextArea { height: 1fr; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"{self.title_text}  ({self.text.count(chr(10)) + 1} lines; esc closes)", style="bold"))
            yield TextArea(self.text, read_only=True, show_line_numbers=True, soft_wrap=False, id="full-output")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()


class SolutionScreen(ModalScreen[bool]):
    """The reference solution of an exercise; l loads it into the cell."""

    BINDINGS = [
        Binding("l", "load", "Load into the cell", id="solution.load"),
        Binding("escape,q", "close", "Close", id="solution.close"),
    ]
    DEFAULT_CSS = """
    SolutionScreen { align: center middle; }
    SolutionScreen > Vertical { width: 95%; max-width: 110; height: 80%; border: thick $success; background: $surface; }
    SolutionScreen TextArea { height: 1fr; }
    """

    def __init__(self, cell_id: str, code: str) -> None:
        super().__init__()
        self.cell_id = cell_id
        self.code = code

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Solution of {self.cell_id}  (l: load it into the cell · esc: close)", style="bold"))
            yield TextArea(self.code, language="python", read_only=True, id="solution-code")

    def action_load(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
