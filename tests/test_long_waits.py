"""Long waits show their progress (issue 14, item 10): `A` (run the whole lesson) keeps its elapsed seconds
ticking while a long cell runs, and ends with a summary."""
from __future__ import annotations

import re

import pytest

from tutor.course import load_course
from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp

from .helpers import wait_for, widget_text

pytestmark = pytest.mark.timeout(180)


async def test_run_all_elapsed_time_ticks_during_a_long_cell(fixture_course, tmp_path):
    lesson = next((fixture_course / "lessons").glob("01_*.md"))
    text = lesson.read_text(encoding="utf-8")
    assert "print(round(math.sqrt(2), 6))" in text
    lesson.write_text(text.replace("print(round(math.sqrt(2), 6))",
                                   "import time\ntime.sleep(4)\nprint(round(math.sqrt(2), 6))"), encoding="utf-8")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **kw: (said.append(str(message)), notify(message, *a, **kw))[1]
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_lesson("01")
        await pilot.pause()
        await pilot.press("A")
        seen: set[str] = set()

        def top() -> bool:
            m = re.search(r"running cell 1 of 2 \(sqrt-two\) · (\d+) s", widget_text(app.screen.query_one("#topbar")))
            if m:
                seen.add(m.group(1))
            return len(seen) >= 2

        # the same cell, two different elapsed times: the line ticks while the cell runs
        assert await wait_for(pilot, top, 90), seen
        assert await wait_for(pilot, lambda: any(m.startswith("Run all") for m in said), 120), said
        assert "Run all done: 2 of 2 cells ran" in next(m for m in said if m.startswith("Run all"))
        assert "running cell" not in widget_text(app.screen.query_one("#topbar"))
