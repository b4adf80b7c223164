"""The registry of detached lesson kernels: ``detached.json`` in the pools' base runtime dir. No Textual here.

A pool created with ``detach_idle > 0`` launches its kernels *independent* (own session, no parent poller),
so they outlive the app. ``KernelPool.detach_all()`` records each live kernel here instead of shutting it down;
the next pool's ``start(lesson_id)`` takes the entry and reattaches to the kernel. Entries::

    lesson_id -> {"connection_file", "pid", "started_at", "detached_at", "pool_dir", "log_path", "setup_done",
                  "owner"}

A running pool also *claims* its kernels here (``owner`` = its pid, ``detached_at`` None) and releases them when
it stops them, so the kernels of an app that was killed outright (SIGKILL, a crash) are found too: once their
owner is gone they count as detached from the moment that is first noticed. A warm spare is claimed as
``_spare-PID`` and stopped as soon as its owner is gone. ``setup_done`` holds sha1 hashes of the setup cells already run in that kernel. Every read-modify-write holds
an flock on ``detached.lock``. Kernels are told apart from a reused pid by their command line, which names
their connection file (Linux: /proc/PID/cmdline).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from tutor.core import registry as _registry
from tutor.core.procs import kill_pid, pid_alive
from tutor.core.registry import owned

REGISTRY = "detached.json"
LOCK = "detached.lock"


def locked(base: Path):
    """Hold the kernel registry's lock: yields (entries, save) (:func:`tutor.core.registry.locked`)."""
    return _registry.locked(base, REGISTRY, LOCK)


def read(base: Path) -> dict:
    return _registry.read(base, REGISTRY)


def code_hash(code: str) -> str:
    return hashlib.sha1(code.encode("utf-8")).hexdigest()


def cleanup_files(entry: dict) -> None:
    """Remove a gone kernel's connection file and ipc sockets (and its pool dir once nothing else is in it)."""
    cf = entry.get("connection_file")
    if cf:
        try:
            info = json.loads(Path(cf).read_text(encoding="utf-8"))
            if info.get("transport") == "ipc":
                for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
                    with contextlib.suppress(OSError, KeyError, TypeError):
                        os.remove(f"{info['ip']}-{int(info[key])}")
        except (OSError, ValueError):
            pass
        with contextlib.suppress(OSError):
            os.remove(cf)
    pool_dir = entry.get("pool_dir")
    if pool_dir:
        sweep_pool_dir(Path(pool_dir))


def _pool_dir_pid(d: Path) -> int | None:
    try:
        return int(d.name[1:].split("-", 1)[0]) if d.name.startswith("p") else None
    except ValueError:
        return None


def sweep_pool_dir(d: Path) -> None:
    """Remove a pool dir whose owning process is gone and which holds no connection file any more."""
    pid = _pool_dir_pid(d)
    if pid is None or not d.is_dir():
        return
    if pid == os.getpid() or pid_alive(pid):
        return
    if any(d.glob("kernel-*.json")):
        return
    shutil.rmtree(d, ignore_errors=True)


def claim(base: Path, key: str, entry: dict) -> bool:
    """Record a running pool's kernel (``entry["owner"]`` set); False if another live kernel holds ``key``."""
    with locked(base) as (entries, save):
        cur = entries.get(key)
        if cur is not None and cur.get("pid") != entry.get("pid") and pid_alive(cur.get("pid"), cur.get("connection_file")):
            return False
        entries[key] = entry
        save(entries)
    return True


def release(base: Path, key: str, pid: int | None) -> None:
    """Forget ``key`` if it is the kernel ``pid`` (it is being stopped, or renamed)."""
    _registry.release(base, REGISTRY, LOCK, key, pid)


def take(base: Path, lesson_id: str) -> dict | None:
    """Pop ``lesson_id``'s entry; return it if its kernel is alive, not held by a running pool, and its connection
    file exists."""
    with locked(base) as (entries, save):
        entry = entries.get(lesson_id)
        if entry is None or owned(entry):
            return None
        del entries[lesson_id]
        save(entries)
    if pid_alive(entry.get("pid"), entry.get("connection_file")) and os.path.exists(entry.get("connection_file", "")):
        return entry
    cleanup_files(entry)
    return None


