"""The outline page of a lesson that is not written yet: the course index's topic, key content, section,
prerequisites and papers, and a way on to the next written lesson of the active path (enter)."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.learning.outline import Outline
from tutor.widgets.key_bar import KeyBar


def outline_text(o: Outline, next_title: str | None) -> Text:
    t = Text()

    def head(s: str) -> None:
        t.append(f"\n{s}\n", style="bold")

    def item(s: str) -> None:
        t.append("  • ")
        t.append(s + "\n")

    t.append(f"{o.lesson_id} · {o.title}", style="bold")
    t.append("   not written yet: this is its outline from the course index\n", style="dim")
    t.append("\nTopic: ", style="bold")
    t.append(o.topic)
    t.append("   difficulty: ", style="bold")
    t.append("★" * o.difficulty, style="yellow")
    if o.section:
        t.append("\nSection: ", style="bold")
        t.append(o.section)
    head("Key content")
    for k in o.key_content:
        item(k)
    head("Prerequisites")
    for p in o.prerequisites:
        item(p)
    for e in o.earlier:
        item(f"lesson {e}")
    if not o.prerequisites and not o.earlier:
        item("none beyond the course's prerequisites")
    if o.papers:
        head("Papers")
        for p in o.papers:
            item(p)
    t.append("\n")
    if o.next_written:
        t.append("Next written lesson of your path: ", style="bold")
        t.append(f"{o.next_written} {next_title}", style="bold cyan")
        t.append("  (enter opens it)")
    else:
        t.append("No lesson of your path is written yet; esc goes back.", style="dim")
    return t


class OutlineScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="outline.back"),
        Binding("enter", "open_next", "Open next written", id="outline.open-next"),
    ]
    DEFAULT_CSS = """
    OutlineScreen #outline { padding: 1 2; }
    """

    def __init__(self, outline: Outline) -> None:
        super().__init__()
        self.outline = outline

    def compose(self) -> ComposeResult:
        o = self.outline
        nxt = self.app.course.entries[o.next_written].title if o.next_written else None
        with VerticalScroll(id="outline"):
            yield Static(outline_text(o, nxt), id="outline-text")
        yield KeyBar()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "open_next":
            return self.outline.next_written is not None
        return True

    def action_open_next(self) -> None:
        lid = self.outline.next_written
        if lid is not None:
            self.app.pop_screen()
            self.app.open_lesson(lid)
