"""Two stores on one file, and kill -9 durability."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tutor.progress import ProgressStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_two_instances_write_concurrently(tmp_path):
    path = tmp_path / "progress.db"
    stores = [ProgressStore(path), ProgressStore(path)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(store: ProgressStore, tag: str) -> None:
        try:
            start.wait()
            for i in range(500):
                store.add_step_time(tag, f"s{i}", 1.0)
                store.record_quiz_attempt(tag, f"q{i}", {"i": i}, i % 2 == 0, 0.5)
                if i % 50 == 0:
                    store.save_cell_edit(tag, "cell", f"v{i}")
                    store.lesson_state(tag)  # interleave reads
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(stores[0], "A1")),
        threading.Thread(target=writer, args=(stores[0], "A2")),
        threading.Thread(target=writer, args=(stores[1], "B1")),
        threading.Thread(target=writer, args=(stores[1], "B2")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    for s in stores:
        assert s.flush(60)
    assert not errors
    for s in stores:
        assert s.status.write_errors == 0, s.status.message
        assert s.status.message is None
    for s in stores:  # each instance sees the other's rows
        for tag in ("A1", "A2", "B1", "B2"):
            assert len(s.step_times(tag)) == 500
            assert len(s.quiz_attempts(tag)) == 500
            assert s.cell_edit(tag, "cell") == "v450"
    for s in stores:
        s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 2000
    assert conn.execute("SELECT count(*) FROM quiz_attempts").fetchone()[0] == 2000
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# A "zygote" process imports the store once and forks one writer child per kill,
# so a kill cycle costs milliseconds instead of a fresh interpreter start.
ZYGOTE = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from tutor.progress import ProgressStore
db = Path(sys.argv[2])

def out(text):
    os.write(1, (text + "\n").encode())  # one write per line: atomic on a pipe

def child(tag):
    store = ProgressStore(db)
    out("ready")
    i = 0
    while True:
        key = f"{tag}-{i}"
        store.add_step_time("k", key, 1.0)
        store.save_cell_edit("k", key, "x" * 200)
        store.record_quiz_attempt("k", key, {"i": i}, True, 0.1)
        if store.flush(30):
            out(key)  # reported committed
        i += 1

out("zygote")
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "spawn":
        pid = os.fork()
        if pid == 0:
            try:
                child(arg)
            finally:
                os._exit(3)
        out(f"pid {pid}")
    elif cmd == "reap":
        _, status = os.waitpid(int(arg), 0)
        out(f"reaped {status}")
    else:
        break
"""


def _kill_loop(db: Path, worker: int, kills: int, rng: random.Random, results: list, errors: list) -> None:
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(ROOT), str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )

    def send(text: str) -> None:
        zygote.stdin.write((text + "\n").encode())
        zygote.stdin.flush()

    def line() -> str:
        got = zygote.stdout.readline()
        assert got, "zygote died"
        return got.decode().rstrip("\n")

    try:
        assert line() == "zygote"
        for n in range(kills):
            tag = f"w{worker}n{n}"
            send(f"spawn {tag}")
            pid, ready = None, False
            early = rng.random() < 0.1  # sometimes kill while the store is still opening
            while pid is None or not (ready or early):
                text = line()
                if text.startswith("pid "):
                    pid = int(text[4:])
                elif text == "ready":
                    ready = True
            time.sleep(rng.uniform(0.0, 0.02) if early else rng.uniform(0.02, 0.15))
            os.kill(pid, signal.SIGKILL)
            send(f"reap {pid}")
            reported = []
            while True:
                text = line()
                if text.startswith("reaped "):
                    status = int(text.split()[1])
                    break
                if text != "ready":
                    reported.append(text)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
            conn = sqlite3.connect(db, timeout=30)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                present = {
                    r[0] for r in conn.execute("SELECT step_id FROM activity WHERE step_id LIKE ?", [tag + "-%"])
                }
                edits = {
                    r[0] for r in conn.execute("SELECT cell_id FROM cell_edits WHERE cell_id LIKE ?", [tag + "-%"])
                }
                quiz = {
                    r[0]
                    for r in conn.execute(
                        "SELECT question_id FROM quiz_attempts WHERE question_id LIKE ?", [tag + "-%"]
                    )
                }
            finally:
                conn.close()
            missing = [k for k in reported if k not in present or k not in edits or k not in quiz]
            assert not missing, f"reported committed but lost: {missing[:5]}"
            results.append(len(reported))
        send("quit")
        zygote.wait(30)
    except BaseException as exc:  # noqa: BLE001 - re-raised by the test
        errors.append(exc)
    finally:
        if zygote.poll() is None:
            zygote.kill()
            zygote.wait(30)


@pytest.mark.timeout(240)
def test_kill_9_durability(tmp_path):
    workers, kills_each = 4, 52  # 208 kills; each worker has its own db file
    rng = random.Random(12345)
    results: list[int] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_kill_loop,
            args=(tmp_path / f"kill{w}.db", w, kills_each, random.Random(rng.random()), results, errors),
        )
        for w in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(220)
    if errors:
        raise errors[0]
    assert len(results) == workers * kills_each >= 200
    assert sum(results) > 0, "no child ever got to commit anything"
    for w in range(workers):  # the survivors still open cleanly as stores
        s = ProgressStore(tmp_path / f"kill{w}.db")
        try:
            assert s.status.message is None
            assert s.step_times("k")
        finally:
            s.close()


@pytest.mark.timeout(60)
def test_writes_do_not_block_and_retry_past_a_held_lock(tmp_path):
    path = tmp_path / "progress.db"
    store = ProgressStore(path)
    try:
        store._wconn.execute("PRAGMA busy_timeout=20")  # force the writer's own retry/backoff path
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another instance holds the write lock
        try:
            for i in range(20):
                store.add_step_time("01", f"s{i}", 1.0)  # returns although nothing can commit
            assert store.flush(0.3) is False  # still queued, not lost, no error
            assert store.status.message is None
        finally:
            other.execute("COMMIT")
            other.close()
        assert store.flush(30) is True
        assert len(store.step_times("01")) == 20
        assert store.status.write_errors == 0 and store.status.message is None
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_write_that_never_gets_the_lock_is_reported(tmp_path, monkeypatch):
    from tutor.progress import durable as store_mod

    path = tmp_path / "progress.db"
    store = ProgressStore(path)
    try:
        monkeypatch.setattr(store_mod, "LOCK_RETRY_SECONDS", 0.3)
        store._wconn.execute("PRAGMA busy_timeout=20")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            store.save_cell_edit("01", "c", "lost")  # must not raise
            assert store.flush(30) is True
        finally:
            other.execute("COMMIT")
            other.close()
        assert store.status.write_errors == 1
        assert "could not save cell 01/c" in store.status.message and "locked" in store.status.message
        store.save_cell_edit("01", "c", "kept")  # later writes still work
        assert store.cell_edit("01", "c") == "kept"
    finally:
        store.close()
