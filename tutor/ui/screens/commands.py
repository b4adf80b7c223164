"""Command-palette entries: every lesson and every path."""
from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class CourseCommands(Provider):
    def _items(self):
        app = self.app
        course = app.course
        for lid, e in course.entries.items():
            written = course.is_written(lid)
            yield (
                f"Lesson {lid}: {e.title}",
                partial(app.open_lesson, lid),
                f"{e.topic}: {', '.join(e.key_content)}" + ("" if written else " (not written yet)"),
            )
        for p in course.paths:
            yield (f"Path: {p.title}", partial(self._choose_path, p.id), f"{p.duration}: {' -> '.join(p.lessons)}")
        yield ("Roadmap", app.action_roadmap, "the five phases and the Path A / B branch")
        yield ("Learning paths", app.action_paths, "choose or build a path")
        yield ("Continue learning", app.continue_learning, "open the step where you stopped")
        yield ("Search the course", app.action_search, "prose, code, quizzes and your notes (/)")
        yield ("Notes and bookmarks", app.action_notes, "your notes and bookmarked steps, by lesson (N)")
        yield ("Progress dashboard", app.action_dashboard, "paths, sections, time, accuracy, review, streak")
        yield ("Review due questions", app.action_review, "spaced review across all lessons")
        yield ("Doctor", app.action_doctor, "this machine vs the course's requirements; the built-in model")

    def _choose_path(self, pid: str) -> None:
        self.app.store.set_active_path(pid)
        self.app.notify(f"Active path: {self.app.session.active_path_title()}")

    async def discover(self) -> Hits:
        for name, cb, help_ in self._items():
            yield DiscoveryHit(name, cb, help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, cb, help_ in self._items():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_)
