"""Doctor: this machine against the course's requirements, the built-in model's card, which GPU cells can run."""
from __future__ import annotations

import logging

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)


class DoctorScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.go_home", "Home", id="doctor.back"),
        Binding("g", "rerun", "Check again", id="doctor.rerun"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Text(" Doctor ", style="bold reverse"), classes="topbar")
        with VerticalScroll(id="doctor"):
            yield Static("Checking Python, packages, CUDA and the model (this starts a Python to load the model)...",
                         id="doctor-report")
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one("#doctor-report", Static).update("Checking...")
        self.run_worker(self._diagnose, thread=True, exclusive=True, group="doctor", exit_on_error=False)

    def _diagnose(self) -> None:
        from tutor.backend.doctor import diagnose, format_report

        try:
            rep = diagnose(self.app.course.root, config=self.app.config)
            text = format_report(rep)  # it ends with the verdict ("All is well for CPU use." or what to fix)
        except Exception as e:  # the doctor must never crash the app
            log.debug("_diagnose: the doctor must never crash the app", exc_info=True)
            text = f"The checks themselves failed: {e}"
        status = getattr(self.app, "model_status", "")
        if status:
            text += f"\n\nModel server now: {status}"
        self.app.call_from_thread(self.query_one("#doctor-report", Static).update, Text(text))
