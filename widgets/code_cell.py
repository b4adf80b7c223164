"""CodeCell: one lesson code cell — header (id, flags, state), the code, and its live output.

It renders and posts messages; the screen does the work (kernel, saving). Messages:
``RunRequested(cell_id, code)``, ``Edited(cell_id, code)`` (debounced ~300 ms, on every change while
editing), ``ResetRequested(cell_id)``, ``InterruptRequested(cell_id)``, ``RestartRequested(cell_id)`` (the
screen asks for confirmation), ``ShowFullOutput(cell_id)``. The screen calls :meth:`set_state`,
:meth:`set_code` and feeds :attr:`output` (an OutputBuffer) from the kernel thread.

Keys (``BINDINGS`` with ids ``cell.*`` so they can be remapped): r / ctrl+enter run, e edit, escape stop
editing, ctrl+r reset to the lesson's code, i interrupt, R restart kernel, o view the whole output, right/left
scroll the code and text output sideways where a line is wider than the cell (it ends in "→").
"""
from __future__ import annotations

import time

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static, TextArea
from tutor.widgets.output_view import OutputView
from tutor.widgets.rendered import WideBlock

from tutor.course.model import Cell
from tutor.kernel.outputs import OutputBuffer

CELL_STATES = ("idle", "queued", "running", "ok", "error", "timeout", "died", "interrupted", "skipped")
EDIT_DEBOUNCE = 0.3

_STATE_STYLE = {
    "idle": "dim", "queued": "yellow", "running": "bold yellow", "ok": "green", "error": "bold red",
    "timeout": "bold red", "died": "bold red", "interrupted": "yellow", "skipped": "dim",
    "passed": "bold green", "failed": "bold red",
}
# states whose message is shown under the code (an exercise's check message for failed and passed)
_NOTICE_STATES = ("error", "timeout", "died", "interrupted", "failed", "passed")


class _CellMessage(Message):
    def __init__(self, cell: CodeCell) -> None:
        super().__init__()
        self.cell = cell
        self.cell_id = cell.cell.id

    @property
    def control(self) -> CodeCell:
        return self.cell


class _CellTextArea(TextArea):
    """TextArea that indents on tab and leaves editing on escape (instead of moving focus)."""

    async def _on_key(self, event) -> None:  # tutor.core.internals.EDITOR_ON_KEY
        if event.key == "escape" and not self.read_only:
            event.stop()
            event.prevent_default()
            cell = next((a for a in self.ancestors if isinstance(a, CodeCell)), None)
            if cell is not None:
                cell.action_stop_editing()
            return
        await super()._on_key(event)

    def on_mount(self) -> None:
        if not self.read_only and self.can_focus:  # created by "e": take the keys as soon as it is in the DOM
            self.focus()

    # "editing" shows while keys go to the editor: its focus lands a moment after "e". The header is redrawn after
    # the Focus/Blur message is handled (Textual sets has_focus in a base class's handler, which runs after this one).
    def on_focus(self) -> None:
        self.call_next(self._refresh_cell_header)

    def on_blur(self) -> None:
        self.call_next(self._refresh_cell_header)

    def _refresh_cell_header(self) -> None:
        cell = next((a for a in self.ancestors if isinstance(a, CodeCell)), None)
        if cell is not None:
            cell._refresh_header()


class _CodeView(WideBlock):
    """The cell's code, read-only and highlighted (Pygments through Rich, ANSI colours: fine in 16 colours).

    A TextArea costs tens of milliseconds to build (tree-sitter document and highlight queries); most cells are
    only read, so the editor is created the first time the learner edits the cell. A line wider than the cell
    ends in a "→" marker and the cell scrolls sideways (the cell's right/left keys).
    """

    DEFAULT_CSS = """
    _CodeView { height: auto; padding: 0 1; }
    """

    def __init__(self, code: str, **kw) -> None:
        super().__init__(self._syntax(code), **kw)

    @staticmethod
    def _syntax(code: str) -> Text:
        """The highlighted code, one line per line (never wrapped)."""
        syntax = Syntax(code.rstrip("\n") or " ", "python", theme="ansi_dark", background_color="default",
                        word_wrap=False)
        text = syntax.highlight(code.rstrip("\n") or " ")
        text.rstrip()
        text.no_wrap = True
        return text

    def show(self, code: str) -> None:
        self.update(self._syntax(code))


