"""Learning paths: the four recommended ones with duration, sequence and progress, and a custom path."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from tutor.core.glyphs import bar, g
from tutor.widgets.key_bar import KeyBar


UNWRITTEN = "°"  # after a lesson id: the lesson is not written yet (enter on it opens its outline)


class CustomPathScreen(ModalScreen[list[str] | None]):
    """Pick any lessons, in course order, for a custom path."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="custom.cancel"),
        Binding("ctrl+s", "save", "Save", id="custom.save"),
    ]

    def __init__(self, chosen: list[str]) -> None:
        super().__init__()
        self.chosen = set(chosen)

    def compose(self) -> ComposeResult:
        course = self.app.course
        with Vertical(id="custom-dialog"):
            yield Label("Custom path: space toggles a lesson, ctrl+s saves, escape cancels", classes="dialog-title")
            yield SelectionList[str](
                *[(f"{lid} {e.title}", lid, lid in self.chosen) for lid, e in course.entries.items()],
                id="custom-lessons",
            )
            yield Button("Save path", id="custom-save", variant="primary")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_save(self) -> None:
        sel = self.query_one(SelectionList).selected
        order = [lid for lid in self.app.course.entries if lid in sel]
        self.dismiss(order or None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "custom-save":
            self.action_save()


class PathsScreen(Screen):
    BINDINGS = [
        Binding("enter", "choose", "Make active", id="paths.choose", show=True),
        Binding("c", "custom", "Custom path", id="paths.custom"),
        Binding("n", "next_lesson", "Next lesson", id="paths.next"),
        Binding("escape", "app.go_home", "Home", id="paths.back"),
        Binding("m", "app.roadmap", "Roadmap", id="paths.roadmap"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="topbar", classes="topbar")
        yield OptionList(id="paths")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_view()
        self.query_one("#paths", OptionList).focus()

    def refresh_view(self) -> None:
        app = self.app
        course = app.course
        states = app.store.all_lesson_states()
        active = app.store.active_path()
        ol = self.query_one("#paths", OptionList)
        keep = ol.highlighted
        ol.clear_options()
        entries = [(p.id, p.title, p.duration, p.lessons, p.summary) for p in course.paths]
        custom = app.store.custom_path()
        if custom:
            entries.append(("custom", "Custom path", "your pace", custom, "Lessons you picked yourself."))
        width = max(20, min(40, self.app.size.width - 40))
        for pid, title, duration, lessons, summary in entries:
            done = [lid for lid in lessons if app.session.lesson_status(lid, states) == "done"]
            t = Text()
            t.append(f"{g('play') if pid == active else ' '} ", style="bold magenta")
            t.append(title, style="bold")
            n_written = sum(1 for lid in lessons if course.is_written(lid))
            t.append(f"  ·  {duration}  ·  {n_written}/{len(lessons)} written")
            if pid == active:
                t.append("  (active)", style="bold magenta")
            chain = Text()
            for i, lid in enumerate(lessons):
                st = app.session.lesson_status(lid, states)
                if not course.is_written(lid):  # not written yet: dim, with a mark that reads without colour
                    chain.append(f"{lid}{UNWRITTEN}", style="dim")
                else:
                    chain.append(f"{lid}{g(st) if st != 'not_started' else ''}", style="green" if st == "done" else ("cyan" if st == "in_progress" else ""))
                if i < len(lessons) - 1:
                    chain.append(f" {g('arrow')} ", style="dim")
            frac = len(done) / len(lessons) if lessons else 0
            # the lines under the title keep their indent when they wrap (a grid: indent | text)
            rows = Table.grid(expand=True)
            rows.add_column(width=3, no_wrap=True)
            rows.add_column(ratio=1)
            rows.add_row("", chain)
            rows.add_row("", Text(f"{bar(frac, width)} {len(done)}/{len(lessons)} done"))
            rows.add_row("", Text(summary, style="dim"))
            ol.add_option(Option(Group(t, rows), id=f"path-{pid}"))
            ol.add_option(None)
        ol.highlighted = keep if keep is not None else 0
        top = Text()
        top.append(" Learning paths ", style="bold reverse")
        top.append(f"  enter: activate · n: next lesson · c: custom · {UNWRITTEN}: not written")
        self.query_one("#topbar", Static).update(top)

    def _selected(self) -> str | None:
        opt = self.query_one("#paths", OptionList).highlighted_option
        return opt.id.split("-", 1)[1] if opt and opt.id else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose()

    def on_screen_suspend(self) -> None:
        if self not in self.app.screen_stack:  # left (not covered by help): its toasts must not sit over a lesson
            self.app.clear_notifications()

    def action_choose(self) -> None:
        pid = self._selected()
        if pid:
            self.app.store.set_active_path(pid)
            title = self.app.session.active_path_title()
            nxt = self.app.session.next_lesson_on_path()
            self.notify(f"Active path: {title}." + (f" Next lesson: {nxt}. Press n to open it." if nxt else " All done!"))
            self.refresh_view()

    def action_next_lesson(self) -> None:
        nxt = self.app.session.next_lesson_on_path()
        if nxt:
            self.app.clear_notifications()  # this screen's toasts would sit over the lesson's first cell
            self.app.open_lesson(nxt)
        else:
            self.notify("Choose a path first (enter), or every lesson on it is done.")

    def action_custom(self) -> None:
        def done(result: list[str] | None) -> None:
            if result:
                self.app.store.set_custom_path(result)
                self.app.store.set_active_path("custom")
                self.notify(f"Custom path with {len(result)} lessons is now active.")
                self.refresh_view()

        self.app.push_screen(CustomPathScreen(self.app.store.custom_path()), done)
