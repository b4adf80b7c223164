"""Roadmap widgets: phases as boxes, lessons as chips, branches side by side, connectors between phases."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.containers import Container, Vertical
from textual.widgets import Static

from tutor.core.glyphs import g


class LessonChip(Static, can_focus=True):
    """One lesson in the roadmap: status mark, number and title (cut with an ellipsis where the column is too
    narrow; the whole title is its tooltip); highlighted when on the active path. Focusable: enter (or a click)
    posts :class:`LessonChip.Selected`, and the screen opens the lesson (or its outline); the arrows move between
    lessons."""

    BINDINGS = [
        Binding("enter", "select", "Open", id="roadmap.open"),
        Binding("down,right", "app.focus_next", "Next lesson", show=False, id="roadmap.next"),
        Binding("up,left", "app.focus_previous", "Previous lesson", show=False, id="roadmap.prev"),
    ]

    class Selected(Message):
        def __init__(self, lesson_id: str) -> None:
            super().__init__()
            self.lesson_id = lesson_id

    DEFAULT_CSS = """
    LessonChip { width: 1fr; height: 1; padding: 0 1; margin: 0 1 0 0; background: $boost;
                 text-wrap: nowrap; text-overflow: ellipsis; }
    LessonChip:focus { background: $accent; color: $text; }
    LessonChip.on-path { background: $accent 40%; text-style: bold; }
    LessonChip.done { color: $success; }
    LessonChip.unwritten { color: $text-muted; }
    """

    def __init__(self, lesson_id: str, status: str, on_path: bool, written: bool, title: str = "") -> None:
        mark = g(status) if written else g("missing")
        super().__init__(f"{mark} {lesson_id} {title}".rstrip(), id=f"chip-{lesson_id}")
        self.lesson_id = lesson_id
        self.title = title
        self.set_class(on_path, "on-path")
        self.set_class(status == "done", "done")
        self.set_class(not written, "unwritten")
        self.tooltip = f"{lesson_id} {title}"

    def action_select(self) -> None:
        self.post_message(self.Selected(self.lesson_id))


class PhaseBox(Vertical):
    """A phase (or a branch of one) with its lesson chips in columns (a title longer than its column ends in an
    ellipsis)."""

    COLUMN_WIDTH = 34

    DEFAULT_CSS = """
    PhaseBox { height: auto; border: round $primary; padding: 0 1; width: 1fr; }
    PhaseBox.active { border: round $accent; }
    PhaseBox > .summary { color: $text-muted; }
    PhaseBox > .chips { height: auto; layout: grid; grid-size: 1; grid-columns: 1fr; grid-rows: 1; }
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

    def on_resize(self) -> None:
        """As many columns as fit every title whole; at least two where two of COLUMN_WIDTH fit (titles cut)."""
        width = self.content_size.width
        whole = max((len(str(c.content)) for c in self.chips), default=10) + 3  # padding and the gap
        cols = max(width // whole, min(2, width // self.COLUMN_WIDTH), 1)
        cols = min(cols, len(self.chips) or 1)
        grid = self.query_one(".chips", Container)
        if grid.styles.grid_size_columns != cols:
            grid.styles.grid_size_columns = cols


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
