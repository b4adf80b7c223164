"""Roadmap widgets: phases as boxes, lessons as chips, branches side by side, connectors between phases."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.containers import Container, Vertical
from textual.widgets import Static

from tutor.core.glyphs import g


class LessonChip(Static, can_focus=True):
    """One lesson in the roadmap: number, status mark; highlighted when on the active path. Focusable: enter
    (or a click) posts :class:`LessonChip.Selected`, and the screen opens the lesson (or its outline)."""

    BINDINGS = [Binding("enter", "select", "Open", id="roadmap.open")]

    class Selected(Message):
        def __init__(self, lesson_id: str) -> None:
            super().__init__()
            self.lesson_id = lesson_id

    DEFAULT_CSS = """
    LessonChip { width: 7; height: 1; padding: 0 1; background: $boost; }
    LessonChip:focus { background: $accent; color: $text; }
    LessonChip.on-path { background: $accent 40%; text-style: bold; }
    LessonChip.done { color: $success; }
    LessonChip.unwritten { color: $text-muted; }
    """

    def __init__(self, lesson_id: str, status: str, on_path: bool, written: bool, title: str = "") -> None:
        mark = g(status) if written else g("missing")
        super().__init__(f"{mark} {lesson_id}", id=f"chip-{lesson_id}")
        self.lesson_id = lesson_id
        self.set_class(on_path, "on-path")
        self.set_class(status == "done", "done")
        self.set_class(not written, "unwritten")
        self.tooltip = title

    def action_select(self) -> None:
        self.post_message(self.Selected(self.lesson_id))


class PhaseBox(Vertical):
    """A phase (or a branch of one) with its lesson chips."""

    DEFAULT_CSS = """
    PhaseBox { height: auto; border: round $primary; padding: 0 1; width: 1fr; }
    PhaseBox.active { border: round $accent; }
    PhaseBox > .summary { color: $text-muted; }
    PhaseBox > .chips { height: auto; layout: grid; grid-size: 8; grid-columns: 8; grid-rows: 1; }
    PhaseBox.branch > .chips { grid-size: 4; }
    """

    def __init__(self, title: str, summary: str, chips: list[LessonChip], active: bool, branch: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.set_class(branch, "branch")
        self.border_title = title
        self.summary = summary
        self.chips = chips
        self.set_class(active, "active")

    def compose(self) -> ComposeResult:
        yield Static(self.summary, classes="summary")
        with Container(classes="chips"):
            yield from self.chips


class Connector(Static):
    """An arrow between phases; `fork` and `join` draw the Path A / Path B branch."""

    DEFAULT_CSS = """
    Connector { height: 1; width: 1fr; content-align: center middle; color: $primary; }
    """

    def __init__(self, kind: str = "down") -> None:
        super().__init__(self._glyph(kind), classes=f"connector-{kind}")
        self.kind = kind

    @staticmethod
    def _glyph(kind: str) -> str:
        d = g("down")
        if kind == "fork":
            return f"{d}  or  {d}"
        if kind == "join":
            return f"{d}  and/or  {d}"
        return d
