"""Progress dashboard: path and section bars, time, quiz accuracy (weakest first), review, streak, plan."""
from __future__ import annotations

import logging

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tutor.core.glyphs import bar
from tutor.learning.summaries import Summary, fmt_duration, summarize
from tutor.ui.screens.paint import PaintOnceScreen
from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)


def _plot_widgets(s: Summary):
    """Activity over time and accuracy by section, drawn with textual-plotext (skipped if unavailable)."""
    try:
        from textual_plotext import PlotextPlot
    except Exception:  # pragma: no cover - optional rendering
        log.debug("_plot_widgets: pragma: no cover - optional rendering", exc_info=True)
        return []

    class ActivityPlot(PlotextPlot):
        def on_mount(self) -> None:
            plt = self.plt
            days = list(s.activity_by_day)[-14:]
            mins = [round(s.activity_by_day[d] / 60, 1) for d in days]
            if len(days) >= 2:
                plt.bar([d[5:] for d in days], mins)
                plt.ylim(0, max(mins) * 1.2 or 1)
                plt.title("minutes studied per day (last 14 active days)")
            else:  # one bar fills the whole plot: say so instead
                plt.title("minutes per day: too little data yet (a chart after two days of study)")

    class AccuracyPlot(PlotextPlot):
        def on_mount(self) -> None:
            plt = self.plt
            if s.accuracy_sections:
                plt.bar([a.id for a in s.accuracy_sections], [round(100 * a.fraction) for a in s.accuracy_sections])
                plt.ylim(0, 100)
            plt.title("quiz accuracy % by section")

    return [ActivityPlot(id="plot-activity"), AccuracyPlot(id="plot-accuracy")]


def week_label(key: str) -> str:
    """'2026-W49' -> 'week of 30 Nov 2026' (its Monday); any other key unchanged."""
    from datetime import date

    try:
        y, w = key.split("-W")
        return "week of " + date.fromisocalendar(int(y), int(w), 1).strftime("%d %b %Y").lstrip("0")
    except ValueError:
        return key


class DashboardScreen(PaintOnceScreen):  # its tables paint once when it opens (tutor.ui.screens.paint)
    BINDINGS = [
        Binding("escape", "app.go_home", "Home", id="dashboard.back"),
        Binding("c", "continue", "Continue", id="dashboard.continue"),
        Binding("r", "app.review", "Review", id="dashboard.review"),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        s = summarize(app.course, app.store, threshold=getattr(app, "quiz_threshold", 0.7))
        self.summary = s
        top = Text()
        top.append(" Progress ", style="bold reverse")
        top.append(f"  streak {s.streak} day{'s' if s.streak != 1 else ''}  ·  {s.due} review card{'s' if s.due != 1 else ''} due")
        yield Static(top, classes="topbar")
        with VerticalScroll(id="dashboard"):
            yield Static(Text.assemble(("Next: ", "bold"), s.next_action), id="next-action")
            yield Static(self._path_text(s), id="path-progress")
            with Horizontal(id="dash-bars"):
                yield Static(self._bars("Paths", [(b.title, b.done, b.total) for b in s.paths]), id="bars-paths")
                yield Static(self._bars("Sections", [(f"{b.id} {b.title}", b.done, b.total) for b in s.sections]), id="bars-sections")
            yield Static(self._accuracy(s), id="accuracy")
            yield Static(self._time(s), id="time")
            yield Static(self._review(s), id="review-stats")
            yield Horizontal(id="dash-plots")  # the plots are drawn after the first paint (plotext is slow)
        yield KeyBar()

    def on_mount(self) -> None:
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        self.first_paint_at = __import__("time").perf_counter()  # read by `fm-tutor bench dashboard`
        self.query_one("#dash-plots", Horizontal).mount_all(_plot_widgets(self.summary))

    @staticmethod
    def _path_text(s: Summary) -> Text:
        t = Text()
        if not s.path_title:
            t.append("No active path: choose one with p on the home screen.", style="dim")
            return t
        frac = s.path_done / s.path_total if s.path_total else 0
        t.append(f"{s.path_title}\n", style="bold")
        t.append(f"{bar(frac, 30)} {s.path_done}/{s.path_total} lessons done · {s.steps_seen}/{s.steps_total} steps seen")
        if s.week_of_plan:
            behind = (s.plan_expected_done or 0) - s.path_done
            t.append(f"\nWeek {s.week_of_plan} of {s.plan_weeks}: about {s.plan_expected_done} lessons should be done by now")
            t.append(f" — {'on track' if behind <= 0 else f'{behind} behind'}", style="green" if behind <= 0 else "yellow")
        return t

    @staticmethod
    def _bars(title: str, rows) -> Table:
        t = Table(title=title, title_justify="left", box=None, show_header=False, pad_edge=False, expand=True)
        t.add_column("name", ratio=3, no_wrap=True, overflow="ellipsis")
        t.add_column("bar", width=8, no_wrap=True)
        t.add_column("n", width=5, justify="right")
        for name, done, total in rows:
            t.add_row(name, bar(done / total if total else 0, 8), f"{done}/{total}")
        return t

    @staticmethod
    def _accuracy(s: Summary) -> Table:
        t = Table(title="Quiz accuracy, weakest first", title_justify="left", box=None, pad_edge=False, expand=True)
        t.add_column("lesson", ratio=3, no_wrap=True, overflow="ellipsis")
        t.add_column("right", justify="right", width=9)
        t.add_column("%", justify="right", width=5)
        if not s.accuracy_lessons:
            t.add_row("no answers yet", "", "")
        for a in s.accuracy_lessons[:8]:
            t.add_row(f"{a.id} {a.title}", f"{a.right}/{a.attempts}", f"{a.fraction:.0%}")
        t.add_row(Text(f"Exercises solved: {s.exercises_solved}/{s.exercises_total}", style="bold"), "", "")
        return t

    @staticmethod
    def _time(s: Summary) -> Text:
        t = Text("Time spent\n", style="bold")
        if not s.seconds_by_lesson:
            t.append("nothing recorded yet\n", style="dim")
        for lid, sec in sorted(s.seconds_by_lesson.items()):
            t.append(f"  lesson {lid}: {fmt_duration(sec)}\n")
        for wk, sec in list(s.seconds_by_week.items())[-6:]:
            t.append(f"  {week_label(wk)}: {fmt_duration(sec)}\n", style="dim")
        return t

    @staticmethod
    def _review(s: Summary) -> Text:
        t = Text("Review\n", style="bold")
        t.append(f"  {s.due} due today; ")
        if s.retention is None:
            t.append("no reviews in the last 30 days")
        else:
            t.append(f"retention {s.retention:.0%} over {s.reviews_30d} reviews in 30 days")
        return t

    def action_continue(self) -> None:
        self.app.continue_learning()
