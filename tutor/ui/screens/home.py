"""Home: sections and lessons with difficulty, status and key content; the active path; continue."""
from __future__ import annotations

import logging

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tutor.core.glyphs import STATUS_LABEL, g, stars
from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)


TITLE_WIDTH = 40  # the title column of the lesson list; a longer title ends in "…" (the detail below has it all)

class HomeScreen(Screen):
    """The course home."""

    BINDINGS = [
        Binding("c", "continue", "Continue", id="home.continue"),
        Binding("m", "app.roadmap", "Roadmap", id="home.roadmap"),
        Binding("p", "app.paths", "Paths", id="home.paths"),
        Binding("r", "app.review", "Review", id="home.review"),
        Binding("d", "app.dashboard", "Progress", id="home.dashboard"),
        Binding("D", "app.doctor", "Doctor", show=False, id="home.doctor"),
        Binding("enter", "open", "Open", show=False, id="home.open"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="topbar", classes="topbar")
        yield Static(id="continue", classes="continue")
        with Vertical(id="home-body"):
            yield OptionList(id="lessons")
            yield Static(id="lesson-detail", classes="detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_view()
        self._just_mounted = True  # the ScreenResume that follows the mount finds the view fresh
        self.query_one("#lessons", OptionList).focus()

    def on_screen_resume(self) -> None:
        if getattr(self, "_just_mounted", False):  # the first show: on_mount has just filled it (once at start-up)
            self._just_mounted = False
            return
        self.refresh_view()

    # ------------------------------------------------------------------ view
    def refresh_view(self) -> None:
        app = self.app
        course = app.course
        states = app.store.all_lesson_states()
        on_path = set(app.session.active_path_lessons())
        ol = self.query_one("#lessons", OptionList)
        highlighted = ol.highlighted_option.id if ol.highlighted_option else None
        ol.clear_options()
        options: list[Option] = []
        for sec in course.sections:
            options.append(Option(Text(f"{sec.number}  {sec.title}", style="bold"), id=f"section-{sec.number}", disabled=True))
            for lid in sec.lessons:
                e = course.entries[lid]
                written = course.is_written(lid)
                status = app.session.lesson_status(lid, states)
                mark = g(status) if written else g("missing")
                t = Text()
                t.append(f" {mark} ", style="bold" if status != "not_started" else "")
                t.append(f"{lid} ", style="bold")
                title = e.title if len(e.title) <= TITLE_WIDTH else e.title[:TITLE_WIDTH - 1] + g("cut")
                t.append(f"{title:<{TITLE_WIDTH}}", style="" if written else "dim")  # the detail shows it all
                t.append(f" {stars(e.difficulty)}", style="yellow")
                t.append("  ")
                t.append(STATUS_LABEL[status] if written else "not written yet", style="green" if status == "done" else ("cyan" if status == "in_progress" else "dim"))
                if lid in on_path:
                    t.append(f" {g('play')}", style="bold magenta")
                options.append(Option(t, id=f"lesson-{lid}"))
        ol.add_options(options)
        target = highlighted or (f"lesson-{app.session.next_lesson_on_path()}" if app.session.next_lesson_on_path() else "lesson-01")
        try:
            ol.highlighted = ol.get_option_index(target)
        except Exception:
            log.debug("refresh_view: caught and carried on", exc_info=True)
            ol.highlighted = 1
        self._update_top(states)
        self._update_detail()

    def _update_top(self, states) -> None:
        app = self.app
        course = app.course
        ptitle = app.session.active_path_title()
        lessons = app.session.active_path_lessons()
        done = sum(1 for lid in lessons if app.session.lesson_status(lid, states) == "done")
        top = Text()
        top.append(f" {course.title} ", style="bold reverse")
        # most important first: a narrow terminal cuts the end of the line
        due = app.store.due_count()
        top.append(f"  review: {due} due", style="bold yellow" if due else "dim")
        if not app.store.status.persistent:
            top.append("   PROGRESS NOT SAVED (see message)", style="bold red")
        if ptitle:
            top.append(f"   path: {ptitle} ({done}/{len(lessons)} done)", style="bold")
        else:
            top.append("   no path chosen: press p", style="dim")
        written = len(course.written_ids())
        top.append(f"   {written}/{len(course.entries)} lessons written", style="dim")
        self.query_one("#topbar", Static).update(top)
        cont = Text()
        pos = app.store.last_position()
        if pos and course.is_written(pos[0]):
            les = course.lesson(pos[0])
            idx = les.step_index(pos[1])
            cont.append(f" {g('play')} Continue [c]: ", style="bold")
            cont.append(f"{les.id} {les.title}")
            cont.append(f", {les.step_line(idx)}", style="dim")
        else:
            nxt = app.session.next_lesson_on_path() or next(iter(course.written_ids()), None)
            if nxt:
                cont.append(f" {g('play')} Start [c]: ", style="bold")
                cont.append(f"{nxt} {course.entries[nxt].title}")
            else:
                cont.append(" No lesson is written yet.", style="dim")
        self.query_one("#continue", Static).update(cont)

    def _update_detail(self) -> None:
        ol = self.query_one("#lessons", OptionList)
        opt = ol.highlighted_option
        detail = self.query_one("#lesson-detail", Static)
        if opt is None or not (opt.id or "").startswith("lesson-"):
            detail.update("")
            return
        lid = opt.id.split("-", 1)[1]
        e = self.app.course.entries[lid]
        course = self.app.course
        les = course.lesson_if_read(lid)  # only if already parsed; parsing happens off the UI thread
        if les is None and not course.is_read(lid) and course.is_written(lid):
            # once the screen is painted: the parser's imports (markdown-it, yaml) and the parse hold the GIL, and
            # at start-up they would delay the first paint of this screen by about as long as they take
            self.call_after_refresh(self._parse_lesson, lid)
        t = Text()
        t.append(f"{lid} {e.title}", style="bold")
        t.append(f"  ·  {e.topic}  ·  difficulty {e.difficulty}/5")
        if les:
            t.append(f"  ·  {les.minutes} min, {len(les.steps)} steps")
        # labelled lines: a wrapped line stays under its value, not under the label
        rows = Table.grid()
        rows.add_column(no_wrap=True, style="bold")
        rows.add_column(ratio=1)
        rows.add_row("Key content: ", ", ".join(e.key_content))
        paths = [p.title for p in self.app.course.paths if lid in p.lessons and p.id != "complete"]
        if paths:
            rows.add_row("On paths: ", ", ".join(paths))
        detail.update(Group(t, rows))

    def _parse_lesson(self, lid: str) -> None:
        """Parse lesson ``lid`` in a worker thread (its details follow: ``on_worker_state_changed``)."""
        course = self.app.course
        if not course.is_read(lid):
            self.run_worker(lambda: course.lesson(lid), thread=True, group="parse", exit_on_error=False)

    # ------------------------------------------------------------------ events
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._update_detail()

    def on_worker_state_changed(self, event) -> None:
        if event.worker.group == "parse" and event.state.name == "SUCCESS":
            self._update_detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        if oid.startswith("lesson-"):
            self.app.open_lesson(oid.split("-", 1)[1])

    def action_open(self) -> None:
        ol = self.query_one("#lessons", OptionList)
        if ol.highlighted_option is not None:
            oid = ol.highlighted_option.id or ""
            if oid.startswith("lesson-"):
                self.app.open_lesson(oid.split("-", 1)[1])

    def action_continue(self) -> None:
        self.app.continue_learning()
