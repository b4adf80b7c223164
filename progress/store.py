"""ProgressStore: the learner's progress in one SQLite file: what is recorded (paths, steps, time,
cell edits and runs, quiz attempts, exercise results, review cards) and the queries over it.

The file handling, the single writer thread and the consistent reads are :class:`tutor.progress.durable.DurableStore`'s.
See ``tutor.progress.schema`` for the tables.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tutor.progress import schema
from tutor.progress.durable import (
    DB_NAME,
    ENV_DATA_DIR,
    DurableStore,
    LessonState,
    StoreStatus,
    default_db_path,
    insert_row,
    upsert_row,
)
from tutor.progress.review import check_rating, iso, split_key, utc

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["DB_NAME", "ENV_DATA_DIR", "LessonState", "ProgressStore", "StoreStatus", "default_db_path"]


class ProgressStore(DurableStore):
    """The learner's progress. See the module docstring and ``tutor.progress.schema``."""

    # -------------------------------------------------------------- settings

    @staticmethod
    def _set_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
        upsert_row(db, "settings", {"key": key, "value": json.dumps(value)}, pk=("key",))

    def _setting(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", [key])
        if row is None or row["value"] is None:
            return default
        try:
            return json.loads(row["value"])
        except ValueError:
            return default

    def active_path(self) -> str | None:
        return self._setting("active_path")

    def set_active_path(self, path_id: str | None) -> None:
        self._submit(lambda db: self._set_setting(db, "active_path", path_id), "the active path")

    def custom_path(self) -> list[str]:
        value = self._setting("custom_path", [])
        return [str(x) for x in value] if isinstance(value, list) else []

    def set_custom_path(self, lesson_ids: list[str]) -> None:
        ids = [str(x) for x in lesson_ids]
        self._submit(lambda db: self._set_setting(db, "custom_path", ids), "the custom path")

    # ------------------------------------------------------- lessons / steps

    @staticmethod
    def _touch_lesson(db: sqlite_utils.Database, lesson_id: str, now: str) -> None:
        """Make sure the lesson row exists and is at least in progress."""
        db.execute(
            "INSERT INTO lessons(lesson_id, status, started_at, updated_at) VALUES (?, 'in_progress', ?, ?) "
            "ON CONFLICT(lesson_id) DO UPDATE SET "
            "status = CASE WHEN status = 'done' THEN 'done' ELSE 'in_progress' END, "
            "started_at = coalesce(started_at, excluded.started_at), updated_at = excluded.updated_at",
            [lesson_id, now, now],
        )

    def lesson_state(self, lesson_id: str) -> LessonState:
        return self._lesson_states(lesson_id).get(lesson_id) or LessonState(lesson_id=lesson_id)

    def all_lesson_states(self) -> dict[str, LessonState]:
        return self._lesson_states(None)

    def _lesson_states(self, lesson_id: str | None) -> dict[str, LessonState]:
        where, params = ("WHERE lesson_id = ?", [lesson_id]) if lesson_id is not None else ("", [])
        self._sync()
        with self._rlock:
            lessons = self._query(f"SELECT * FROM lessons {where}", params)
            steps = self._query(f"SELECT lesson_id, step_id, first_seen, seconds FROM steps {where}", params)
        out: dict[str, LessonState] = {}
        for row in lessons:
            out[row["lesson_id"]] = LessonState(
                lesson_id=row["lesson_id"],
                status=row["status"] or "not_started",
                last_step=row["last_step"],
                started_at=row["started_at"],
                completed_at=row["completed_at"],
            )
        for row in steps:
            st = out.setdefault(row["lesson_id"], LessonState(lesson_id=row["lesson_id"]))
            st.seconds += float(row["seconds"] or 0.0)
            if row["first_seen"] is not None:
                st.steps_seen.add(row["step_id"])
        return out

    def open_lesson(self, lesson_id: str) -> None:
        now = iso()

        def write(db: sqlite_utils.Database) -> None:
            self._touch_lesson(db, lesson_id, now)
            self._set_setting(db, "last_lesson", lesson_id)

        self._submit(write, f"opening lesson {lesson_id}")

    def step_shown(self, lesson_id: str, step_id: str) -> None:
        now = iso()

        def write(db: sqlite_utils.Database) -> None:
            self._touch_lesson(db, lesson_id, now)
            db.execute("UPDATE lessons SET last_step = ? WHERE lesson_id = ?", [step_id, lesson_id])
            db.execute(
                "INSERT INTO steps(lesson_id, step_id, first_seen, seconds) VALUES (?, ?, ?, 0) "
                "ON CONFLICT(lesson_id, step_id) DO UPDATE SET first_seen = coalesce(first_seen, excluded.first_seen)",
                [lesson_id, step_id, now],
            )
            self._set_setting(db, "last_lesson", lesson_id)

        self._submit(write, f"step {lesson_id}/{step_id}")

    def add_step_time(self, lesson_id: str, step_id: str, seconds: float) -> None:
        now, secs = iso(), float(seconds)

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO steps(lesson_id, step_id, first_seen, seconds) VALUES (?, ?, NULL, ?) "
                "ON CONFLICT(lesson_id, step_id) DO UPDATE SET seconds = seconds + excluded.seconds",
                [lesson_id, step_id, secs],
            )
            db.execute(  # the hot path: plain SQL, no table introspection
                "INSERT INTO activity(at, lesson_id, step_id, seconds) VALUES (?, ?, ?, ?)",
                [now, lesson_id, step_id, secs],
            )

        self._submit(write, f"time on {lesson_id}/{step_id}")

    def set_lesson_done(self, lesson_id: str, done: bool = True) -> None:
        now = iso()

        def write(db: sqlite_utils.Database) -> None:
            self._touch_lesson(db, lesson_id, now)
            if done:
                db.execute(
                    "UPDATE lessons SET status = 'done', completed_at = coalesce(completed_at, ?) WHERE lesson_id = ?",
                    [now, lesson_id],
                )
            else:
                db.execute(
                    "UPDATE lessons SET status = 'in_progress', completed_at = NULL WHERE lesson_id = ?", [lesson_id]
                )

        self._submit(write, f"lesson {lesson_id} done={done}")

    def last_position(self) -> tuple[str, str | None] | None:
        lesson_id = self._setting("last_lesson")
        if not lesson_id:
            return None
        row = self._one("SELECT last_step FROM lessons WHERE lesson_id = ?", [lesson_id])
        return (lesson_id, row["last_step"] if row else None)

    def step_times(self, lesson_id: str) -> dict[str, float]:
        rows = self._rows("SELECT step_id, seconds FROM steps WHERE lesson_id = ? ORDER BY step_id", [lesson_id])
        return {r["step_id"]: float(r["seconds"] or 0.0) for r in rows}

    def activity(self, since: datetime | None = None) -> list[dict]:
        """Activity rows (``at``, ``lesson_id``, ``step_id``, ``seconds``), oldest first."""
        if since is None:
            return self._rows("SELECT * FROM activity ORDER BY id")
        return self._rows("SELECT * FROM activity WHERE at >= ? ORDER BY id", [iso(since)])

    # ------------------------------------------------------------ aggregates
    # The dashboard's numbers, computed by SQLite (GROUP BY) instead of by loading every event into Python.

    def activity_by_day(self) -> dict[str, float]:
        """UTC day ("2026-11-29") -> seconds of study that day."""
        rows = self._rows("SELECT substr(at, 1, 10) AS day, SUM(seconds) AS s FROM activity GROUP BY day ORDER BY day")
        return {r["day"]: float(r["s"] or 0.0) for r in rows}

    def activity_first(self, lesson_ids: list[str]) -> str | None:
        """The timestamp of the first activity on any of these lessons (when a path was started)."""
        if not lesson_ids:
            return None
        marks = ",".join("?" * len(lesson_ids))
        row = self._one(f"SELECT MIN(at) AS at FROM activity WHERE lesson_id IN ({marks})", list(lesson_ids))
        return row["at"] if row else None

    def quiz_totals(self) -> dict[str, tuple[int, int]]:
        """lesson id -> (correct attempts, attempts)."""
        rows = self._rows("SELECT lesson_id, SUM(correct) AS r, COUNT(*) AS n FROM quiz_attempts GROUP BY lesson_id")
        return {r["lesson_id"]: (int(r["r"] or 0), int(r["n"])) for r in rows}

    def active_days(self) -> set[str]:
        """UTC days with any activity, quiz answer or review."""
        rows = self._rows(
            "SELECT substr(at, 1, 10) AS day FROM activity UNION SELECT substr(at, 1, 10) FROM quiz_attempts "
            "UNION SELECT substr(at, 1, 10) FROM review_logs"
        )
        return {r["day"] for r in rows}

    def review_ratings_since(self, since: datetime) -> list[str]:
        """Ratings of reviews since ``since``: a card's first log (the answer in the lesson that created it) is
        not a review and is left out."""
        return [r["rating"] for r in self._rows(
            "SELECT rating FROM review_logs AS l WHERE at >= ? AND id > (SELECT min(id) FROM review_logs WHERE key = l.key) "
            "ORDER BY id", [iso(since)])]

    # ----------------------------------------------------------------- cells

    def save_cell_edit(self, lesson_id: str, cell_id: str, code: str) -> None:
        row = {"lesson_id": lesson_id, "cell_id": cell_id, "code": str(code), "updated_at": iso()}
        self._submit(
            lambda db: upsert_row(db, "cell_edits", row, pk=("lesson_id", "cell_id")), f"cell {lesson_id}/{cell_id}"
        )

    def cell_edit(self, lesson_id: str, cell_id: str) -> str | None:
        row = self._one("SELECT code FROM cell_edits WHERE lesson_id = ? AND cell_id = ?", [lesson_id, cell_id])
        return row["code"] if row else None

    def clear_cell_edit(self, lesson_id: str, cell_id: str) -> None:
        self._submit(
            lambda db: db.execute("DELETE FROM cell_edits WHERE lesson_id = ? AND cell_id = ?", [lesson_id, cell_id]),
            f"clearing cell {lesson_id}/{cell_id}",
        )

    def record_cell_run(self, lesson_id: str, cell_id: str, code_hash: str, status: str, duration: float) -> None:
        row = {
            "at": iso(),
            "lesson_id": lesson_id,
            "cell_id": cell_id,
            "code_hash": code_hash,
            "status": status,
            "duration": float(duration),
        }
        self._submit(lambda db: insert_row(db, "cell_runs", row), f"run of cell {lesson_id}/{cell_id}")

    def cell_runs(self, lesson_id: str) -> list[dict]:
        return self._rows("SELECT * FROM cell_runs WHERE lesson_id = ? ORDER BY id", [lesson_id])

    # ---------------------------------------------------- quizzes / exercises

    def record_quiz_attempt(self, lesson_id: str, question_id: str, answer: Any, correct: bool, seconds: float) -> None:
        row = {
            "at": iso(),
            "lesson_id": lesson_id,
            "question_id": question_id,
            "answer": json.dumps(answer),  # raises here, in the caller, if not serialisable
            "correct": 1 if correct else 0,
            "seconds": float(seconds),
        }
        self._submit(lambda db: insert_row(db, "quiz_attempts", row), f"quiz answer {lesson_id}/{question_id}")

    def quiz_attempts(self, lesson_id: str | None = None) -> list[dict]:
        if lesson_id is None:
            rows = self._rows("SELECT * FROM quiz_attempts ORDER BY id")
        else:
            rows = self._rows("SELECT * FROM quiz_attempts WHERE lesson_id = ? ORDER BY id", [lesson_id])
        for r in rows:
            r["answer"] = json.loads(r["answer"]) if r["answer"] is not None else None
            r["correct"] = bool(r["correct"])
        return rows

    def latest_quiz_results(self, lesson_id: str) -> dict[str, bool]:
        rows = self._rows(
            "SELECT question_id, correct FROM quiz_attempts WHERE id IN "
            "(SELECT max(id) FROM quiz_attempts WHERE lesson_id = ? GROUP BY question_id)",
            [lesson_id],
        )
        return {r["question_id"]: bool(r["correct"]) for r in rows}

    def record_exercise_result(self, lesson_id: str, cell_id: str, passed: bool, message: str) -> None:
        row = {
            "at": iso(),
            "lesson_id": lesson_id,
            "cell_id": cell_id,
            "passed": 1 if passed else 0,
            "message": message,
        }
        self._submit(lambda db: insert_row(db, "exercise_results", row), f"exercise {lesson_id}/{cell_id}")

    def exercise_results(self, lesson_id: str) -> dict[str, bool]:
        rows = self._rows(
            "SELECT cell_id, max(passed) AS passed FROM exercise_results WHERE lesson_id = ? GROUP BY cell_id",
            [lesson_id],
        )
        return {r["cell_id"]: bool(r["passed"]) for r in rows}

    # ---------------------------------------------------------------- review

    def review_answer(
        self,
        card_key: str,
        lesson_id: str,
        correct: bool,
        rating: str | None = None,
        now: datetime | None = None,
    ) -> None:
        _, question_id = split_key(card_key)
        when = utc(now)
        check_rating(rating)  # validate in the caller's thread

        def write(db: sqlite_utils.Database) -> None:
            row = db.execute("SELECT card FROM review_cards WHERE key = ?", [card_key]).fetchone()
            outcome = self._reviewer.review(json.loads(row[0]) if row else None, correct, rating, when)
            db.execute(
                "INSERT INTO review_cards(key, lesson_id, question_id, card, due, retired) VALUES (?, ?, ?, ?, ?, 0) "
                "ON CONFLICT(key) DO UPDATE SET lesson_id = excluded.lesson_id, question_id = excluded.question_id, "
                "card = excluded.card, due = excluded.due, retired = 0",
                [card_key, lesson_id, question_id, json.dumps(outcome.card), outcome.due],
            )
            insert_row(db, "review_logs",
                       {"at": outcome.at, "key": card_key, "rating": outcome.rating, "log": json.dumps(outcome.log)})

        self._submit(write, f"review of {card_key}")

    def due_cards(self, now: datetime | None = None) -> list[dict]:
        return self._rows(
            "SELECT key, lesson_id, question_id, due FROM review_cards WHERE retired = 0 AND due <= ? ORDER BY due, key",
            [iso(now)],
        )

    def due_count(self, now: datetime | None = None) -> int:
        row = self._one("SELECT count(*) AS n FROM review_cards WHERE retired = 0 AND due <= ?", [iso(now)])
        return int(row["n"]) if row else 0

    def next_due(self, now: datetime | None = None) -> str | None:
        """When the next card not yet due comes due (ISO time), or None if there is none."""
        row = self._one("SELECT min(due) AS due FROM review_cards WHERE retired = 0 AND due > ?", [iso(now)])
        return row["due"] if row and row["due"] else None

    def review_card(self, card_key: str) -> dict | None:
        """The stored card row (``card`` decoded) or None."""
        row = self._one("SELECT * FROM review_cards WHERE key = ?", [card_key])
        if row:
            row["card"] = json.loads(row["card"])
            row["retired"] = bool(row["retired"])
        return row

    def review_logs(self, card_key: str | None = None) -> list[dict]:
        if card_key is None:
            rows = self._rows("SELECT * FROM review_logs ORDER BY id")
        else:
            rows = self._rows("SELECT * FROM review_logs WHERE key = ? ORDER BY id", [card_key])
        for r in rows:
            r["log"] = json.loads(r["log"]) if r["log"] else None
        return rows

    def retire_missing(self, existing_keys: set[str]) -> None:
        """Retire cards whose key is not in ``existing_keys``; un-retire those that are."""
        keys = sorted(set(existing_keys))

        def write(db: sqlite_utils.Database) -> None:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS _existing_keys (key TEXT PRIMARY KEY)")
            db.execute("DELETE FROM _existing_keys")
            db.conn.executemany("INSERT OR IGNORE INTO _existing_keys(key) VALUES (?)", [(k,) for k in keys])
            db.execute(
                "UPDATE review_cards SET retired = CASE WHEN key IN (SELECT key FROM _existing_keys) THEN 0 ELSE 1 END"
            )
            db.execute("DELETE FROM _existing_keys")

        self._submit(write, "retiring review cards")

    # ------------------------------------------------------ bookmarks / notes

    def set_bookmark(self, lesson_id: str, step_id: str, on: bool) -> None:
        def write(db: sqlite_utils.Database) -> None:
            if on:
                db.execute("INSERT OR IGNORE INTO bookmarks(lesson_id, step_id, created_at) VALUES (?, ?, ?)",
                           [lesson_id, step_id, iso()])
            else:
                db.execute("DELETE FROM bookmarks WHERE lesson_id = ? AND step_id = ?", [lesson_id, step_id])

        self._submit(write, f"bookmark {lesson_id}/{step_id}")

    def is_bookmarked(self, lesson_id: str, step_id: str) -> bool:
        return self._one("SELECT 1 AS x FROM bookmarks WHERE lesson_id = ? AND step_id = ?", [lesson_id, step_id]) is not None

    def bookmarks(self) -> list[dict]:
        return self._rows("SELECT * FROM bookmarks ORDER BY lesson_id, created_at")

    def save_note(self, lesson_id: str, step_id: str, text: str) -> None:
        """Keep the learner's note on a step; blank text deletes it."""
        body = str(text)

        def write(db: sqlite_utils.Database) -> None:
            if body.strip():
                db["notes"].upsert({"lesson_id": lesson_id, "step_id": step_id, "text": body, "updated_at": iso()},
                                   pk=("lesson_id", "step_id"))
            else:
                db.execute("DELETE FROM notes WHERE lesson_id = ? AND step_id = ?", [lesson_id, step_id])

        self._submit(write, f"note on {lesson_id}/{step_id}")

    def note(self, lesson_id: str, step_id: str) -> str | None:
        row = self._one("SELECT text FROM notes WHERE lesson_id = ? AND step_id = ?", [lesson_id, step_id])
        return row["text"] if row else None

    def notes(self) -> list[dict]:
        return self._rows("SELECT * FROM notes ORDER BY lesson_id, updated_at")

    # ---------------------------------------------------------- housekeeping

    def export_json(self) -> dict:
        """Every table as lists of row dicts (JSON columns stay JSON text)."""
        self._sync()
        tables: dict[str, list[dict]] = {}
        with self._rlock:
            conn = self._rconn
            conn.execute("BEGIN")  # one consistent snapshot
            try:
                version = schema.get_version(self._rconn)
                for name in schema.DATA_TABLES:
                    order = "id" if "id" in self._columns(name) else "rowid"
                    tables[name] = self._query(f"SELECT * FROM [{name}] ORDER BY {order}")
            finally:
                conn.execute("COMMIT")
        return {"format": "fm-tutor-progress", "schema_version": version, "exported_at": iso(), "tables": tables}

    def import_json(self, data: dict) -> None:
        """Replace ALL progress with an ``export_json()`` dump (one transaction)."""
        if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
            raise ValueError("not an fm-tutor progress export (no 'tables')")  # noqa: TRY004
        version = int(data.get("schema_version", schema.SCHEMA_VERSION))
        if version > schema.SCHEMA_VERSION:
            raise ValueError(f"export has schema version {version}, newer than this fm-tutor ({schema.SCHEMA_VERSION})")
        unknown = set(data["tables"]) - set(schema.DATA_TABLES)
        if unknown:
            raise ValueError(f"unknown tables in export: {sorted(unknown)}")
        tables = {name: [dict(r) for r in data["tables"].get(name) or []] for name in schema.DATA_TABLES}
        self._sync()
        with self._rlock:
            columns = {name: set(self._columns(name)) for name in schema.DATA_TABLES}
        for name, rows in tables.items():
            extra = set().union(*rows) - columns[name] if rows else set()
            if extra:
                raise ValueError(f"unknown columns in export table {name}: {sorted(extra)}")

        def write(db: sqlite_utils.Database) -> None:
            for name in reversed(schema.DATA_TABLES):
                db.execute(f"DELETE FROM [{name}]")
            for name in schema.DATA_TABLES:
                if tables[name]:
                    db[name].insert_all(tables[name])

        self._submit(write, "imported progress")

    def reset(self, lesson_id: str | None = None) -> None:
        """Forget one lesson's progress (``lesson_id``) or everything (None)."""

        def write(db: sqlite_utils.Database) -> None:
            if lesson_id is None:
                for name in reversed(schema.DATA_TABLES):
                    db.execute(f"DELETE FROM [{name}]")
                return
            for name in schema.DATA_TABLES:
                if name not in ("settings", "review_logs"):
                    db.execute(f"DELETE FROM [{name}] WHERE lesson_id = ?", [lesson_id])  # logs cascade
            row = db.execute("SELECT value FROM settings WHERE key = 'last_lesson'").fetchone()
            if row and row[0] == json.dumps(lesson_id):
                db.execute("DELETE FROM settings WHERE key = 'last_lesson'")

        self._submit(write, f"reset of {lesson_id or 'all progress'}")

    def schema_version(self) -> int:
        self._sync()
        with self._rlock:
            return schema.get_version(self._rconn)
