"""Opening the store and reading it (what the home screen does before its first paint) imports neither sqlite-utils
(numpy, dateutil, its plugins) nor fsrs; they come in with the first write or review, on the writer thread."""
import json
import subprocess
import sys

SCRIPT = r"""
import json, sys, threading
from tutor.progress import ProgressStore
heavy = ("sqlite_utils", "numpy", "fsrs", "dateutil", "pluggy")
def loaded():
    return sorted(m for m in heavy if m in sys.modules)
s = ProgressStore(sys.argv[1])
s.all_lesson_states(); s.active_path(); s.due_count(); s.last_position(); s.quiz_totals(); s.activity_by_day()
after_reads = loaded()
s.step_shown("01", "1-intro"); s.set_active_path("core"); s.save_cell_edit("01", "c1", "x = 1")
s.record_quiz_attempt("01", "q1", "a", True, 1.0); s.flush()
state = s.lesson_state("01")
s.review_answer("01:q1", "01", True); s.flush()
print(json.dumps({"after_reads": after_reads, "after_review": loaded(), "path": s.active_path(),
                  "edit": s.cell_edit("01", "c1"), "seen": sorted(state.steps_seen), "due": len(s.due_cards()),
                  "errors": s.status.write_errors}))
s.close()
"""


def test_open_and_read_without_the_heavy_imports(tmp_path):
    db = tmp_path / "p.db"
    for _ in range(2):  # a fresh database (migrations run) and an existing one
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["after_reads"] == [], got
        assert "fsrs" in got["after_review"], got  # the review really ran, through fsrs
        assert (got["path"], got["edit"], got["seen"], got["errors"]) == ("core", "x = 1", ["1-intro"], 0), got


def _meta(db) -> dict:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()


def test_opening_a_current_database_writes_nothing_before_the_writer(tmp_path, monkeypatch):
    """Opening a database already at this schema takes the write lock (a read-only one shows at once) but commits
    nothing on the caller's thread: a commit (WAL file created, on a busy disk a long wait) came before the TUI's first
    paint. The ``last_opened`` stamp is still written, by the writer thread."""
    from tutor.progress import ProgressStore
    from tutor.progress.durable import DurableStore

    db = tmp_path / "p.db"
    ProgressStore(db).close()  # created and migrated: that open commits
    first = _meta(db)["last_opened"]
    stamps = []
    real = DurableStore._stamp_opened
    monkeypatch.setattr(DurableStore, "_stamp_opened", lambda self: stamps.append(self._opened_at))
    s = ProgressStore(db)
    try:
        assert s.status.persistent and s.status.message is None
        assert _meta(db)["last_opened"] == first  # the open committed nothing
        assert len(stamps) == 1 and stamps[0] > first  # the writer was handed the stamp to write
    finally:
        s.close()
    monkeypatch.setattr(DurableStore, "_stamp_opened", real)
    s = ProgressStore(db)
    s.close()
    assert _meta(db)["last_opened"] > first  # and it does write it
    assert s.status.write_errors == 0