def put(base: Path, new: dict[str, dict]) -> list[str]:
    """Record detached kernels; a detached kernel already registered for the same lesson is stopped (superseded).
    -> the keys not recorded because another running pool holds a kernel for them (the caller stops its own)."""
    with locked(base) as (entries, save):
        old, busy = {}, []
        for k, e in new.items():
            cur = entries.get(k)
            if cur is not None and cur.get("pid") != e.get("pid"):
                if owned(cur) and pid_alive(cur.get("pid"), cur.get("connection_file")):
                    busy.append(k)
                    continue
                old[k] = cur
            entries[k] = e
        save(entries)
    for e in old.values():
        if pid_alive(e.get("pid"), e.get("connection_file")):
            kill_pid(e["pid"])
        cleanup_files(e)
    return busy


def listing(base: Path) -> list[dict]:
    """The registered kernels, each with ``lesson``, ``pid``, ``alive``, ``age`` and ``idle`` (seconds)."""
    now = time.time()
    out = []
    for lesson, e in sorted(read(base).items()):
        if lesson.startswith("_spare"):
            continue
        in_use = owned(e)
        out.append({"lesson": lesson, "pid": e.get("pid"), "alive": pid_alive(e.get("pid"), e.get("connection_file")),
                    "age": now - float(e.get("started_at") or now),
                    "idle": 0.0 if in_use else now - float(e.get("detached_at") or now),
                    "in_use": in_use, "connection_file": e.get("connection_file"),
                    "foreign": _registry.foreign(e), "python": e.get("python")})
    return out


def stop(base: Path, lessons: list[str] | None = None) -> list[str]:
    """Stop registered detached kernels (all if ``lessons`` is None; never those a running pool holds) and drop their
    entries -> the lesson ids stopped."""
    return _drop(base, lambda lesson, e: lessons is None or lesson in lessons)


def cull(base: Path, max_idle: float) -> list[str]:
    """Stop kernels detached longer than ``max_idle`` seconds; drop entries whose kernel is gone -> culled ids."""
    return [lesson for lesson, _ in cull_entries(base, max_idle)]


def cull_entries(base: Path, max_idle: float) -> list[tuple[str, dict]]:
    """:func:`cull` -> (id, entry) of each kernel stopped: a spare whose app is gone (``_spare-PID``, stopped at
    once, whatever its age) or a lesson's kernel detached longer than ``max_idle`` (its ``detached_at`` says
    since when), for the caller to say which and why."""
    now = time.time()
    return _drop(base, lambda lesson, e: lesson.startswith("_spare") or now - float(e["detached_at"]) > max_idle,
                 with_entries=True)


def _drop(base: Path, pick, with_entries: bool = False) -> list:
    now = time.time()
    with locked(base) as (entries, save):
        gone, changed = {}, False
        for lesson, e in list(entries.items()):
            alive = pid_alive(e.get("pid"), e.get("connection_file"))
            if alive and owned(e):
                continue  # a running pool's kernel
            if alive and not e.get("detached_at"):  # its owner was killed: detached from now on
                e["detached_at"], e["owner"], changed = now, None, True
            if not alive or pick(lesson, e):
                gone[lesson] = (entries.pop(lesson), alive)
        if gone or changed:
            save(entries)
    stopped = []
    for lesson, (e, alive) in gone.items():
        if alive:
            kill_pid(e["pid"])
            stopped.append((lesson, e) if with_entries else lesson)
        cleanup_files(e)
    sweep(base)
    return stopped


def sweep(base: Path) -> None:
    """Remove the dirs of dead pools that no registered kernel uses any more."""
    used = {e.get("pool_dir") for e in read(base).values()}
    for d in Path(base).glob("p*-*"):
        if str(d) not in used:
            sweep_pool_dir(d)
