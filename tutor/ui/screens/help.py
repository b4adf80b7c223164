"""Help: the keys of the focused widget, of the screen underneath, of the whole app and of the other screens,
generated from the bindings themselves, in one table (one key column, so every section lines up)."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter", "right": "→", "left": "←",
             "up": "↑", "down": "↓", "space": "space", "backspace": "backspace", "tab": "tab"}
KEY_WIDTH = 16  # the key column, the same in every section

# readable names of the widgets whose keys help lists when they (or a child of theirs) have focus
# (the course's own widgets: a list's or an editor's generic keys would bury them)
WIDGET_NAMES = {"CodeCell": "Code cell", "QuizCard": "Question", "_AnswerInput": "Answer box", "LessonChip": "Lesson",
                "FenceBlock": "Wide diagram or text block"}


def _key(k: str) -> str:
    out = []
    for x in k.split(","):
        x = x.strip()
        name = KEY_NAMES.get(x, x)
        if name.startswith("ctrl+"):
            name = "^" + KEY_NAMES.get(name[5:], name[5:])
        out.append(name)
    return ", ".join(out)


def _rows(bindings) -> list[tuple[str, str]]:
    rows, seen = [], set()
    for b in bindings:
        if isinstance(b, Binding):
            row = (_key(b.key), b.description or b.action.replace("_", " "))
        elif isinstance(b, tuple):
            row = (_key(b[0]), b[2] if len(b) > 2 else b[1])
        else:
            continue
        if row not in seen:
            seen.add(row)
            rows.append(row)
    return rows


def _table(title: str) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, pad_edge=False,
              expand=True)
    t.add_column("key", style="bold cyan", width=KEY_WIDTH, no_wrap=True)
    t.add_column("action", ratio=1)
    return t


def bindings_table(title: str, bindings) -> Table:
    """One section: a title line, then key | action rows (the key column is KEY_WIDTH wide everywhere)."""
    t = _table(title)
    for key, what in _rows(bindings):
        t.add_row(key, what)
    return t


def focused_sections(screen: Screen) -> list[tuple[str, list]]:
    """(title, bindings) of the focused widget and of its ancestors below ``screen`` that have keys of their
    own: a code cell's r e i o s ^r R, a question's digits, h and x, the answer box's esc."""
    focused = screen.focused
    out: list[tuple[str, list]] = []
    node = focused
    while node is not None and node is not screen:
        own = type(node).__dict__.get("BINDINGS")
        name = type(node).__name__
        if own and name in WIDGET_NAMES:
            out.append((f"Focused: {WIDGET_NAMES[name]}", list(own)))
        node = node.parent
    return out


class HelpScreen(ModalScreen[None]):
    """Lists every key binding: the focused widget's and the screen's underneath first."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, below: Screen | None = None) -> None:
        super().__init__()
        self.below = below  # the screen help was opened over (captured before help is pushed)

    def compose(self) -> ComposeResult:
        below = self.below
        with VerticalScroll(id="help-dialog"):
            yield Static("[b]fm-tutor keys[/b]  (esc closes; ctrl+p opens the command palette: lessons, paths, actions)")
            sections: list[tuple[str, list]] = []
            if below is not None:
                sections += focused_sections(below)
                if getattr(below, "BINDINGS", None):
                    sections.append((f"This screen ({type(below).__name__.replace('Screen', '')})", below.BINDINGS))
            sections.append(("Everywhere", self.app.BINDINGS))
            from tutor.ui.screens.home import HomeScreen
            from tutor.ui.screens.paths import PathsScreen
            from tutor.ui.screens.reader import ReaderScreen
            from tutor.ui.screens.ask import AskScreen
            from tutor.ui.screens.roadmap import RoadmapScreen
            from tutor.ui.screens.search import NoteEditor, NotesScreen, SearchScreen

            for cls in (HomeScreen, ReaderScreen, RoadmapScreen, PathsScreen, SearchScreen, NotesScreen, NoteEditor,
                        AskScreen):
                if below is None or type(below) is not cls:
                    sections.append((cls.__name__.replace("Screen", ""), cls.BINDINGS))
            sections += list(getattr(self.app, "EXTRA_HELP", []))
            for title, bindings in sections:
                yield Static(bindings_table(title, bindings))
