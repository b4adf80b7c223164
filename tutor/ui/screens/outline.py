"""The outline page of a lesson that is not written yet: the course index's topic, key content, section,
prerequisites and papers, and a way on to the next written lesson of the active path (enter)."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.learning.outline import Outline
from tutor.widgets.key_bar import KeyBar


def _items(lines: list[str]) -> Table:
    """A bulleted list whose wrapped lines stay indented under their text."""
    t = Table.grid(padding=0)
    t.add_column(width=4, no_wrap=True)
    t.add_column(ratio=1)
    for line in lines:
        t.add_row("  • ", line)
    return t


def outline_text(o: Outline, next_title: str | None) -> Group:
    parts: list = []
    parts.append(Text(f"{o.lesson_id} · {o.title}", style="bold"))
    parts.append(Text("Not written yet: this is its outline from the course index.", style="dim"))
    facts = Text()
    facts.append("\nTopic: ", style="bold")
    facts.append(o.topic)
    facts.append("   difficulty: ", style="bold")
    facts.append("★" * o.difficulty, style="yellow")
    if o.section:
        facts.append("\nSection: ", style="bold")
        facts.append(o.section)
    parts += [facts, Text("\nKey content", style="bold"), _items(o.key_content), Text("\nPrerequisites", style="bold")]
    prereq = o.prerequisites + [f"lesson {e}" for e in o.earlier]
    parts.append(_items(prereq or ["none beyond the course's prerequisites"]))
    if o.papers:
        parts += [Text("\nPapers", style="bold"), _items(o.papers)]
    tail = Text("\n")
    if o.next_written:
        tail.append("Next written lesson of your path: ", style="bold")
        tail.append(f"{o.next_written} {next_title}", style="bold cyan")
        tail.append("\nenter opens it; esc goes back.", style="dim")
    else:
        tail.append("No lesson of your path is written yet; esc goes back.", style="dim")
    parts.append(tail)
    return Group(*parts)


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
