"""Search the course (`/` everywhere), the Notes screen (bookmarks and notes by lesson), the note editor, and the
Ask panel of the reader. The index and the ask pipeline are :mod:`tutor.search`'s; these screens only show them."""
from __future__ import annotations

import logging
import re

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tutor.search.index import Hit, SearchError
from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)


def hit_option(i: int, h: Hit) -> Option:
    t = Text(no_wrap=False)
    t.append(f"{h.lesson_id} {h.lesson_title}", style="bold")
    t.append(f" › {h.step_title}")
    if h.kind == "note":
        t.append("  (your note)", style="italic")
    t.append("\n  ")
    for piece, hl in h.parts():
        t.append(re.sub(r"\s+", " ", piece), style="bold reverse" if hl else "dim")
    return Option(t, id=f"hit-{i}")


class SearchScreen(ModalScreen[None]):
    """Type to search every lesson's prose, code and quizzes, and your notes; enter opens the step at the match."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="search.close"),
        Binding("down", "results", "Results", show=False, id="search.results"),
        Binding("enter", "open", "Open", id="search.open"),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.query_text = query
        self.hits: list[Hit] = []
        self.ready = False

    def compose(self) -> ComposeResult:
        with Vertical(id="search-dialog"):
            yield Static("[b]Search the course[/b] (prose, code, quizzes, your notes)", classes="dialog-title")
            yield Input(self.query_text, placeholder="e.g. GQA, chinchilla tokens, rope", id="search-input")
            yield Static("opening the index…", id="search-status")
            yield OptionList(id="search-results")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()
        self._open_index()

    @work(thread=True, exclusive=True, group="search-index")
    def _open_index(self) -> None:
        app = self.app
        try:
            index = app.search_index()
            index.set_notes((n["lesson_id"], n["step_id"], n["text"]) for n in app.store.notes())
            n = index.step_count()
        except Exception as e:  # an unwritable cache dir: say so, the rest of the app carries on
            log.warning("search index could not be opened", exc_info=True)
            app.call_from_thread(self._status, f"The search index cannot be opened: {e}")
            return
        app.call_from_thread(self._index_ready, n)

    def _index_ready(self, steps: int) -> None:
        self.ready = True
        self._status(f"{steps} steps indexed. Type to search; ↓ to the results; enter opens.")
        text = self.query_one("#search-input", Input).value
        if text.strip():
            self.run_search(text)

    def _status(self, msg: str) -> None:
        if self.is_attached:
            self.query_one("#search-status", Static).update(msg)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.ready:
            self.run_search(event.value)

    def run_search(self, text: str) -> None:
        results = self.query_one("#search-results", OptionList)
        results.clear_options()
        self.hits = []
        if not text.strip():
            self._status("Type a word or two.")
            return
        try:
            self.hits = self.app.search_index().search(text, limit=30)
        except SearchError as e:
            self._status(str(e))
            return
        results.add_options([hit_option(i, h) for i, h in enumerate(self.hits)])
        if self.hits:
            results.highlighted = 0
            self._status(f"{len(self.hits)} match(es) for {text.strip()!r}")
        else:
            self._status(f"No match for {text.strip()!r}.")

    def action_results(self) -> None:
        self.query_one("#search-results", OptionList).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        results = self.query_one("#search-results", OptionList)
        i = results.highlighted
        if i is not None and i < len(self.hits):
            self._open(self.hits[i])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_open()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("hit-"):
            self._open(self.hits[int(event.option.id[4:])])

    def _open(self, hit: Hit) -> None:
        app = self.app
        self.dismiss(None)
        app.open_lesson(hit.lesson_id, hit.step_id, reveal=hit.terms)


def step_title(course, lesson_id: str, step_id: str) -> str:
    lesson = course.lesson(lesson_id)
    step = lesson.step(step_id) if lesson is not None else None
    return step.title if step is not None else f"{step_id} (no longer in the lesson)"


class NotesScreen(Screen):
    """Your bookmarks and notes, by lesson; enter opens the step."""

    BINDINGS = [
        Binding("escape", "app.go_home", "Home", id="notes.back"),
        Binding("enter", "open", "Open", id="notes.open"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Text(" Notes and bookmarks ", style="bold reverse"), classes="topbar")
        yield OptionList(id="notes-list")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_list()
        self.query_one("#notes-list", OptionList).focus()

    def refresh_list(self) -> None:
        app = self.app
        course = app.course
        by_lesson: dict[str, list[tuple[str, str, str]]] = {}
        for b in app.store.bookmarks():
            by_lesson.setdefault(b["lesson_id"], []).append(("bookmark", b["step_id"], ""))
        for n in app.store.notes():
            by_lesson.setdefault(n["lesson_id"], []).append(("note", n["step_id"], n["text"]))
        self.targets: dict[str, tuple[str, str]] = {}
        options: list[Option] = []
        for lid in sorted(by_lesson, key=lambda x: (course.lesson_ids.index(x) if x in course.entries else 999, x)):
            entry = course.entries.get(lid)
            options.append(Option(Text(f"{lid} {entry.title if entry else '(not in this course)'}", style="bold"),
                                  disabled=True))
            for kind, sid, text in by_lesson[lid]:
                t = Text("  ")
                t.append("[bookmark] " if kind == "bookmark" else "[note] ", style="cyan")
                t.append(step_title(course, lid, sid))
                if text:
                    t.append("\n     " + " ".join(text.split())[:200], style="dim")
                key = f"t-{len(self.targets)}"
                self.targets[key] = (lid, sid)
                options.append(Option(t, id=key))
        lst = self.query_one("#notes-list", OptionList)
        lst.clear_options()
        if not options:
            options = [Option("No notes or bookmarks yet. In a lesson, b bookmarks the step and w writes a note.",
                              disabled=True)]
        lst.add_options(options)

    def action_open(self) -> None:
        lst = self.query_one("#notes-list", OptionList)
        if lst.highlighted is not None:
            opt = lst.get_option_at_index(lst.highlighted)
            if opt.id in self.targets:
                self.app.open_lesson(*self.targets[opt.id])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id in self.targets:
            self.app.open_lesson(*self.targets[event.option.id])


class NoteEditor(ModalScreen[str]):
    """Write a note on a step. Escape or ctrl+s saves it (an empty note deletes it)."""

    BINDINGS = [
        Binding("escape", "save", "Save and close", id="note.save"),
        Binding("ctrl+s", "save", "Save", show=False, id="note.save-alt"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Static(Text(f"Note on {self.title_text}", style="bold"), classes="dialog-title")
            yield TextArea(self.text, id="note-text", soft_wrap=True)
            yield Static("esc saves and closes · an empty note is deleted", classes="dim")

    def on_mount(self) -> None:
        self.query_one("#note-text", TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one("#note-text", TextArea).text)
