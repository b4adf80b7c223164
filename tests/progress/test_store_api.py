"""Round trips of every ProgressStore API against a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tutor.progress import SCHEMA_VERSION, LessonState, ProgressStore, StoreStatus, default_db_path

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "data" / "progress.db"


@pytest.fixture
def store(db_path):
    s = ProgressStore(db_path, fuzz_reviews=False)
    yield s
    s.close()


def test_default_db_path_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(tmp_path / "x" / "y"))
    p = default_db_path()
    assert p == tmp_path / "x" / "y" / "progress.db"
    assert p.parent.is_dir()
    assert (p.parent.stat().st_mode & 0o777) == 0o700


def test_default_db_path_platformdirs(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.delenv("FM_TUTOR_DATA_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda name: str(tmp_path / "pd" / name))
    assert default_db_path() == tmp_path / "pd" / "fm-tutor" / "progress.db"


def test_store_none_uses_default(tmp_path):
    s = ProgressStore()
    try:
        assert s.path == tmp_path / "data" / "progress.db"
        assert s.status == StoreStatus(persistent=True, message=None)
        assert s.path.exists()
    finally:
        s.close()


def test_pragmas_and_schema(store, db_path):
    assert store.path == db_path
    assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "meta",
        "settings",
        "lessons",
        "steps",
        "activity",
        "cell_edits",
        "cell_runs",
        "quiz_attempts",
        "exercise_results",
        "review_cards",
        "review_logs",
    } <= tables
    conn.close()
    w = store._wconn
    assert w.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert w.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert w.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_memory_store():
    s = ProgressStore(":memory:")
    try:
        assert s.path is None and s.status.persistent is False
        s.open_lesson("01")
        assert s.lesson_state("01").status == "in_progress"
    finally:
        s.close()


def test_settings(store):
    assert store.active_path() is None
    assert store.custom_path() == []
    store.set_active_path("quick-tour")
    store.set_custom_path(["01", "05", "12"])
    assert store.active_path() == "quick-tour"
    assert store.custom_path() == ["01", "05", "12"]
    store.set_active_path(None)
    assert store.active_path() is None


def test_lessons_and_steps(store):
    assert store.lesson_state("01") == LessonState(lesson_id="01")
    assert store.all_lesson_states() == {}
    assert store.last_position() is None

    store.open_lesson("01")
    st = store.lesson_state("01")
    assert st.status == "in_progress" and st.started_at and st.last_step is None
    assert store.last_position() == ("01", None)

    store.step_shown("01", "1-intro")
    store.step_shown("01", "3-in-context-learning")
    store.add_step_time("01", "1-intro", 2.5)
    store.add_step_time("01", "1-intro", 1.5)
    store.add_step_time("01", "3-in-context-learning", 4.0)
    st = store.lesson_state("01")
    assert st.last_step == "3-in-context-learning"
    assert st.steps_seen == {"1-intro", "3-in-context-learning"}
    assert st.seconds == pytest.approx(8.0)
    assert store.step_times("01") == {"1-intro": pytest.approx(4.0), "3-in-context-learning": pytest.approx(4.0)}
    assert store.last_position() == ("01", "3-in-context-learning")
    assert len(store.activity()) == 3
    assert [a["seconds"] for a in store.activity()] == [2.5, 1.5, 4.0]

    first_seen = store.export_json()["tables"]["steps"][0]["first_seen"]
    store.step_shown("01", "1-intro")  # first seen time is kept
    assert store.export_json()["tables"]["steps"][0]["first_seen"] == first_seen

    store.set_lesson_done("01")
    st = store.lesson_state("01")
    assert st.status == "done" and st.completed_at
    store.open_lesson("01")  # reopening a done lesson keeps it done
    assert store.lesson_state("01").status == "done"
    store.set_lesson_done("01", False)
    st = store.lesson_state("01")
    assert st.status == "in_progress" and st.completed_at is None

    store.open_lesson("02")
    store.set_lesson_done("03")
    assert store.last_position() == ("02", None)
    assert set(store.all_lesson_states()) == {"01", "02", "03"}
    assert store.all_lesson_states()["03"].status == "done"
    store.step_shown("01", "1-intro")
    assert store.last_position() == ("01", "1-intro")


def test_cells(store):
    assert store.cell_edit("01", "c1") is None
    store.save_cell_edit("01", "c1", "x = 1\n")
    store.save_cell_edit("01", "c1", "x = 2\n")
    store.save_cell_edit("01", "c2", "y = 'ü'\n")
    assert store.cell_edit("01", "c1") == "x = 2\n"
    assert store.cell_edit("01", "c2") == "y = 'ü'\n"
    store.clear_cell_edit("01", "c1")
    assert store.cell_edit("01", "c1") is None
    assert store.cell_edit("01", "c2") == "y = 'ü'\n"

    store.record_cell_run("01", "c1", "abc123", "ok", 0.25)
    store.record_cell_run("01", "c1", "def456", "error", 1.5)
    store.record_cell_run("02", "c9", "zzz", "ok", 0.1)
    runs = store.cell_runs("01")
    assert [(r["cell_id"], r["code_hash"], r["status"], r["duration"]) for r in runs] == [
        ("c1", "abc123", "ok", 0.25),
        ("c1", "def456", "error", 1.5),
    ]
    assert all(r["at"].endswith("+00:00") for r in runs)


def test_edit_survives_reopen(db_path):
    s = ProgressStore(db_path)
    s.save_cell_edit("04", "cell-attn", "print('edited')\n")
    s.close()
    s2 = ProgressStore(db_path)
    try:
        assert s2.cell_edit("04", "cell-attn") == "print('edited')\n"
    finally:
        s2.close()


def test_quizzes_and_exercises(store):
    store.record_quiz_attempt("01", "q1", {"choice": 2}, False, 3.0)
    store.record_quiz_attempt("01", "q1", {"choice": 1}, True, 2.0)
    store.record_quiz_attempt("01", "q2", ["a", "b"], True, 1.0)
    store.record_quiz_attempt("01", "q2", "free text", False, 1.0)
    store.record_quiz_attempt("02", "q1", None, True, 1.0)
    attempts = store.quiz_attempts("01")
    assert [(a["question_id"], a["answer"], a["correct"]) for a in attempts] == [
        ("q1", {"choice": 2}, False),
        ("q1", {"choice": 1}, True),
        ("q2", ["a", "b"], True),
        ("q2", "free text", False),
    ]
    assert len(store.quiz_attempts()) == 5
    assert store.latest_quiz_results("01") == {"q1": True, "q2": False}
    assert store.latest_quiz_results("02") == {"q1": True}
    with pytest.raises(TypeError):
        store.record_quiz_attempt("01", "q3", object(), True, 1.0)

    store.record_exercise_result("01", "ex1", False, "assert failed")
    store.record_exercise_result("01", "ex1", True, "ok")
    store.record_exercise_result("01", "ex1", False, "broke it again")
    store.record_exercise_result("01", "ex2", False, "nope")
    assert store.exercise_results("01") == {"ex1": True, "ex2": False}
    assert store.exercise_results("99") == {}


def test_reads_see_own_writes_immediately(store):
    for i in range(200):
        store.save_cell_edit("01", "c", f"v{i}")
        assert store.cell_edit("01", "c") == f"v{i}"
        store.add_step_time("01", "s", 1.0)
    assert store.step_times("01") == {"s": 200.0}


def test_flush_and_close_idempotent(db_path):
    s = ProgressStore(db_path)
    for i in range(100):
        s.add_step_time("01", f"s{i}", 1.0)
    assert s.flush(10) is True
    s.close()
    s.close()
    s.add_step_time("01", "late", 1.0)  # after close: dropped, reported, never raises
    assert "closed" in (s.status.message or "")
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 100
    conn.close()


def test_failed_write_goes_to_status(store):
    store._submit(lambda db: db.execute("INSERT INTO no_such_table VALUES (1)"), "a bad write")
    store.flush()
    assert store.status.write_errors == 1
    assert "could not save a bad write" in store.status.message
    store.open_lesson("01")  # the writer keeps going
    assert store.lesson_state("01").status == "in_progress"


def _populate(s: ProgressStore) -> None:
    s.set_active_path("core")
    s.set_custom_path(["01", "02"])
    for lesson in ("01", "02"):
        s.open_lesson(lesson)
        s.step_shown(lesson, "1-a")
        s.add_step_time(lesson, "1-a", 3.0)
        s.save_cell_edit(lesson, "c1", f"code {lesson}")
        s.record_cell_run(lesson, "c1", "h", "ok", 0.5)
        s.record_quiz_attempt(lesson, "q1", {"x": [1, 2]}, True, 1.0)
        s.record_exercise_result(lesson, "ex", True, "fine")
        s.review_answer(f"{lesson}:q1", lesson, True, now=T0)
        s.review_answer(f"{lesson}:q1", lesson, False, now=T0 + timedelta(days=1))
    s.set_lesson_done("01")
    s.set_bookmark("01", "s1", True)
    s.save_note("01", "s1", "RoPE finally clicked here")


def _tables(s: ProgressStore) -> dict:
    return s.export_json()["tables"]


def test_export_import_round_trip(tmp_path, store):
    _populate(store)
    dump = store.export_json()
    assert dump["schema_version"] == SCHEMA_VERSION
    assert all(dump["tables"][t] for t in dump["tables"]), "every table has rows"

    import json

    dump = json.loads(json.dumps(dump))  # through real JSON
    other = ProgressStore(tmp_path / "other.db")
    try:
        other.open_lesson("99")  # replaced by the import
        other.import_json(dump)
        assert _tables(other) == dump["tables"]
        assert other.all_lesson_states() == store.all_lesson_states()
        assert other.due_cards(T0 + timedelta(days=400)) == store.due_cards(T0 + timedelta(days=400))
        assert other.last_position() == store.last_position()
    finally:
        other.close()
    with pytest.raises(ValueError):
        store.import_json({"nope": 1})
    with pytest.raises(ValueError):
        store.import_json({"schema_version": SCHEMA_VERSION + 1, "tables": {}})
    with pytest.raises(ValueError):
        store.import_json({"tables": {"lessons": [{"lesson_id": "01", "bogus": 1}]}})
    with pytest.raises(ValueError):
        store.import_json({"tables": {"no_such_table": []}})
    assert store.export_json()["tables"] == dump["tables"]  # failed imports changed nothing


def test_import_of_bad_rows_keeps_old_data(store):
    store.open_lesson("01")
    store.import_json({"tables": {"lessons": [{"lesson_id": None, "status": None}]}})  # NOT NULL violation
    store.flush()
    assert store.status.write_errors == 1 and "imported progress" in store.status.message
    assert store.lesson_state("01").status == "in_progress"  # rolled back as a whole


def test_reset_one_lesson(store):
    _populate(store)
    store.open_lesson("02")
    store.reset("02")
    t = _tables(store)
    for name in (
        "lessons",
        "steps",
        "activity",
        "cell_edits",
        "cell_runs",
        "quiz_attempts",
        "exercise_results",
        "review_cards",
    ):
        assert {r["lesson_id"] for r in t[name]} == {"01"}, name
    assert {r["key"] for r in t["review_logs"]} == {"01:q1"}
    assert store.last_position() is None  # last lesson was 02
    assert store.active_path() == "core" and store.custom_path() == ["01", "02"]
    assert store.lesson_state("02") == LessonState(lesson_id="02")
    assert store.lesson_state("01").status == "done"


def test_reset_all(store):
    _populate(store)
    store.reset()
    assert all(rows == [] for rows in _tables(store).values())
    assert store.all_lesson_states() == {}
    assert store.schema_version() == SCHEMA_VERSION
    store.open_lesson("05")  # still usable
    assert store.last_position() == ("05", None)


def test_progress_imports_no_ui_or_ml_libraries():
    import subprocess
    import sys

    code = "import sys, progress; print(sorted(m for m in ('textual', 'torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_bookmarks_and_notes(store):
    store.set_bookmark("02", "kaplan", True)
    store.set_bookmark("02", "kaplan", True)  # twice is once
    store.set_bookmark("01", "intro", True)
    assert store.is_bookmarked("02", "kaplan")
    assert [(b["lesson_id"], b["step_id"]) for b in store.bookmarks()] == [("01", "intro"), ("02", "kaplan")]
    store.set_bookmark("01", "intro", False)
    assert not store.is_bookmarked("01", "intro")
    store.save_note("02", "kaplan", "first draft")
    store.save_note("02", "kaplan", "Kaplan: N grows faster than D")
    assert store.note("02", "kaplan") == "Kaplan: N grows faster than D"
    assert [n["text"] for n in store.notes()] == ["Kaplan: N grows faster than D"]
    store.save_note("02", "kaplan", "   ")  # a blank note is no note
    assert store.note("02", "kaplan") is None and store.notes() == []


def test_notes_migrate_from_v2(tmp_path):
    """A v2 database (before notes) opens, migrates, and keeps its rows; notes work afterwards."""
    import sqlite_utils

    from tutor.progress import schema

    path = tmp_path / "progress.db"
    db = sqlite_utils.Database(path)
    db.conn.execute("BEGIN IMMEDIATE")
    schema.migrate(db, upto=2)
    db.conn.execute("COMMIT")
    db.execute("INSERT INTO lessons(lesson_id, status) VALUES ('03', 'done')")
    db.conn.commit()
    db.close()
    s = ProgressStore(path)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.lesson_state("03").status == "done"
        s.save_note("03", "emergence", "sharp vs smooth metrics")
        assert s.note("03", "emergence") == "sharp vs smooth metrics"
    finally:
        s.close()
