"""The roadmap: five phases, the Path A / Path B branch, the active path highlighted, done lessons marked."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.core.glyphs import g
from tutor.learning.outline import readable
from tutor.widgets.key_bar import KeyBar
from tutor.widgets.roadmap import Connector, LessonChip, PhaseBox


def legend() -> Text:
    """What every mark of the roadmap means, and its keys (three lines, each under 78 columns)."""
    t = Text(style="dim")

    def say(*parts: str) -> None:  # (marked, plain, marked, plain, ...)
        for n, part in enumerate(parts):
            t.append(part, style="bold" if n % 2 == 0 else "")

    say(g("done"), " done  ", g("in_progress"), " in progress  ", g("not_started"), " not started  ",
        g("missing"), " not written yet (enter: its outline)\n")
    say("bold, tinted", ": on your active path  ", "bright border", ": its phases  ", "…", ": title cut\n")
    say(f"{g('down')} or {g('down')}", ": Path A or Path B (or both)  ", "tab, arrows", ": move  ", "enter",
        ": open")
    return t


class RoadmapScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.go_home", "Home", id="roadmap.back"),
        Binding("p", "app.paths", "Paths", id="roadmap.paths"),
        Binding("c", "continue", "Continue", id="roadmap.continue"),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        course = app.course
        states = app.store.all_lesson_states()
        on_path = set(app.session.active_path_lessons())

        def chips(ids):
            return [LessonChip(i, app.session.lesson_status(i, states), i in on_path, course.is_written(i),
                               title=course.entries[i].title) for i in ids]

        top = Text()
        top.append(" Roadmap ", style="bold reverse")
        pt = app.session.active_path_title()
        top.append(f"  active path: {pt}" if pt else "  no active path (press p)")
        yield Static(top, classes="topbar")
        with VerticalScroll(id="roadmap"):
            yield Static("Prerequisites: " + "; ".join(
                f"{readable(p['topic'])} ({', '.join(p['lessons'])})" for p in course.data.get("prerequisites", [])
            ), classes="prereq")
            yield Static(legend(), classes="legend")
            for n, phase in enumerate(course.roadmap):
                if n:
                    yield Connector("join" if course.roadmap[n - 1].branches else ("fork" if phase.branches else "down"))
                if phase.branches:
                    with Horizontal(classes="branches", id=f"phase-{phase.id}"):
                        for b in phase.branches:
                            yield PhaseBox(
                                f"{b.title} · {phase.weeks}", b.summary, chips(b.lessons),
                                active=bool(on_path & set(b.lessons)), branch=True, id=f"branch-{b.id}",
                            )
                else:
                    yield PhaseBox(
                        f"{phase.title} · {phase.weeks}", phase.summary, chips(phase.lessons),
                        active=bool(on_path & set(phase.lessons)), id=f"phase-{phase.id}",
                    )
        yield KeyBar()

    def action_continue(self) -> None:
        self.app.continue_learning()

    def on_lesson_chip_selected(self, event: LessonChip.Selected) -> None:
        event.stop()
        self.app.open_lesson(event.lesson_id)

    def on_click(self, event) -> None:
        w = event.widget
        if isinstance(w, LessonChip):
            self.app.open_lesson(w.lesson_id)
