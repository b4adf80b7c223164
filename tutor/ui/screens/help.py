"""Help: every key binding of the app and of the screen underneath, generated from the bindings themselves."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter", "right": "→", "left": "←"}


def _key(k: str) -> str:
    return ", ".join(KEY_NAMES.get(x.strip(), x.strip()) for x in k.split(","))


def bindings_table(title: str, bindings) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False, expand=True)
    t.add_column("key", style="bold cyan", width=12, no_wrap=True)
    t.add_column("action")
    for b in bindings:
        if isinstance(b, Binding):
            t.add_row(_key(b.key), b.description or b.action.replace("_", " "))
        elif isinstance(b, tuple):
            t.add_row(_key(b[0]), b[2] if len(b) > 2 else b[1])
    return t


class HelpScreen(ModalScreen[None]):
    """Lists every key binding."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        below = self.app.screen_stack[-1] if self.app.screen_stack else None
        with VerticalScroll(id="help-dialog"):
            yield Static("[b]fm-tutor keys[/b]  (esc closes; ctrl+p opens the command palette: lessons, paths, actions)")
            if below is not None and getattr(below, "BINDINGS", None):
                yield Static(bindings_table(f"This screen ({type(below).__name__.replace('Screen', '')})", below.BINDINGS))
            yield Static(bindings_table("Everywhere", self.app.BINDINGS))
            from tutor.ui.screens.home import HomeScreen
            from tutor.ui.screens.paths import PathsScreen
            from tutor.ui.screens.reader import ReaderScreen
            from tutor.ui.screens.ask import AskScreen
            from tutor.ui.screens.roadmap import RoadmapScreen
            from tutor.ui.screens.search import NoteEditor, NotesScreen, SearchScreen

            for cls in (HomeScreen, ReaderScreen, RoadmapScreen, PathsScreen, SearchScreen, NotesScreen, NoteEditor,
                        AskScreen):
                if below is None or type(below) is not cls:
                    yield Static(bindings_table(cls.__name__.replace("Screen", ""), cls.BINDINGS))
            for extra_title, extra in getattr(self.app, "EXTRA_HELP", []):
                yield Static(bindings_table(extra_title, extra))
