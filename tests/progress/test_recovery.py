"""Opening damaged, unwritable and old databases."""

from __future__ import annotations

import os
import sqlite3

import pytest
import sqlite_utils

from tutor.progress import SCHEMA_VERSION, ProgressStore, schema
from tutor.progress import durable as store_mod

pytestmark = pytest.mark.timeout(60)


def _assert_fresh_after_corrupt(tmp_path, path):
    s = ProgressStore(path)
    try:
        assert s.status.persistent is True
        msg = s.status.message
        assert msg and "progress.db was corrupt; moved aside to progress.db.corrupt-" in msg
        assert "a fresh one was started" in msg
        aside = [
            p
            for p in tmp_path.iterdir()
            if p.name.startswith("progress.db.corrupt-") and "-wal" not in p.name and "-shm" not in p.name
        ]
        assert len(aside) == 1 and aside[0].name in msg
        s.open_lesson("01")
        assert s.lesson_state("01").status == "in_progress"
    finally:
        s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    s2 = ProgressStore(path)  # and the fresh file is fine next time
    try:
        assert s2.status.message is None
        assert s2.lesson_state("01").status == "in_progress"
    finally:
        s2.close()
    return aside[0]


def test_random_bytes_file(tmp_path):
    path = tmp_path / "progress.db"
    junk = os.urandom(64 * 1024)
    path.write_bytes(junk)
    aside = _assert_fresh_after_corrupt(tmp_path, path)
    assert aside.read_bytes() == junk  # kept intact for inspection


def test_text_file(tmp_path):
    path = tmp_path / "progress.db"
    path.write_text("this is not a database\n" * 100)
    _assert_fresh_after_corrupt(tmp_path, path)


def test_truncated_real_db(tmp_path):
    path = tmp_path / "progress.db"
    s = ProgressStore(path)
    for i in range(3000):
        s.save_cell_edit("01", f"c{i}", "x = 1\n" * 20)
        s.record_quiz_attempt("01", f"q{i}", {"a": i}, True, 1.0)
    s.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = path.stat().st_size
    assert size > 100_000
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    _assert_fresh_after_corrupt(tmp_path, path)


def test_corrupt_with_stale_wal_moves_wal_too(tmp_path):
    path = tmp_path / "progress.db"
    path.write_bytes(os.urandom(8192))
    (tmp_path / "progress.db-wal").write_bytes(os.urandom(8192))
    aside = _assert_fresh_after_corrupt(tmp_path, path)
    assert (tmp_path / (aside.name + "-wal")).exists()


def test_empty_file_is_just_a_new_db(tmp_path):
    path = tmp_path / "progress.db"
    path.write_bytes(b"")
    s = ProgressStore(path)
    try:
        assert s.status.message is None and s.status.persistent
    finally:
        s.close()


def test_uncreatable_dir_falls_back_to_memory(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("a regular file where a directory should be")
    s = ProgressStore(afile / "data" / "progress.db")
    try:
        assert s.status.persistent is False
        assert s.path is None
        assert "progress is NOT being saved" in s.status.message
        assert str(afile / "data") in s.status.message
        s.open_lesson("01")
        s.save_cell_edit("01", "c", "x")
        s.review_answer("01:q", "01", True)
        assert s.cell_edit("01", "c") == "x"
        assert s.lesson_state("01").status == "in_progress"
    finally:
        s.close()


def test_default_path_unusable(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("")
    monkeypatch.setenv("FM_TUTOR_DATA_DIR", str(afile / "sub"))
    s = ProgressStore()
    try:
        assert s.status.persistent is False and "NOT being saved" in s.status.message
    finally:
        s.close()


def test_readonly_db_keeps_a_readable_copy(tmp_path, monkeypatch):
    """Root ignores chmod, so simulate SQLite refusing to write."""
    path = tmp_path / "progress.db"
    s = ProgressStore(path)
    s.open_lesson("07")
    s.save_cell_edit("07", "c", "mine")
    s.close()

    real_connect = store_mod._connect

    def readonly_connect(target, uri=False):
        conn = real_connect(target, uri)
        if not uri:
            conn.close()
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return conn

    monkeypatch.setattr(store_mod, "_connect", readonly_connect)
    s = ProgressStore(path)
    try:
        assert s.status.persistent is False
        assert "read-only" in s.status.message and "NOT being saved" in s.status.message
        assert "read-only copy" in s.status.message
        assert s.cell_edit("07", "c") == "mine"
        s.save_cell_edit("07", "c", "changed in memory")
        assert s.cell_edit("07", "c") == "changed in memory"
    finally:
        s.close()
    monkeypatch.setattr(store_mod, "_connect", real_connect)
    s = ProgressStore(path)
    try:
        assert s.cell_edit("07", "c") == "mine"  # the file was not touched
    finally:
        s.close()


def test_migrates_v1_database(tmp_path):
    path = tmp_path / "progress.db"
    db = sqlite_utils.Database(path)
    db.conn.execute("BEGIN IMMEDIATE")
    assert schema.migrate(db, upto=1) == (0, 1)
    db.conn.execute("COMMIT")
    db.execute("INSERT INTO lessons(lesson_id, status, last_step) VALUES ('01', 'done', 's9')")
    db.execute("INSERT INTO cell_edits(lesson_id, cell_id, code) VALUES ('01', 'c', 'old code')")
    db.conn.commit()
    assert schema.get_version(db) == 1
    assert not [i for i in db["activity"].indexes]
    db.close()

    s = ProgressStore(path)
    try:
        assert s.schema_version() == SCHEMA_VERSION == 3
        assert s.lesson_state("01").status == "done"
        assert s.lesson_state("01").last_step == "s9"
        assert s.cell_edit("01", "c") == "old code"
        s.add_step_time("01", "s9", 1.0)
        assert s.step_times("01") == {"s9": 1.0}
    finally:
        s.close()
    db = sqlite_utils.Database(path)
    assert {i.name for i in db["activity"].indexes} >= {"activity_at", "activity_lesson"}
    assert {i.name for i in db["review_cards"].indexes} >= {"review_cards_due"}
    db.close()


def test_newer_schema_is_reported_not_downgraded(tmp_path):
    path = tmp_path / "progress.db"
    ProgressStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    s = ProgressStore(path)
    try:
        assert "newer" in s.status.message
        assert s.schema_version() == 99
    finally:
        s.close()