class CodeCell(Vertical, can_focus=True):
    """A code cell. ``gpu_available`` (set by the screen) decides whether a gpu cell may run."""

    BINDINGS = [
        Binding("r", "run", "Run", id="cell.run"),
        Binding("ctrl+enter", "run", "Run", id="cell.run_alt"),
        Binding("e", "edit", "Edit", id="cell.edit"),
        # only where a line is wider than the cell (it ends in "→"); otherwise right/left are the reader's
        Binding("right", "scroll_code(1)", "Scroll", id="cell.scroll-right"),
        Binding("left", "scroll_code(-1)", "Scroll back", show=False, id="cell.scroll-left"),
        Binding("escape", "stop_editing", "Stop editing", id="cell.stop_editing"),
        Binding("ctrl+r", "reset", "Reset code", id="cell.reset"),
        Binding("i", "interrupt", "Interrupt", id="cell.interrupt"),
        Binding("R", "restart", "Restart kernel", id="cell.restart"),
        Binding("o", "full_output", "Output", id="cell.full_output"),
        Binding("s", "solution", "Solution", id="cell.solution"),
    ]

    DEFAULT_CSS = """
    CodeCell { height: auto; margin: 0 0 1 0; border: round $primary 40%; padding: 0 0; }
    CodeCell:focus-within { border: round $accent; }
    CodeCell > .cell--header { height: 1; padding: 0 1; }
    CodeCell > TextArea { height: auto; max-height: 30; border: none; padding: 0 1; }
    CodeCell > TextArea.-editing { border-left: thick $accent; }
    CodeCell > TextArea.-editing > .text-area--cursor { background: $warning; color: $background; }
    CodeCell > .cell--notice { height: auto; padding: 0 1; color: $text-warning; }
    CodeCell > .cell--notice.-hidden { display: none; }
    CodeCell > .cell--notice.-failed { color: $text-error; }
    CodeCell > .cell--notice.-passed { color: $text-success; }
    """

    class RunRequested(_CellMessage):
        def __init__(self, cell: CodeCell, code: str) -> None:
            super().__init__(cell)
            self.code = code

    class Edited(_CellMessage):
        def __init__(self, cell: CodeCell, code: str) -> None:
            super().__init__(cell)
            self.code = code

    class ResetRequested(_CellMessage):
        pass

    class InterruptRequested(_CellMessage):
        pass

    class RestartRequested(_CellMessage):
        pass

    class ShowFullOutput(_CellMessage):
        pass

    class SolutionRequested(_CellMessage):
        pass

    gpu_available: reactive[bool] = reactive(True)
    editing: reactive[bool] = reactive(False)

    def __init__(self, cell: Cell, code: str | None = None, *, lesson_code: str | None = None,
                 gpu_available: bool = True, buffer: OutputBuffer | None = None, missing: tuple[str, ...] = (),
                 name=None, id=None, classes=None) -> None:
        """``code``: what to show (the learner's saved edit, if any); ``lesson_code``: what ctrl+r restores
        (defaults to the cell's code); ``missing``: the modules of the cell's ``requires`` that the kernel cannot
        import (the cell is then skipped)."""
        super().__init__(name=name, id=id, classes=classes)
        self.cell = cell
        self.lesson_code = lesson_code if lesson_code is not None else cell.code
        self._initial = code if code is not None else cell.code
        self.output = buffer if buffer is not None else OutputBuffer()
        self.state = "idle"
        self.execution_count: int | None = None
        self.elapsed: float | None = None
        self.message = ""
        self._run_started: float | None = None
        self._tick = None
        self._edit_timer = None
        self._suppress_change = 0
        self.set_reactive(CodeCell.gpu_available, gpu_available)
        self._editor: TextArea | None = None
        self._output_view: OutputView | None = None
        self._notice_w: Static | None = None
        self.missing = tuple(missing)
        self.solved = False  # an exercise the learner has passed (set by the screen from the progress store)

    # ---------------------------------------------------------------- compose
    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="cell--header")
        yield _CodeView(self._initial)  # replaced by the editor (a TextArea) the first time the cell is edited
        # the notice line and the output view are mounted when there is something to show: a lesson page has
        # many cells that are only read, and every widget costs layout time when the page opens

    def on_mount(self) -> None:
        if self.skipped or self.output.segments:
            self.call_after_refresh(self._update_notice)
        if self.output.segments:
            self.call_after_refresh(lambda: self.output_view)

    @property
    def text_area(self) -> TextArea:
        """The editor, created (and mounted in place of the read-only view) on first use."""
        if self._editor is None:
            # language="python" highlights when textual[syntax] (tree-sitter) is installed, else plain text
            ta = _CellTextArea(self._initial, language="python", read_only=True, show_line_numbers=False,
                               soft_wrap=False, tab_behavior="indent", compact=True)
            ta.can_focus = False
            self._editor = ta
            if self.is_mounted:
                view = self.query_one(_CodeView)
                self.mount(ta, after=view)
                view.remove()
        return self._editor

    @property
    def output_view(self) -> OutputView:
        """The output view, mounted on first use (the first run, or when the cell already has output)."""
        if self._output_view is None:
            self._output_view = OutputView(self.output)
            if self.is_mounted:
                self.mount(self._output_view)
        return self._output_view

    def _notice(self, create: bool) -> Static | None:
        if self._notice_w is None and create and self.is_mounted:
            self._notice_w = Static("", classes="cell--notice -hidden")
            if self._output_view is not None:
                self.mount(self._notice_w, before=self._output_view)
            else:
                self.mount(self._notice_w)
        return self._notice_w

    @property
    def code(self) -> str:
        return self._editor.text if self._editor is not None else self._initial

    # ---------------------------------------------------------------- header / state
    def _flags(self) -> list[str]:
        c = self.cell
        flags = [t for t in ("setup", "gpu", "exercise") if t in c.tags]
        if c.requires:
            flags.append("needs " + ", ".join(c.requires))
        if c.timeout and c.timeout != 60:
            flags.append(f"{c.timeout:g}s")
        return flags

    def _header(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(self.cell.id, style="bold")
        for f in self._flags():
            t.append(f" [{f}]", style="magenta" if f == "gpu" or f.startswith("needs ") else "cyan")
        if self.cell.is_exercise and self.solved:
            t.append(" ✓ solved", style="bold green")
        if self.editing:
            if self._editor is not None and self._editor.has_focus:
                t.append(" ✎ editing", style="bold")
        elif self.code != self.lesson_code:
            t.append(" ✎ edited", style="italic")
        t.append("  ")
        state = self.state
        label = state
        if state == "running" and self._run_started is not None:
            label = f"running {time.monotonic() - self._run_started:.0f}s"
        t.append(label, style=_STATE_STYLE.get(state, ""))
        if self.execution_count is not None:
            t.append(f"  [{self.execution_count}]", style="dim")
        if self.elapsed is not None and state not in ("running", "queued"):
            t.append(f"  {_fmt_elapsed(self.elapsed)}", style="dim")
        return t

    def _refresh_header(self) -> None:
        if self.is_mounted:
            self.query_one(".cell--header", Static).update(self._header())

    def set_state(self, state: str, *, execution_count: int | None = None, elapsed: float | None = None,
                  message: str = "") -> None:
        """idle | queued | running | ok | error | timeout | died | interrupted | skipped."""
        self.state = state
        self.message = message
        if state != "idle" and self.is_mounted:
            self.output_view  # noqa: B018 - mounts the output view before the first output arrives
        if execution_count is not None:
            self.execution_count = execution_count
        if state == "running":
            self._run_started = time.monotonic()
            self.elapsed = None
            if self._tick is None and self.is_mounted:
                self._tick = self.set_interval(1.0, self._refresh_header)
        else:
            if self._tick is not None:
                self._tick.stop()
                self._tick = None
            if elapsed is not None:
                self.elapsed = elapsed
            elif self._run_started is not None and state not in ("queued", "idle"):
                self.elapsed = time.monotonic() - self._run_started
            self._run_started = None
        self._refresh_header()
        self._update_notice()

    def set_code(self, code: str) -> None:
        """Replace the shown code (does not post Edited)."""
        if self._editor is None:
            self._initial = code
            if self.is_mounted:
                self.query_one(_CodeView).show(code)
            return
        self._suppress_change += 1
        self._editor.load_text(code)

    # ---------------------------------------------------------------- gpu / requires notice
    @property
    def skipped(self) -> bool:
        return bool(self.missing) or (self.cell.is_gpu and not self.gpu_available)

    def watch_gpu_available(self, _old: bool, _new: bool) -> None:
        self._update_notice()
        self._refresh_header()

    def _update_notice(self) -> None:
        if not self.is_mounted:
            return
        text = ""
        if self.missing:
            from tutor.course.model import requires_reason

            text = f"This cell {requires_reason(self.missing)}: skipped here."
        elif self.skipped:
            twin = self.cell.cpu_twin
            text = "Needs a CUDA GPU, which this machine does not have: skipped here."
            text += f" Run its CPU twin, cell '{twin}', instead." if twin else " (no CPU twin)"
        elif self.state in _NOTICE_STATES and (self.message or self.state in ("failed", "passed")):
            text = self.message or ("Passed: the check accepts your code." if self.state == "passed"
                                    else "Not yet: the check rejected this code.")
        notice = self._notice(create=bool(text))
        if notice is not None:
            notice.update(text)
            notice.set_class(not text, "-hidden")
            notice.set_class(bool(text) and self.state == "failed", "-failed")
            notice.set_class(bool(text) and self.state == "passed", "-passed")

    # ---------------------------------------------------------------- editing
    def watch_editing(self, editing: bool) -> None:
        if not self.is_mounted:
            return
        if self._editor is None and not editing:
            self._refresh_header()
            return
        new = self._editor is None
        ta = self.text_area
        ta.read_only = not editing
        ta.can_focus = editing
        ta.set_class(editing, "-editing")
        if editing and not new:  # a new editor takes the focus itself once mounted (_CellTextArea.on_mount)
            ta.focus()
        elif not editing:
            self._flush_edit()
            self.focus()
        self._refresh_header()
        self.refresh_bindings()  # esc (stop editing) and ctrl+enter show in the footer only while editing

    @on(TextArea.Changed)
    def _on_text_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self._suppress_change:
            self._suppress_change -= 1
            return
        if self._edit_timer is not None:
            self._edit_timer.stop()
        self._edit_timer = self.set_timer(EDIT_DEBOUNCE, self._flush_edit)

    def _flush_edit(self) -> None:
        if self._edit_timer is None:
            return
        self._edit_timer.stop()
        self._edit_timer = None
        self.post_message(self.Edited(self, self.code))

    # ---------------------------------------------------------------- actions
    def action_run(self) -> None:
        if self.skipped:
            self._update_notice()
            self.app.bell()
            return
        self._flush_edit()
        self.post_message(self.RunRequested(self, self.code))

    def action_edit(self) -> None:
        self.editing = True

    def action_stop_editing(self) -> None:
        self.editing = False

    def action_reset(self) -> None:
        self.set_code(self.lesson_code)
        self.post_message(self.ResetRequested(self))
        self._refresh_header()

    def action_interrupt(self) -> None:
        self.post_message(self.InterruptRequested(self))

    def action_restart(self) -> None:
        self.post_message(self.RestartRequested(self))

    def action_full_output(self) -> None:
        self.post_message(self.ShowFullOutput(self))

    def action_solution(self) -> None:
        self.post_message(self.SolutionRequested(self))

    def _code_overflows(self) -> bool:
        """Some line of the code or of its text output is wider than the cell (right/left scroll them)."""
        if self._output_view is not None and self._output_view.overflows:
            return True
        if self._editor is not None:
            return self._editor.max_scroll_x > 0
        views = self.query(_CodeView)
        return bool(views) and views.first().overflows

    def action_scroll_code(self, direction: int) -> None:
        if self._editor is not None:
            self._editor.scroll_relative(x=direction * max(8, self._editor.size.width // 3), animate=False)
        elif self.query(_CodeView):
            self.query_one(_CodeView).scroll_sideways(direction)
        if self._output_view is not None:
            self._output_view.scroll_sideways(direction)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "scroll_code":  # only where a line is wider than the cell; else right/left change the step
            return self._code_overflows()
        if action == "solution":
            return self.cell.is_exercise
        if action == "stop_editing":  # not editing: esc is not this cell's, it goes back (the screen's esc)
            return self.editing
        return True


def _fmt_elapsed(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    return f"{int(s // 60)}m{int(s % 60):02d}s"
