"""The course's full-text index: SQLite FTS5 (porter stemming, bm25 ranking), one row per step.

Built from the parsed course at first use and kept in the cache dir (:func:`tutor.core.config.cache_dir`), one
file per course directory. The index records a hash of the content files (course.toml and every lesson file); when
the hash differs the index is rebuilt. The learner's notes are indexed in a table of their own, refreshed when they
change (:meth:`SearchIndex.set_notes`). No Textual here.
"""
from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tutor.core.config import cache_dir
from tutor.core.errors import TutorError
from tutor.course.model import Cell, Course, Prose, Quiz, Step

log = logging.getLogger(__name__)

INDEX_FORMAT = "2"  # bump when the table layout changes: an old index is rebuilt
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"  # snippet highlight markers (see Hit.parts)
WEIGHTS = (8.0, 1.0, 0.6, 1.2)  # bm25 weights of step_title, prose, code, quiz
_WORD = re.compile(r"\w+", re.UNICODE)


class SearchError(TutorError, ValueError):
    """A query that cannot be searched (empty, or nothing but punctuation); the message says why."""


@dataclass
class Hit:
    kind: str  # "step" | "note"
    lesson_id: str
    lesson_title: str
    step_id: str
    step_title: str
    snippet: str  # with MARK_OPEN / MARK_CLOSE around each match
    score: float  # bm25: lower is better
    terms: tuple[str, ...] = ()  # the query's words, for finding the match in the opened step

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, highlighted) pieces."""
        out: list[tuple[str, bool]] = []
        for i, piece in enumerate(re.split(f"[{MARK_OPEN}{MARK_CLOSE}]", self.snippet)):
            if piece:
                out.append((piece, i % 2 == 1))
        return out

    def plain_snippet(self, open_mark: str = "[", close_mark: str = "]") -> str:
        return self.snippet.replace(MARK_OPEN, open_mark).replace(MARK_CLOSE, close_mark)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "lesson": self.lesson_id, "lesson_title": self.lesson_title,
                "step": self.step_id, "step_title": self.step_title, "snippet": self.plain_snippet(),
                "score": round(self.score, 4)}


@dataclass
class StepDoc:
    """A step's searchable text, by field."""

    lesson_id: str
    lesson_title: str
    step_id: str
    step_title: str
    prose: str
    code: str
    quiz: str


def step_doc(lesson_id: str, lesson_title: str, step: Step) -> StepDoc:
    prose, code, quiz = [], [], []
    for b in step.blocks:
        if isinstance(b, Prose):
            prose.append(b.markdown)
        elif isinstance(b, Cell):
            if not b.is_hidden:  # solutions stay out of search
                code.append(b.code)
        elif isinstance(b, Quiz):
            quiz.append(b.question)
            quiz += [c.text for c in b.choices] + [c.text for c in b.items]
            quiz += [t for t in (b.hint, b.explain) if t]
            quiz += [c.explain for c in b.choices if c.explain]
    return StepDoc(lesson_id, lesson_title, step.id, step.title, "\n\n".join(prose), "\n\n".join(code),
                   "\n".join(quiz))


def course_docs(course: Course) -> list[StepDoc]:
    """Every step of every written lesson without errors, in course order."""
    docs = []
    for lid in course.written_ids():
        lesson = course.lesson(lid)
        if lesson is None or lesson.errors:
            continue
        docs += [step_doc(lid, lesson.title, s) for s in lesson.steps]
    return docs


