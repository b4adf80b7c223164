"""The durable part of the progress store: one SQLite file opened safely, one writer thread, consistent reads.

Writes never block the caller: every mutating method puts a closure on a queue
that ONE writer thread (with its own connection) drains, committing each event
in its own ``BEGIN IMMEDIATE`` transaction and retrying with backoff while
another process holds the lock. A write that finally fails is recorded in
``store.status`` instead of raising into the UI. Reads use a second connection
under a lock and first wait for the queue to drain (``_sync``), so a caller
always sees its own earlier writes.

On open: a corrupt or non-SQLite file is moved aside to
``<name>.corrupt-<UTC timestamp>`` and a fresh database started; a read-only or
uncreatable data directory falls back to an in-memory database
(``status.persistent`` is False). See ``tutor.progress.schema`` for the tables.
:class:`tutor.progress.store.ProgressStore` adds what is recorded and asked on top of this.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutor.progress import schema
from tutor.progress.review import Reviewer, iso
from tutor.core.config import ENV_DATA_DIR

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

DB_NAME = "progress.db"
BUSY_TIMEOUT_MS = 5000
LOCK_RETRY_SECONDS = 60.0  # how long the writer keeps retrying a locked database

_CORRUPT_MARKERS = ("not a database", "malformed", "corrupt", "encrypted")
_READONLY_MARKERS = ("readonly", "read-only", "unable to open", "access permission", "disk i/o", "authorization")
_LOCKED_MARKERS = ("locked", "busy")


def default_db_path() -> Path:
    """``$FM_TUTOR_DATA_DIR/progress.db`` or the platform's user data dir.

    The directory is created (mode 0700) when possible; failure is left for
    ``ProgressStore`` to report.
    """
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        base = Path(env).expanduser()
    else:
        import platformdirs

        base = Path(platformdirs.user_data_dir("fm-tutor"))
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        pass
    return base / DB_NAME


@dataclass
class StoreStatus:
    persistent: bool = True
    message: str | None = None
    write_errors: int = 0  # writes that failed and were dropped


@dataclass
class LessonState:
    lesson_id: str
    status: str = "not_started"  # not_started | in_progress | done
    last_step: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    seconds: float = 0.0
    steps_seen: set[str] = field(default_factory=set)


class _ReadOnly(Exception):
    """The database cannot be written where it should live."""


def _msg(exc: BaseException) -> str:
    return str(exc).lower()


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(m in _msg(exc) for m in _LOCKED_MARKERS)


def _is_corrupt(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(m in _msg(exc) for m in _CORRUPT_MARKERS)


def _is_readonly(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(m in _msg(exc) for m in _READONLY_MARKERS)


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(target, uri=uri, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _wrap(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """sqlite-utils over ``conn``. sqlite-utils imports numpy, dateutil and its plugins (about as long as Textual
    itself), so it is imported here, when a write, a migration or an export first needs it, never to open the store
    or to read: the writer thread pays for it, not the first paint."""
    import sqlite_utils

    return sqlite_utils.Database(conn, execute_plugins=False)


class _LazyDatabase:
    """A sqlite-utils Database over ``conn`` that is built only when something beyond ``execute`` is asked of it.

    Most writes and the migrations so far are plain SQL (``db.execute``), which goes straight to the connection;
    ``db["table"].upsert(...)``, ``db.conn`` and the rest get the real :class:`sqlite_utils.Database`, imported then
    (on the writer thread, for writes)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._db: sqlite_utils.Database | None = None

    def _real(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = _wrap(self.conn)
        return self._db

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        if self._db is not None:
            return self._db.execute(sql, parameters)
        return self.conn.execute(sql, parameters or ())

    def __getitem__(self, name: str) -> Any:
        return self._real()[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


def insert_row(db: _LazyDatabase | sqlite_utils.Database, table: str, row: dict) -> None:
    """``db[table].insert(row)`` in plain SQL (the row's values are SQLite scalars)."""
    cols = list(row)
    db.execute(f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' * len(cols))})",
               [row[c] for c in cols])


def upsert_row(db: _LazyDatabase | sqlite_utils.Database, table: str, row: dict, pk: tuple[str, ...]) -> None:
    """``db[table].upsert(row, pk=pk)`` in plain SQL: insert, or update the row's other columns in place."""
    cols = list(row)
    rest = [c for c in cols if c not in pk]
    update = f"DO UPDATE SET {', '.join(f'[{c}] = excluded.[{c}]' for c in rest)}" if rest else "DO NOTHING"
    db.execute(f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' * len(cols))}) "
               f"ON CONFLICT({', '.join(f'[{c}]' for c in pk)}) {update}", [row[c] for c in cols])


def _dict_rows(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001,S110 - best effort on the way out
            log.debug("_close_quietly: best effort on the way out", exc_info=True)


def _atexit_close(ref: weakref.ref[DurableStore]) -> None:
    store = ref()
    if store is not None:
        store.close()


def _write_opened(db: sqlite3.Connection | _LazyDatabase, at: str) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES ('last_opened', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [at])


class DurableStore:
    """Open, write, read and close the progress database (the records are :class:`ProgressStore`'s)."""

    def __init__(self, path: Path | str | None = None, *, fuzz_reviews: bool = True) -> None:
        self.status = StoreStatus()
        self.path: Path | None = None
        self._reviewer = Reviewer(fuzz=fuzz_reviews)
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._pending_cv = threading.Condition()
        self._open_message: str | None = None
        self._closed = False
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._opened_at: str | None = None  # set when opening wrote nothing: the writer thread records it

        if path is not None and str(path) == ":memory:":
            self._open_memory()
        else:
            target = Path(path).expanduser() if path is not None else default_db_path()
            self._open_file(target)
        self._wdb = _LazyDatabase(self._wconn)  # the writer thread's; reads use ``_query`` (plain sqlite3)
        self.status.message = self._open_message

        self._writer = threading.Thread(target=self._writer_loop, name="progress-writer", daemon=True)
        self._writer.start()
        ref = weakref.ref(self)
        self._atexit = lambda: _atexit_close(ref)
        atexit.register(self._atexit)

    # ------------------------------------------------------------------ open

    def _open_memory(self, message: str | None = None, copy_from: Path | None = None) -> None:
        conn = _connect(f"file:fm-tutor-{uuid.uuid4().hex}?mode=memory", uri=True)
        if copy_from is not None:
            self._copy_readonly(copy_from, conn)
        self._migrate(conn)
        # One connection serves both reader and writer, so they share one lock.
        self._wconn = self._rconn = conn
        self._wlock = self._rlock = threading.RLock()
        self.path = None
        self.status.persistent = False
        self._open_message = message

    @staticmethod
    def _copy_readonly(src_path: Path, dest: sqlite3.Connection) -> bool:
        """Best effort: load an existing, unwritable database into memory."""
        if not src_path.is_file():
            return False
        for suffix in ("?mode=ro", "?immutable=1"):
            src = None
            try:
                src = sqlite3.connect(f"file:{src_path}{suffix}", uri=True)
                if src.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    return False
                src.backup(dest)
                return True
            except sqlite3.Error:
                continue
            finally:
                _close_quietly(src)
        return False

    def _open_file(self, target: Path) -> None:
        try:
            self._open_file_db(target)
        except _ReadOnly as exc:
            loaded = False
            conn_msg = (
                f"data dir {target.parent} is read-only or cannot be created ({exc}): progress is NOT being saved"
            )
            try:
                self._open_memory(conn_msg, copy_from=target)
                loaded = (
                    self._rconn.execute("SELECT 1 FROM lessons UNION ALL SELECT 1 FROM settings LIMIT 1").fetchone()
                    is not None
                )
            except sqlite3.Error:
                self._open_memory(conn_msg)
            if loaded:
                self._open_message = conn_msg + " (showing a read-only copy of the existing progress)"

    def _open_file_db(self, target: Path) -> None:
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _ReadOnly(exc.strerror or str(exc)) from exc
        if target.exists() and not target.is_file():
            raise _ReadOnly(f"{target} is not a file")
        moved_aside = None
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.02
        while True:
            wconn = rconn = None
            try:
                wconn = _connect(str(target))
                mode = wconn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                result = wconn.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed: {result}")
                self._migrate(wconn)
                rconn = _connect(str(target))
                rconn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                _close_quietly(wconn)
                _close_quietly(rconn)
                if _is_locked(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                if _is_corrupt(exc) and moved_aside is None:
                    moved_aside = self._move_aside(target)
                    continue
                if _is_readonly(exc) or _is_locked(exc):
                    raise _ReadOnly(str(exc)) from exc
                raise
            except OSError as exc:
                _close_quietly(wconn)
                _close_quietly(rconn)
                raise _ReadOnly(exc.strerror or str(exc)) from exc
            break
        self._wconn, self._rconn = wconn, rconn
        self._wlock, self._rlock = threading.RLock(), threading.RLock()
        self.path = target
        self.status.persistent = True
        if moved_aside is not None:
            self._open_message = (
                f"{target.name} was corrupt; moved aside to {moved_aside.name} and a fresh one was started"
            )
        if mode.lower() != "wal" and self._open_message is None:
            self._open_message = f"{target.name}: WAL journal unavailable (journal_mode={mode})"

    @staticmethod
    def _move_aside(target: Path) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        dest = target.with_name(f"{target.name}.corrupt-{stamp}")
        n = 1
        while dest.exists():
            n += 1
            dest = target.with_name(f"{target.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(target, dest)
            for suffix in ("-wal", "-shm", "-journal"):
                side = target.with_name(target.name + suffix)
                if side.exists():
                    os.replace(side, dest.with_name(dest.name + suffix))
        except OSError as exc:
            raise _ReadOnly(f"cannot move corrupt {target.name} aside: {exc.strerror or exc}") from exc
        return dest

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Apply pending migrations in one write transaction. They get a sqlite-utils Database that is imported only
        if a migration uses more than plain SQL (see :class:`_LazyDatabase`).

        The transaction is taken either way (``BEGIN IMMEDIATE``: a read-only or locked database shows here, when it
        is opened), but a database already at this schema is not written: its ``last_opened`` stamp is the writer
        thread's first job (:meth:`_stamp_opened`). A commit creates the WAL file and, on a busy disk, took from a
        few to hundreds of milliseconds before the TUI's first paint."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            before, after = schema.migrate(_LazyDatabase(conn))
            if after == before and before > 0:
                conn.execute("ROLLBACK")
                self._opened_at = iso()
            else:
                _write_opened(conn, iso())
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        if after > schema.SCHEMA_VERSION:
            self._open_message = (
                f"progress.db has schema version {after}, newer than this fm-tutor ({schema.SCHEMA_VERSION})"
            )

    # ---------------------------------------------------------------- writer

    def _submit(self, fn: Callable[[sqlite_utils.Database], None], what: str) -> None:
        if self._closed:
            self._record_failure(what, "the store is closed")
            return
        with self._pending_cv:
            self._pending += 1
        self._queue.put((fn, what))

    def _done_one(self) -> None:
        with self._pending_cv:
            self._pending -= 1
            if self._pending <= 0:
                self._pending_cv.notify_all()

    def _stamp_opened(self) -> None:
        """Record when the store was opened (``meta.last_opened``), on the writer thread; no read waits for it."""
        opened, self._opened_at = self._opened_at, None
        if opened is not None:
            try:
                self._run_write(lambda db: _write_opened(db, opened), "the time the progress was opened")
            except BaseException as exc:  # noqa: BLE001 - never let the writer die
                log.debug("_stamp_opened: never let the writer die", exc_info=True)
                self._record_failure("the time the progress was opened", exc)

    def _writer_loop(self) -> None:
        self._stamp_opened()
        while True:
            item = self._queue.get()
            if item is None:
                break
            fn, what = item
            try:
                self._run_write(fn, what)
            except BaseException as exc:  # noqa: BLE001 - never let the writer die
                log.debug("_writer_loop: never let the writer die", exc_info=True)
                self._record_failure(what, exc)
            finally:
                self._done_one()

    def _run_write(self, fn: Callable[[sqlite_utils.Database], None], what: str) -> None:
        conn = self._wconn
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                with self._wlock:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        fn(self._wdb)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.rollback()
                        raise
                return
            except sqlite3.OperationalError as exc:
                if _is_locked(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                self._record_failure(what, exc)
                return
            except Exception as exc:  # noqa: BLE001 - reported in status, never raised into the UI
                log.debug("_run_write: reported in status, never raised into the UI", exc_info=True)
                self._record_failure(what, exc)
                return

    def _record_failure(self, what: str, exc: BaseException | str) -> None:
        self.status.write_errors += 1
        text = f"could not save {what}: {exc}"
        self.status.message = f"{self._open_message} | {text}" if self._open_message else text

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every queued write is committed (True) or ``timeout`` passes (False)."""
        if threading.current_thread() is getattr(self, "_writer", None):
            return False
        end = time.monotonic() + timeout
        with self._pending_cv:
            while self._pending > 0:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._pending_cv.wait(left)
        return True

    def _sync(self) -> None:
        if self._pending:
            self.flush(5.0)

    def close(self) -> None:
        """Commit what is queued, stop the writer and close the connections. Idempotent."""
        if self._closed:
            return
        self.flush(LOCK_RETRY_SECONDS)
        self._closed = True
        self._queue.put(None)
        self._writer.join(LOCK_RETRY_SECONDS)
        while True:  # writes that raced with close: dropped, and said so
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._record_failure(item[1], "the store is closed")
                self._done_one()
        try:
            atexit.unregister(self._atexit)
        except Exception:  # noqa: BLE001,S110 - best effort on the way out
            log.debug("close: best effort on the way out", exc_info=True)
        with self._rlock:
            if self._wconn is not None and self._wconn is not self._rconn:
                try:
                    self._wconn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
            _close_quietly(self._rconn)
            if self._wconn is not self._rconn:
                _close_quietly(self._wconn)

    def __enter__(self):  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ read

    def _query(self, sql: str, params: Any = ()) -> list[dict]:
        """Rows as dicts over the read connection, with plain sqlite3. The caller holds ``_rlock``."""
        return _dict_rows(self._rconn.execute(sql, params))

    def _columns(self, table: str) -> list[str]:
        """The table's column names. The caller holds ``_rlock``."""
        return [r[1] for r in self._rconn.execute(f"PRAGMA table_info([{table}])")]

    def _rows(self, sql: str, params: Any = ()) -> list[dict]:
        self._sync()
        with self._rlock:
            return self._query(sql, params)

    def _one(self, sql: str, params: Any = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

