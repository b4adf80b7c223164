"""Doctor: this machine against the course's requirements, the built-in model's card, which GPU cells can run.

The checks stream in as they complete (`tutor.backend.doctor.diagnose`'s ``on_check``, from a worker thread): the
quick ones at once, the CUDA probe and fm-tiny's load (each a Python of its own) when they finish. Each check is a
row, its mark in a column of its own and its text wrapped under itself (never back to column 0)."""
from __future__ import annotations

import logging
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


class DoctorRow(Horizontal):
    """A label column (a check's mark, or 'Versions') and the text, which wraps under itself."""

    DEFAULT_CSS = """
    DoctorRow { height: auto; }
    DoctorRow > .mark { width: 9; }
    DoctorRow > .text { width: 1fr; }
    """

    def __init__(self, label: Text | str, text: str) -> None:
        super().__init__(classes="doctor-row")
        self.label, self.text = label, text

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="mark")
        yield Static(Text(self.text), classes="text")


class DoctorScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.go_home", "Home", id="doctor.back"),
        Binding("g", "rerun", "Check again", id="doctor.rerun"),
    ]

    DEFAULT_CSS = """
    #doctor-status { color: $text-muted; margin: 0 0 1 0; }
    #doctor-report { height: auto; }
    #doctor-report > .doctor-area { text-style: bold; margin: 1 0 0 0; }
    #doctor-report > .doctor-end { margin: 1 0 0 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._run = 0  # the current run: the callbacks of an earlier one (its thread still going) are dropped
        self._area: str | None = None
        self._count = 0
        self._t0 = 0.0
        self._finished = False

    def compose(self) -> ComposeResult:
        yield Static(Text(" Doctor ", style="bold reverse"), classes="topbar")
        with VerticalScroll(id="doctor"):
            yield Static("", id="doctor-status")
            yield Vertical(id="doctor-report")
        yield KeyBar()

    def on_unmount(self) -> None:
        self._run += 1  # a run still going in its thread reports to no one

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick, name="doctor-tick")  # the seconds go on while a slow check runs
        self.action_rerun()

    def action_rerun(self) -> None:
        self._run += 1
        self._area, self._count, self._t0, self._finished = None, 0, time.monotonic(), False
        self.query_one("#doctor-report", Vertical).remove_children()
        self._status()
        self.run_worker(lambda run=self._run: self._diagnose(run), thread=True, group="doctor",
                        exit_on_error=False)

    def _status(self, done: bool = False) -> None:
        secs = time.monotonic() - self._t0
        if done:
            text = f"Checked in {secs:.0f} s ({self._count} checks). g checks again."
        else:
            text = f"Checking... {self._count} done, {secs:.0f} s (CUDA and loading fm-tiny take longest)"
        self.query_one("#doctor-status", Static).update(text)

    def _tick(self) -> None:
        if not self._finished:
            self._status()

    def _diagnose(self, run: int) -> None:
        from tutor.backend.doctor import diagnose

        def on_check(rep, check) -> None:
            if run == self._run and self.is_attached:
                self.app.call_from_thread(self._add, run, rep, check)

        try:
            rep = diagnose(self.app.course.root, config=self.app.config, on_check=on_check)
        except Exception as e:  # the doctor must never crash the app
            log.warning("the doctor's checks failed", exc_info=True)
            rep, error = None, f"The checks themselves failed: {e}"
        else:
            error = ""
        if run == self._run and self.is_attached:
            self.app.call_from_thread(self._finish, run, rep, error)

    def _add(self, run: int, rep, check) -> None:
        from tutor.backend.doctor import MARK, REPORTED, TITLES, check_text

        if run != self._run or not self.is_attached:  # checked again, or the screen was left
            return
        box = self.query_one("#doctor-report", Vertical)
        if check is None:
            versions = ", ".join(f"{k} {v or 'not installed'}" for k, v in rep.packages.items() if k in REPORTED)
            box.mount(DoctorRow("Versions", f"{versions}, Python {rep.python}"))
            return
        rows = []
        if check.area != self._area:
            self._area = check.area
            rows.append(Static(TITLES.get(check.area, check.area), classes="doctor-area"))
        rows.append(DoctorRow(Text(f"  [{MARK[check.status]}]", style=STYLE.get(check.status, "")),
                              check_text(check)))
        self._count += 1
        box.mount_all(rows)
        self._status()

    def _finish(self, run: int, rep, error: str) -> None:
        from tutor.backend.doctor import tail_lines

        if run != self._run or not self.is_attached:
            return
        self._finished = True
        box = self.query_one("#doctor-report", Vertical)
        lines = [ln for ln in tail_lines(rep) if ln] if rep is not None else [error]
        status = getattr(self.app, "model_status", "")
        if status:
            lines.append(f"Model server now: {status}")
        box.mount_all([Static(Text(ln), classes="doctor-end") for ln in lines])
        self._status(done=True)

    def report_text(self) -> str:
        """What the report shows, one line per row (for tests and the walk)."""
        out = []
        for w in self.query("#doctor-report > *"):
            if isinstance(w, DoctorRow):
                out.append(f"{Text(w.label).plain if isinstance(w.label, str) else w.label.plain} {w.text}")
            elif isinstance(w, Static):
                out.append(str(w.content))
        return "\n".join(out)