def content_hash(course: Course) -> str:
    """A hash of course.toml and every lesson file: the index is rebuilt when it changes."""
    h = hashlib.sha256(INDEX_FORMAT.encode())
    files = [course.root / "course.toml"] + [course.lesson_path(i) for i in course.written_ids()]
    for f in files:
        h.update(str(f.name).encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


STEP_COLUMNS = ("step_title", "prose", "code", "quiz")


def fts_query(text: str, any_word: bool = False, columns: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """A learner's text as a safe FTS5 query: every word quoted (no FTS syntax errors), the last one a prefix.

    ``any_word`` joins the words with OR (retrieval for questions) instead of AND (search)."""
    words = tuple(w for w in _WORD.findall(text) if w.strip("_"))
    if not words:
        raise SearchError(f"nothing to search for in {text!r}: type a word or two")
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    if not any_word and len(words[-1]) >= 3:  # "a*" would expand to half the vocabulary
        quoted[-1] += " *"
    query = (" OR " if any_word else " AND ").join(quoted)
    if columns:
        query = "{" + " ".join(columns) + "}: (" + query + ")"
    return query, words


class SearchIndex:
    """The index of one course, in ``<cache>/search-<hash of the course path>.db``."""

    def __init__(self, course: Course, directory: Path | None = None) -> None:
        self.course = course
        root_key = hashlib.sha256(str(Path(course.root).resolve()).encode()).hexdigest()[:12]
        self.path = (directory or cache_dir()) / f"search-{root_key}.db"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the UI searches from workers
        self._notes_hash = ""
        self.rebuilt = False  # whether the last open() built the index afresh
        self.in_memory = False  # the cache dir could not be written: the index lives in memory for this run

    # ------------------------------------------------------------------ build

    def open(self) -> SearchIndex:
        """Open the index, building it if it is missing, stale or unreadable."""
        with self._lock:
            if self._conn is not None:
                return self
            want = content_hash(self.course)
            try:
                conn, current = self._connect()
                self.rebuilt = current != want
                if self.rebuilt:
                    self._build(conn, want)
            except (OSError, sqlite3.Error) as e:  # an unwritable cache dir: an index in memory, rebuilt per run
                log.warning("search index %s cannot be written (%s): keeping it in memory", self.path, e)
                self.in_memory = self.rebuilt = True
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                self._build(conn, want)
            self._conn = conn
        return self

    def _connect(self) -> tuple[sqlite3.Connection, str | None]:
        """The cache file and the content hash it was built from (None: build it); an unreadable file is replaced."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'content_hash'").fetchone()
            return conn, (row[0] if row else None)
        except sqlite3.DatabaseError as e:  # no meta table yet, or not a database at all
            log.info("search index %s unreadable (%s): rebuilding", self.path, e)
            conn.close()
            self.path.unlink(missing_ok=True)
            return sqlite3.connect(self.path, check_same_thread=False), None

    def _build(self, conn: sqlite3.Connection, digest: str) -> None:
        docs = course_docs(self.course)
        with conn:
            conn.execute("DROP TABLE IF EXISTS steps")
            conn.execute("DROP TABLE IF EXISTS notes")
            conn.execute("DROP TABLE IF EXISTS meta")
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute(
                "CREATE VIRTUAL TABLE steps USING fts5(step_title, prose, code, quiz, lesson_id UNINDEXED, "
                "lesson_title UNINDEXED, step_id UNINDEXED, tokenize = 'porter unicode61', prefix = '3')")
            conn.execute(
                "CREATE VIRTUAL TABLE notes USING fts5(text, lesson_id UNINDEXED, step_id UNINDEXED, "
                "tokenize = 'porter unicode61')")
            conn.executemany(
                "INSERT INTO steps(step_title, prose, code, quiz, lesson_id, lesson_title, step_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(d.step_title, d.prose, d.code, d.quiz, d.lesson_id, d.lesson_title, d.step_id) for d in docs])
            conn.execute("INSERT INTO meta VALUES ('content_hash', ?)", [digest])
        self._notes_hash = ""
        log.info("search index %s built: %d steps", self.path, len(docs))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    def step_count(self) -> int:
        self._db()
        with self._lock:
            return self._db_unlocked().execute("SELECT count(*) FROM steps").fetchone()[0]

    def _db_unlocked(self) -> sqlite3.Connection:
        assert self._conn is not None, "open() first"
        return self._conn

    # ------------------------------------------------------------------ notes

    def set_notes(self, notes: Iterable[tuple[str, str, str]]) -> None:
        """Index the learner's notes, ``(lesson_id, step_id, text)``; a no-op when they have not changed."""
        rows = sorted((str(a), str(b), str(c)) for a, b, c in notes)
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        self._db()
        with self._lock:
            if digest == self._notes_hash:
                return
            conn = self._db_unlocked()
            with conn:
                conn.execute("DELETE FROM notes")
                conn.executemany("INSERT INTO notes(text, lesson_id, step_id) VALUES (?, ?, ?)",
                                 [(t, lid, sid) for lid, sid, t in rows])
            self._notes_hash = digest

    # ------------------------------------------------------------------ queries

    def search(self, text: str, limit: int = 20, any_word: bool = False, notes: bool = True,
               columns: tuple[str, ...] = ()) -> list[Hit]:
        """The best ``limit`` steps (and notes) for ``text``, best first. Raises SearchError for an empty query.

        ``any_word``: any of the words may match (questions); ``columns``: only these of STEP_COLUMNS."""
        query, words = fts_query(text, any_word=any_word, columns=columns)
        note_query = fts_query(text, any_word=any_word)[0]
        self._db()
        w = ", ".join(str(x) for x in WEIGHTS)
        with self._lock:
            conn = self._db_unlocked()
            rows = conn.execute(
                f"SELECT lesson_id, lesson_title, step_id, step_title, "
                f"snippet(steps, -1, ?, ?, '…', 14), bm25(steps, {w}) AS score "
                f"FROM steps WHERE steps MATCH ? ORDER BY score LIMIT ?",
                [MARK_OPEN, MARK_CLOSE, query, limit]).fetchall()
            hits = [Hit("step", r[0], r[1], r[2], r[3], r[4], r[5], words) for r in rows]
            if notes:
                for r in conn.execute(
                        "SELECT lesson_id, step_id, snippet(notes, 0, ?, ?, '…', 14), bm25(notes) AS score "
                        "FROM notes WHERE notes MATCH ? ORDER BY score LIMIT ?",
                        [MARK_OPEN, MARK_CLOSE, note_query, limit]).fetchall():
                    hits.append(Hit("note", r[0], self.lesson_title(r[0]), r[1], self._step_title(r[0], r[1]),
                                    r[2], r[3], words))
        hits.sort(key=lambda h: h.score)
        return hits[:limit]

    def like_scan(self, text: str, limit: int = 20) -> list[tuple[str, str]]:
        """The baseline for `fm-tutor bench search`: a LIKE scan over the same rows, every word required."""
        _, words = fts_query(text)
        self._db()
        cond = " AND ".join(["(step_title || prose || code || quiz) LIKE ?"] * len(words))
        with self._lock:
            return self._db_unlocked().execute(
                f"SELECT lesson_id, step_id FROM steps WHERE {cond} LIMIT ?",
                [f"%{w}%" for w in words] + [limit]).fetchall()

    def step_text(self, lesson_id: str, step_id: str) -> str | None:
        """The indexed text of one step (title, prose, code, quiz), for the ask prompt."""
        self._db()
        with self._lock:
            row = self._db_unlocked().execute(
                "SELECT step_title, prose, code, quiz FROM steps WHERE lesson_id = ? AND step_id = ?",
                [lesson_id, step_id]).fetchone()
        if row is None:
            return None
        title, prose, code, quiz = row
        parts = [f"## {title}", prose]
        if code:
            parts.append("Code:\n" + code)
        if quiz:
            parts.append("Questions:\n" + quiz)
        return "\n\n".join(p for p in parts if p)

    def lesson_title(self, lesson_id: str) -> str:
        e = self.course.entries.get(lesson_id)
        return e.title if e else lesson_id

    def _step_title(self, lesson_id: str, step_id: str) -> str:
        row = self._db_unlocked().execute(
            "SELECT step_title FROM steps WHERE lesson_id = ? AND step_id = ?", [lesson_id, step_id]).fetchone()
        return row[0] if row else f"{step_id} (no longer in the lesson)"


def block_matches(step: Step, terms: Iterable[str]) -> int | None:
    """The index of the first block of ``step`` that mentions one of ``terms`` (a word's stem, roughly), or None:
    where the reader scrolls to show the match."""
    stems = [t.lower()[:max(3, len(t) - 2)] for t in terms if t]
    for i, b in enumerate(step.blocks):
        if isinstance(b, Prose):
            text = b.markdown
        elif isinstance(b, Cell):
            text = b.code
        else:
            text = " ".join([b.question] + [c.text for c in b.choices] + [c.text for c in b.items])
        low = text.lower()
        if any(s in low for s in stems):
            return i
    return None
