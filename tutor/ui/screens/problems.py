"""A lesson that `fm-tutor check` rejects, shown read-only: each problem as ``file:line: message``. No cell runs.

The one acceptance policy (:mod:`tutor.course.lessons`): the reader never opens a lesson with errors, and
``run-cells``, ``export`` and ``stats`` refuse it with the same lines.
"""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.course.model import Lesson
from tutor.widgets.key_bar import KeyBar


class LessonProblemsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="problems.back"),
        Binding("question_mark", "app.help", "Help", id="problems.help"),
    ]
    DEFAULT_CSS = """
    LessonProblemsScreen #problems { padding: 1 2; }
    LessonProblemsScreen .problem { padding-left: 2; }
    """

    def __init__(self, lesson: Lesson):
        super().__init__()
        self.lesson = lesson

    def compose(self) -> ComposeResult:
        les = self.lesson
        n = len(les.errors)
        with VerticalScroll(id="problems"):
            yield Static(f"[b]{escape(les.id)} · {escape(les.title)}[/b]")
            yield Static(f"\nThis lesson cannot be opened: its file has {n} error{'s' if n != 1 else ''}, the same "
                         "ones `fm-tutor check` reports. No cell of it runs until they are fixed.\n")
            for p in les.errors:
                yield Static(escape(str(p)), classes="problem")
        yield KeyBar()
