"""The progress database schema and its migrations.

Learner progress lives in ONE plain SQLite file (``progress.db``), one row per
fact, keyed by stable ids (lesson id such as ``"01"``, step id such as
``"3-in-context-learning"``, cell id, question id), never by positions.
All timestamps are ISO-8601 UTC strings with microseconds
(``2026-11-29T02:00:00.000000+00:00``), so they also sort as text.
JSON columns hold UTF-8 JSON text.

Tables
------
``meta(key PK, value)``
    ``schema_version`` (integer as text) and ``last_opened`` (timestamp).
``settings(key PK, value JSON)``
    ``active_path`` (a path id or null), ``custom_path`` (list of lesson ids),
    ``last_lesson`` (the lesson most recently opened or shown).
``lessons(lesson_id PK, status, last_step, started_at, completed_at, updated_at)``
    ``status`` is ``not_started`` | ``in_progress`` | ``done``.
``steps(lesson_id, step_id, first_seen, seconds; PK (lesson_id, step_id))``
    ``first_seen`` is null for a step that got time but was never shown;
    ``seconds`` is the total time spent on the step.
``activity(id, at, lesson_id, step_id, seconds)``
    One row per ``add_step_time`` call, for per-day / per-week statistics.
``cell_edits(lesson_id, cell_id, code, updated_at; PK (lesson_id, cell_id))``
    The learner's edited source of a cell (absent = the lesson's original).
``cell_runs(id, at, lesson_id, cell_id, code_hash, status, duration)``
``quiz_attempts(id, at, lesson_id, question_id, answer JSON, correct, seconds)``
``exercise_results(id, at, lesson_id, cell_id, passed, message)``
``review_cards(key PK, lesson_id, question_id, card JSON, due, retired)``
    ``key`` is ``"<lesson_id>:<question_id>"``; ``card`` is fsrs ``Card.to_dict()``;
    ``due`` duplicates the card's due time for indexing; ``retired`` is 1 when
    the question no longer exists in the course (the card is kept).
``review_logs(id, at, key -> review_cards ON DELETE CASCADE, rating, log JSON)``
    ``rating`` is ``again`` | ``hard`` | ``good`` | ``easy``; ``log`` is fsrs
    ``ReviewLog.to_dict()``.
``bookmarks(lesson_id, step_id, created_at; PK (lesson_id, step_id))``
    A step the learner bookmarked.
``notes(lesson_id, step_id, text, updated_at; PK (lesson_id, step_id))``
    The learner's note on a step (one per step; an empty note is deleted). Both are keyed by the step's stable
    id, so they survive a renamed heading.

``id`` columns are ``INTEGER PRIMARY KEY`` (rowid) and only order rows in time;
nothing refers to them.

Migrations
----------
``MIGRATIONS[i]`` takes the database from version ``i`` to ``i + 1``; they run
in order, each in the same transaction as the version bump, on every open.
To change the schema, append a function and never edit an old one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store opens and reads without importing sqlite-utils (slow); migrations get its Database
    import sqlite3

    import sqlite_utils

TABLES = (
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
    "bookmarks",
    "notes",
)

# Tables that hold learner data (everything but meta), in an order that is safe
# for inserting (parents before children) - review_logs refers to review_cards.
DATA_TABLES = TABLES[1:]


def _migration_1(db: sqlite_utils.Database) -> None:
    """Initial schema."""
    statements = [
        "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)",
        """CREATE TABLE IF NOT EXISTS lessons (
            lesson_id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'not_started',
            last_step TEXT,
            started_at TEXT,
            completed_at TEXT,
            updated_at TEXT)""",
        """CREATE TABLE IF NOT EXISTS steps (
            lesson_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            first_seen TEXT,
            seconds REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (lesson_id, step_id))""",
        """CREATE TABLE IF NOT EXISTS activity (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            step_id TEXT,
            seconds REAL NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS cell_edits (
            lesson_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            code TEXT NOT NULL,
            updated_at TEXT,
            PRIMARY KEY (lesson_id, cell_id))""",
        """CREATE TABLE IF NOT EXISTS cell_runs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            code_hash TEXT,
            status TEXT,
            duration REAL)""",
        """CREATE TABLE IF NOT EXISTS quiz_attempts (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            answer TEXT,
            correct INTEGER NOT NULL,
            seconds REAL)""",
        """CREATE TABLE IF NOT EXISTS exercise_results (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            passed INTEGER NOT NULL,
            message TEXT)""",
        """CREATE TABLE IF NOT EXISTS review_cards (
            key TEXT PRIMARY KEY,
            lesson_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            card TEXT NOT NULL,
            due TEXT NOT NULL,
            retired INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS review_logs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            key TEXT NOT NULL REFERENCES review_cards(key) ON DELETE CASCADE,
            rating TEXT NOT NULL,
            log TEXT)""",
    ]
    for sql in statements:
        db.execute(sql)


def _migration_2(db: sqlite_utils.Database) -> None:
    """Indexes for the per-lesson and due-card queries."""
    for sql in [
        "CREATE INDEX IF NOT EXISTS activity_at ON activity(at)",
        "CREATE INDEX IF NOT EXISTS activity_lesson ON activity(lesson_id)",
        "CREATE INDEX IF NOT EXISTS cell_runs_lesson ON cell_runs(lesson_id)",
        "CREATE INDEX IF NOT EXISTS quiz_attempts_lesson ON quiz_attempts(lesson_id, question_id)",
        "CREATE INDEX IF NOT EXISTS exercise_results_lesson ON exercise_results(lesson_id)",
        "CREATE INDEX IF NOT EXISTS review_cards_due ON review_cards(retired, due)",
        "CREATE INDEX IF NOT EXISTS review_logs_key ON review_logs(key)",
    ]:
        db.execute(sql)


def _migration_3(db: sqlite_utils.Database) -> None:
    """Bookmarks and notes, keyed by lesson id + step id."""
    db.execute("""CREATE TABLE IF NOT EXISTS bookmarks (
        lesson_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (lesson_id, step_id))""")
    db.execute("""CREATE TABLE IF NOT EXISTS notes (
        lesson_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        text TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (lesson_id, step_id))""")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2, _migration_3]
SCHEMA_VERSION = len(MIGRATIONS)


def get_version(db: sqlite_utils.Database | sqlite3.Connection) -> int:
    """The schema version recorded in ``meta`` (0 for an empty database)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite_utils.Database, upto: int | None = None) -> tuple[int, int]:
    """Apply the pending migrations. The caller holds the write transaction.

    Returns ``(version_before, version_after)``. A database newer than this code
    is left alone.
    """
    target = SCHEMA_VERSION if upto is None else upto
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    before = version = get_version(db)
    while version < target:
        MIGRATIONS[version](db)
        version += 1
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [str(version)],
        )
    return before, version
