"""Dashboard: the summary, the screen (Pilot + snapshots) on a fixture database, the progress CLI round trip."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.cli import main
from tutor.course import load_course
from tutor.learning.summaries import summarize
from tutor.ui.screens.dashboard import DashboardScreen

from .dashboard_fixture import BASE, make_export
from .helpers import texts

pytestmark = pytest.mark.timeout(120)


def fixture_store(path, n=60):
    store = ProgressStore(path)
    store.import_json(make_export(n))
    store.flush()
    return store


def test_summary_numbers(fixture_course, tmp_path):
    store = fixture_store(tmp_path / "p.db")
    course = load_course(fixture_course)
    s = summarize(course, store, now=BASE + timedelta(days=9, hours=1))
    assert s.path_title == "Quick Practical Application" and (s.path_done, s.path_total) == (1, 6)
    assert {b.id: (b.done, b.total) for b in s.paths}["quick"] == (1, 6)
    assert s.sections[0].done == 1 and s.sections[0].total == 3
    assert [a.id for a in s.accuracy_lessons] == sorted(["01", "02", "07"], key=lambda l: s.accuracy_lessons[[a.id for a in s.accuracy_lessons].index(l)].fraction)
    assert s.accuracy_lessons[0].fraction <= s.accuracy_lessons[-1].fraction  # weakest first
    assert sum(s.seconds_by_week.values()) == pytest.approx(sum(r["seconds"] for r in make_export(60)["tables"]["activity"]))
    assert s.streak >= 1  # active on consecutive days up to 'now'
    # the plan expects all 6 by week 2, but only lesson 01 of the path exists in the fixture course
    assert s.week_of_plan == 2 and s.plan_weeks == 2 and s.plan_expected_done == 1
    assert s.due == 0 and s.retention == 1.0 and s.reviews_30d == 3
    assert s.exercises_solved == 1
    # lesson 02 (last position) is not written in the fixture course, so the weakest quiz is next
    assert s.next_action.startswith("Retry the quiz of lesson 07")
    later = summarize(course, store, now=BASE + timedelta(days=11))
    assert later.due == 3 and later.streak == 0
    assert later.next_action == "Review 3 cards due today (press r on the home screen)"


def test_streak_counts_consecutive_days(fixture_course, tmp_path):
    store = ProgressStore(tmp_path / "p.db")
    now = datetime.now(timezone.utc)
    for lid in ("01",):
        store.add_step_time(lid, "x", 60)
    store.flush()
    s = summarize(load_course(fixture_course), store, now=now)
    assert s.streak == 1
    s2 = summarize(load_course(fixture_course), store, now=now + timedelta(days=3))
    assert s2.streak == 0


async def test_dashboard_screen_pilot(fixture_course, tmp_path):
    app = TutorApp(course=load_course(fixture_course), store=fixture_store(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        text = texts(app.screen.query("Static"))
        assert "Quick Practical Application" in text and "1/6 lessons done" in text
        assert "Quiz accuracy, weakest first" in text and "Exercises solved: 1/" in text
        assert "Week 2 of 2" in text
        assert app.screen.query_one("#plot-activity") is not None
        await pilot.press("escape")
        assert not isinstance(app.screen, DashboardScreen)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_snapshot(snap_compare, fixture_course, tmp_path, size):
    app = TutorApp(course=load_course(fixture_course), store=fixture_store(tmp_path / "p.db"))

    async def go(pilot):
        await pilot.press("d")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=go)


def test_progress_cli_export_import_round_trip(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(tmp_path / "a"))
    store = fixture_store(tmp_path / "a" / "progress.db")
    store.close()
    out = tmp_path / "export.json"
    assert main(["progress", "--json", "-o", str(out)]) == 0
    first = json.loads(out.read_text())
    assert main(["progress", "--csv", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "quiz_attempts.csv").read_text().count("\n") == 61
    # import into a different, fresh database
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(tmp_path / "b"))
    assert main(["progress", "import", str(out), "--yes"]) == 0
    out2 = tmp_path / "export2.json"
    assert main(["progress", "--json", "-o", str(out2)]) == 0
    assert json.loads(out2.read_text())["tables"] == first["tables"]
    capsys.readouterr()
    assert main(["progress"]) == 0
    assert "Quick Practical Application: 1/6 lessons done" in capsys.readouterr().out
    # reset one lesson, then everything
    assert main(["progress", "reset", "--lesson", "01", "--yes"]) == 0
    s = ProgressStore(tmp_path / "b" / "progress.db")
    assert "01" not in s.all_lesson_states() and "02" in s.all_lesson_states()
    s.close()
    assert main(["progress", "reset", "--yes"]) == 0
    s = ProgressStore(tmp_path / "b" / "progress.db")
    assert s.all_lesson_states() == {} and s.active_path() is None
    s.close()


def test_progress_reset_refuses_without_confirmation(tmp_path, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    assert main(["progress", "reset"]) == 1
