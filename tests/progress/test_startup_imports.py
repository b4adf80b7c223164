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
