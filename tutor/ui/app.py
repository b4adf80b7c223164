"""The Textual application: its start (the home screen first, the background work after the first paint), the
lesson kernels' pool, and navigation between the screens. The processes beside it (model server, kernels' end,
hang-up, state dumps) are :mod:`tutor.ui.processes`'.

Heavy things never load here: no torch, no transformers. Kernel work happens in other processes.
"""
from __future__ import annotations

import gc
import logging
import os
import time
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding

from tutor.core.config import ENV_ANSI, env_flag
from tutor.course import Course
from tutor.learning.session import LearningSession
from tutor.progress import ProgressStore
from tutor.ui.processes import ProcessLifecycle
from tutor.ui.screens.commands import CourseCommands
from tutor.ui.services import Services, build_services

log = logging.getLogger(__name__)


class TutorApp(ProcessLifecycle, App[int]):
    """fm-tutor: the course home, roadmap, paths, lesson reader and help."""

    TITLE = "fm-tutor"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {CourseCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("H", "go_home", "Home", id="home", show=False),
        Binding("M", "roadmap", "Roadmap", id="roadmap", show=False),
        Binding("P", "paths", "Paths", id="paths", show=False),
        Binding("slash", "search", "Search", id="search", show=False),
        Binding("N", "notes", "Notes", id="notes", show=False),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        course: Course | None = None,
        store: ProgressStore | None = None,
        start: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        services: Services | None = None,
    ) -> None:
        """``services``: what the command line built (configuration, course, store, model server, kernel pool
        factory; :func:`tutor.ui.services.build_services`). Without it the app builds the same from the settings
        (tests pass just a course and a store)."""
        if services is None:
            services = build_services(course=course, store=store, data_dir=data_dir)
        cfg = services.config
        ansi = env_flag(ENV_ANSI, False) or os.environ.get("TERM") == "linux"
        super().__init__(ansi_color=ansi)
        self.services = services
        self.config = cfg
        self._config_error = services.config_error
        self.course = services.course
        self.store = services.store
        self.start = start or {}
        self.started_at = time.monotonic()
        self._kernels = None  # tutor.kernel.KernelPool, made by services.kernels when the first lesson opens
        self.gpu_available = False  # learned in the background from nvidia-smi (never by importing torch)
        self.kernel_keep_alive = float(cfg.kernel.keep_alive)
        self.kernel_detach_idle = services.detach_idle  # 0: kernels and model server stop with the app
        self.kernel_host = cfg.kernel.host.strip() or None  # kernels (and the model) run there, over SSH
        self._hangup_installed = False
        self.output_limits: dict = {"max_lines": cfg.kernel.max_lines, "max_bytes": cfg.kernel.max_bytes}
        self.quiz_threshold = float(cfg.quiz.pass_threshold)
        self.session = LearningSession(self.course, self.store, self.quiz_threshold)  # the course's rules, no UI
        self._server = services.model_server  # -> tutor.backend.supervisor.ModelServer, made and started a second after the first paint
        self.model_server = None  # the server once started
        self.model_status = ""
        self._search_index = None  # tutor.search.SearchIndex, opened (built if need be) when first searched
        self.exit_notes: list[str] = []  # what keeps running after exit (printed by the CLI once the screen is gone)

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self):
        """The home screen is the bottom of the stack: composed with the app, painted in its first frame (pushed
        from ``on_mount`` it was laid out and rendered inside Textual's start-up batch, thrown away, and rendered
        again after the terminal's first resize: about twice the cost of the frame before the first paint)."""
        from tutor.ui.screens.home import HomeScreen

        return HomeScreen()

    def on_mount(self) -> None:
        self._dump_state_on_usr2()
        if self._config_error:
            self.notify(f"Config ignored, using defaults: {self._config_error}", severity="error", timeout=15)
        st = self.store.status
        if not st.persistent or st.message:
            self.notify(st.message or "progress is not being saved", severity="warning" if st.persistent else "error", timeout=10)
        if self.start.get("path"):
            self.store.set_active_path(self.start["path"])
            nxt = self.session.next_lesson_on_path()
            if nxt:
                self.open_lesson(nxt)
            else:
                self.action_paths()
        elif self.start.get("screen") == "review":
            self.action_review()
        elif self.start.get("screen") == "dashboard":
            self.action_dashboard()
        elif self.start.get("screen") == "doctor":
            self.action_doctor()
        elif self.start.get("lesson"):
            self.open_lesson(self.start["lesson"], self.start.get("step"))

        # The background work starts once the first screen is painted: its threads (nvidia-smi, importing
        # jupyter_client, parsing every lesson) would otherwise hold the GIL while the home screen is laid out.
        if self.kernel_detach_idle > 0:
            self._install_hangup()
        self.call_after_refresh(self._start_background)
        if self.kernel_host:  # no local server: the remote kernels start one there on first use (tutor.runtime)
            self.model_status = f"kernels · model on {self.kernel_host}"

    def _start_background(self) -> None:
        """GPU probe, culling detached kernels, the preload: off the UI thread, after the first paint; the model
        server a second later (its process imports torch, which would take the CPUs from the first paint)."""
        if not gc.isenabled():
            # the command line turned the collector off for the start-up (tutor.cli.main); it comes back on a second
            # later: a collection now would hold the GIL while the driver's thread writes this frame to the terminal
            self.set_timer(1.0, self._collect_start_up)
        if not self.is_running:
            return
        if not self.kernel_host and self._server is not None:
            self.set_timer(1.0, self.start_model_server)
        self.run_worker(self._probe_gpu, thread=True, exit_on_error=False, group="probe")
        if self.kernel_detach_idle > 0:
            # cull kernels (and a model server) detached too long ago even if no lesson gets opened (a new pool
            # culls kernels itself, a starting model server culls the server)
            kernels = self._kernels is None
            self.run_worker(lambda: self._cull_detached(kernels), thread=True, exit_on_error=False, group="probe")
        # import the kernel machinery off the UI thread, so the first lesson opened does not pay for it
        self.run_worker(self._preload, thread=True, exit_on_error=False, group="probe")

    @staticmethod
    def _collect_start_up() -> None:
        """Collect the start-up's garbage, freeze what is left (it lives as long as the app: out of the collector's
        generations, as :meth:`prebuild_reader` does) and turn the collector back on."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        gc.enable()

    def _preload(self) -> None:
        """Import what opening a lesson needs, and parse the lessons, off the UI thread, while the learner looks
        at the home screen (the dashboard and the review screen need every lesson parsed)."""
        import jupyter_client.asynchronous  # noqa: F401
        import jupyter_client.kernelspec  # noqa: F401
        from textual.widgets import Input, TextArea

        import tutor.course.parser  # noqa: F401
        import tutor.kernel  # noqa: F401
        import tutor.ui.screens.cells  # noqa: F401
        import tutor.ui.screens.reader  # noqa: F401

        try:  # the Python grammar for TextArea's highlighting (tree-sitter), if installed
            TextArea(language="python")
        except Exception:
            log.debug("_preload: caught and carried on", exc_info=True)
        del Input
        for lid in self.course.written_ids():
            try:
                self.course.lesson(lid)
            except Exception:  # a broken lesson is reported when it is opened
                log.debug("_preload: a broken lesson is reported when it is opened", exc_info=True)
        try:
            self.call_from_thread(self.prebuild_reader)
        except RuntimeError:  # the app is gone
            pass

    # ------------------------------------------------------------------ kernels
    def kernel_pool(self):
        """The pool of lesson kernels (one per open lesson), made by the services' factory on first use."""
        if self._kernels is None:
            self._kernels = self.services.kernels()
        return self._kernels

    def on_unmount(self) -> None:
        if self._search_index is not None:
            self._search_index.close()
        self._release_model_server()
        self._stop_kernels()
        if self._hangup_installed:
            import asyncio
            import signal

            try:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            except Exception:
                log.debug("on_unmount: caught and carried on", exc_info=True)
        try:
            self.store.flush()
            self.store.close()
        except Exception:  # never lose the exit over a flush problem; the store reports in status
            log.debug("on_unmount: never lose the exit over a flush problem; the store reports in status", exc_info=True)

    # ------------------------------------------------------------------ navigation
    def open_lesson(self, lesson_id: str, step_id: str | None = None, _retry: int = 0,
                    reveal: tuple[str, ...] = ()) -> None:
        """Open the reader at the lesson's step; ``reveal``: words of a search, scrolled into view."""
        from tutor.ui.screens.reader import ReaderScreen

        lesson = self.course.lesson(lesson_id)
        if lesson is None:
            if lesson_id not in self.course.entries:
                self.notify(f"There is no lesson {lesson_id}.", severity="warning")
                return
            from tutor.learning.outline import lesson_outline
            from tutor.ui.screens.outline import OutlineScreen

            # not written yet: its outline page (course index), with a way on to the next written lesson
            self.push_screen(OutlineScreen(lesson_outline(self.course, lesson_id, self.session.active_path_lessons())))
            return
        if lesson.errors:  # the one acceptance policy: a read-only page of check's lines, no cells
            from tutor.ui.screens.problems import LessonProblemsScreen

            self.push_screen(LessonProblemsScreen(lesson))
            return
        if step_id is None:
            step_id = self.store.lesson_state(lesson_id).last_step
        reader = self.reader_screen()
        if reader is not None and not reader.is_mounted and _retry < 50:  # being built right now: in a moment
            self.set_timer(0.01, lambda: self.open_lesson(lesson_id, step_id, _retry=_retry + 1, reveal=reveal))
            return
        if reader is None or not reader.is_mounted:  # not built yet: build it with the lesson in its first page
            if reader is not None:
                self.uninstall_screen(reader)
            reader = ReaderScreen(lesson, step_id)
            reader.reveal(reveal)
            self._reader = reader
            self.install_screen(reader, self._reader_name())
            self.push_screen(reader)
            return
        # The step is mounted while the reader is still off screen, and the screen is shown once it is in: one
        # layout and one paint, with the step in it (showing it first would paint the old page, then this one).
        gc.disable()  # no collection pause between here and the paint (the reader's _painted turns it back on)
        self.set_timer(2.0, gc.enable)  # and if that paint never comes, in 2 s anyway
        mounted = reader.load(lesson, step_id)
        reader.reveal(reveal)

        async def show() -> None:
            if mounted is not None:
                await mounted
            if reader in self.screen_stack:  # under a help screen, the palette, a modal: go back down to it
                while self.screen is not reader and len(self.screen_stack) > 1:
                    self.pop_screen()
            else:
                self.push_screen(reader)

        self.call_next(show)

    # One reader screen for the app's lifetime: building a screen's frame (top bar, table of steps, key bar) costs
    # more than the step itself, so it is composed once, while the learner is on the home screen, and reused.
    def _reader_name(self) -> str:
        return "reader"

    def reader_screen(self):
        """The app's reader screen, or None before it is built."""
        return getattr(self, "_reader", None)

    def prebuild_reader(self) -> None:
        """Compose the (empty) reader off screen, so the first lesson opened only lays out its step."""
        from tutor.ui.screens.reader import ReaderScreen

        if self.reader_screen() is not None or not self.is_running:
            return
        self._reader = ReaderScreen()
        self.install_screen(self._reader, self._reader_name())
        self.push_screen(self._reader)  # mounted (composed) now; popped before the next repaint, so never seen
        self.pop_screen()
        lessons = [les for les in (self.course.lesson(lid) for lid in self.course.written_ids()[:3]) if les]
        self.call_after_refresh(self._reader.warm_up, lessons)
        # The objects made so far (the parsed course, widgets, imports) live as long as the app: take them out of
        # the garbage collector's generations, so a full collection never walks them in the middle of a paint.
        self.call_after_refresh(gc.freeze)

    def continue_learning(self) -> None:
        """Resume at the exact step where the learner stopped, or start the path's next lesson."""
        target = self.session.resume_target()
        if target is None:
            self.notify("No lesson is written yet.", severity="warning")
        else:
            self.open_lesson(*target)

    def _replace_top(self, screen_cls) -> None:
        from tutor.ui.screens.home import HomeScreen

        # keep the stack shallow: home at the bottom, one screen above it
        while len(self.screen_stack) > 2 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if isinstance(self.screen, screen_cls):
            return
        if not isinstance(self.screen, HomeScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen_cls())

    def action_go_home(self) -> None:
        from tutor.ui.screens.home import HomeScreen

        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()

    def action_roadmap(self) -> None:
        from tutor.ui.screens.roadmap import RoadmapScreen

        self._replace_top(RoadmapScreen)

    def action_paths(self) -> None:
        from tutor.ui.screens.paths import PathsScreen

        self._replace_top(PathsScreen)

    def action_dashboard(self) -> None:
        from tutor.ui.screens.dashboard import DashboardScreen

        self._replace_top(DashboardScreen)

    def action_doctor(self) -> None:
        from tutor.ui.screens.doctor import DoctorScreen

        self._replace_top(DoctorScreen)

    def action_review(self) -> None:
        from tutor.ui.screens.review import ReviewScreen

        self._replace_top(ReviewScreen)

    def search_index(self):
        """The course's search index (opened, and built on first use, by whoever calls it: a worker thread)."""
        if self._search_index is None:
            from tutor.search import SearchIndex

            self._search_index = SearchIndex(self.course)
        return self._search_index.open()

    def action_search(self) -> None:
        from tutor.ui.screens.search import SearchScreen

        if not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen())

    def action_notes(self) -> None:
        from tutor.ui.screens.search import NotesScreen

        self._replace_top(NotesScreen)

    def action_help(self) -> None:
        from tutor.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def compose(self) -> ComposeResult:
        yield from ()
