"""The registry of the detached model server: ``model-server.json`` in the server's runtime dir. No Textual here.

A :class:`tutor.backend.supervisor.ModelServer` created with ``detach_idle > 0`` spawns its engine so that it can outlive the
app (its own session, no parent-death signal) and *claims* it here while it runs (``owner`` = its pid,
``detached_at`` None). ``ModelServer.detach()`` (app exit, SIGHUP) lets go of it instead of stopping it
(``owner`` None, ``detached_at`` now); its endpoint file stays published. The next ``ModelServer.start()`` with the
same engine, model and settings *takes* the entry and adopts the running server (see :func:`take`). An app that
was killed outright leaves its claim behind: once the owner pid is gone the server counts as detached from the
moment that is first noticed, exactly like the lesson kernels (:mod:`tutor.kernel.detach`; both keep
their entries through :mod:`tutor.core.registry` and use :mod:`tutor.core.procs`). One entry at most, under the key ``"server"``::

    {"pid", "proc_start", "port", "base_url", "api_key", "model", "served", "engine", "argv", "log_path", "gpus",
     "started_at", "detached_at", "owner"}

``proc_start`` (the process's start time, /proc/PID/stat) tells the server apart from a process that reused its
pid; ``argv`` is its command line, compared with what the current settings would run.

A detached server is stopped once idle ``detach_idle`` seconds: by a watcher process :func:`spawn_reaper` starts
at detach time (so that a detached vLLM does not hold GPU memory for good when no fm-tutor runs again), and by
:func:`cull`, which the next app and ``fm-tutor kernels`` call (the only way for the server of an app killed
outright: nobody detached it, so no watcher runs).

GPU locks: the engine inherits the app's flock on ``gpu-<i>.lock`` (same open file description), so a detached
server still holds its GPUs after the app is gone; an app that adopts it owns it through this registry, and the
lock goes when the server process goes.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tutor.core import registry as _registry
from tutor.core.procs import kill_pid, pid_alive
from tutor.core.registry import owned

REGISTRY = "model-server.json"
LOCK = "model-server.lock"
KEY = "server"
ENDPOINT_FILE = "endpoint.json"  # tutor.backend.supervisor.ENDPOINT_FILE (not imported: the CLI lists without loading it)


def _locked(run_dir: Path):
    return _registry.locked(run_dir, REGISTRY, LOCK)


def read(run_dir: Path) -> dict | None:
    """The registered server's entry (running, detached or gone), or None."""
    e = _registry.read(run_dir, REGISTRY).get(KEY)
    return e if isinstance(e, dict) else None


def alive(entry: dict) -> bool:
    """True if the entry's process still runs (and is the same process: pid and start time)."""
    return pid_alive(entry.get("pid"), start=entry.get("proc_start"))


def _examine(entry: dict, now: float) -> str:
    """"gone", "owned" (a running app holds it) or "detached"; an entry whose owner died (the app was killed)
    becomes detached from ``now`` (modifies ``entry``)."""
    if not alive(entry):
        return "gone"
    if owned(entry):
        return "owned"
    if not entry.get("detached_at"):
        entry["detached_at"], entry["owner"] = now, None
    return "detached"


def detached_server(run_dir: Path, pid: int | None = None) -> bool:
    """True if a live server (``pid``, if given) is registered here with no running owner: whoever uses it next
    should adopt it (``ModelServer.start()``), not just read its endpoint, or its idle watcher stops it."""
    e = read(run_dir)
    if e is None or (pid is not None and e.get("pid") != pid):
        return False
    return _examine(dict(e), time.time()) == "detached"


def claim(run_dir: Path, entry: dict) -> bool:
    """Record a running server (``entry["owner"]`` set); False if another live server is registered and held."""
    with _locked(run_dir) as (entries, save):
        cur = entries.get(KEY)
        if cur is not None and cur.get("pid") != entry.get("pid") and _examine(cur, time.time()) != "gone":
            return False
        entries[KEY] = entry
        save(entries)
    return True


def release(run_dir: Path, pid: int | None) -> None:
    """Forget the entry if it is the server ``pid`` (it is being stopped, or it died)."""
    _registry.release(run_dir, REGISTRY, LOCK, KEY, pid)


def detach(run_dir: Path, pid: int) -> float | None:
    """Mark the server ``pid`` detached (no owner, detached now) -> its detached_at, None if the registry does not
    hold it."""
    with _locked(run_dir) as (entries, save):
        cur = entries.get(KEY)
        if cur is None or cur.get("pid") != pid:
            return None
        cur["owner"], cur["detached_at"] = None, time.time()
        save(entries)
    return cur["detached_at"]


def take(run_dir: Path, matches: Callable[[dict], bool], max_idle: float) -> tuple[str, dict | None]:
    """What a starting ModelServer finds -> (outcome, entry):

    - ``("adopt", entry)``: a live detached server that ``matches`` (same engine, model and command line), idle
      less than ``max_idle`` seconds (no limit when 0); it is now claimed by this process (``entry`` is the record
      as it was, with its ``detached_at``).
    - ``("busy", entry)``: a running app holds a server here (this one must not register its own).
    - ``("none", None)``: nothing to adopt; a gone, too idle or mismatched server was stopped and forgotten.
    """
    if not (Path(run_dir) / REGISTRY).exists():
        return "none", None
    now = time.time()
    with _locked(run_dir) as (entries, save):
        cur = entries.get(KEY)
        if cur is None:
            return "none", None
        state = _examine(cur, now)
        if state == "owned":
            return "busy", dict(cur)
        if state == "detached" and (max_idle <= 0 or now - float(cur["detached_at"]) <= max_idle) and matches(cur):
            found = dict(cur)
            cur["owner"], cur["detached_at"] = os.getpid(), None
            save(entries)
            return "adopt", found
        del entries[KEY]
        save(entries)
    stop_entry(run_dir, cur, state == "detached")
    return "none", None


def stop_entry(run_dir: Path, entry: dict, running: bool = True) -> None:
    """Stop a server that is no longer (or never was) registered: SIGTERM to its process group, SIGKILL after a
    grace period, any leftover worker of its group killed; its endpoint file goes if it is the published one."""
    pid = entry.get("pid")
    if running and pid and alive(entry):
        with contextlib.suppress(OSError):  # a stopped (SIGSTOP) server would not act on the SIGTERM
            os.killpg(pid, signal.SIGCONT)
        kill_pid(pid, grace=15.0 if entry.get("engine") == "vllm" else 5.0)
    if pid:
        with contextlib.suppress(OSError):  # the leader is gone; no worker of its group may linger (vLLM)
            os.killpg(pid, signal.SIGKILL)
    p = Path(run_dir) / ENDPOINT_FILE
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if json.loads(p.read_text(encoding="utf-8")).get("base_url") == entry.get("base_url"):
            p.unlink()


def drop(run_dir: Path, entry: dict) -> None:
    """Stop and forget a server taken for adoption that turned out unusable (it does not answer /health)."""
    release(run_dir, entry.get("pid"))
    stop_entry(run_dir, entry)


def cull(run_dir: Path, max_idle: float) -> dict | None:
    """Stop the server if it has been detached longer than ``max_idle`` seconds; forget it if it is gone.
    -> the entry of the server stopped, or None."""
    return _drop(run_dir, lambda e: time.time() - float(e["detached_at"]) > max_idle)


def stop(run_dir: Path) -> dict | None:
    """Stop the detached server (never one a running app holds) -> its entry, or None."""
    return _drop(run_dir, lambda e: True)


def _drop(run_dir: Path, pick: Callable[[dict], bool]) -> dict | None:
    if not (Path(run_dir) / REGISTRY).exists():
        return None
    with _locked(run_dir) as (entries, save):
        cur = entries.get(KEY)
        if cur is None:
            return None
        state = _examine(cur, time.time())
        if state == "owned":
            return None
        if state == "detached" and not pick(cur):
            save(entries)  # an orphan's detached_at, first noticed now
            return None
        del entries[KEY]
        save(entries)
    stop_entry(run_dir, cur, state == "detached")
    return cur if state == "detached" else None


def listing(run_dir: Path) -> dict | None:
    """The registered server with ``alive``, ``in_use``, ``age`` and ``idle`` (seconds), or None."""
    e = read(run_dir)
    if e is None:
        return None
    now = time.time()
    in_use = owned(e)
    return {**e, "alive": alive(e), "in_use": in_use, "foreign": _registry.foreign(e),
            "age": now - float(e.get("started_at") or now),
            "idle": 0.0 if in_use else now - float(e.get("detached_at") or now)}


# ---------------------------------------------------------------- the reaper


def spawn_reaper(run_dir: Path, entry_pid: int, detached_at: float, max_idle: float) -> None:
    """Start a small watcher process that stops the detached server once it has been idle ``max_idle`` seconds,
    even if no fm-tutor runs again (a detached vLLM holds GPU memory). It exits as soon as the server is adopted,
    stopped or detached anew (that detach starts its own watcher)."""
    import subprocess
    import sys

    stop_reaper(run_dir)  # at most one watcher: the previous one watches a detach that is over
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    subprocess.Popen([sys.executable, "-m", "tutor.backend.detached", "reap", str(run_dir), str(entry_pid),
                      repr(detached_at), repr(max_idle)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, env=env, close_fds=True)


REAPER_PID = "model-server-reaper.pid"
REAPER_LOCK = "model-server-reaper.lock"


def reaper_pid(run_dir: Path) -> int | None:
    """The pid of the live watcher of this runtime dir, or None."""
    try:
        pid = int((Path(run_dir) / REAPER_PID).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        if b"tutor.backend.detached" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # the pid was reused
    except OSError:
        return None
    return pid if pid_alive(pid) else None


def stop_reaper(run_dir: Path) -> None:
    """Stop the watcher of an earlier detach, if one is alive."""
    pid = reaper_pid(run_dir)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def reap(run_dir: Path, entry_pid: int, detached_at: float, max_idle: float) -> None:
    """The watcher's loop (see :func:`spawn_reaper`). It holds ``model-server-reaper.lock`` while it runs (a
    successor waits for its predecessor to go) and writes its pid for :func:`stop_reaper`."""
    import fcntl

    run_dir = Path(run_dir)
    fd = os.open(run_dir / REAPER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process exits
    pid_file = run_dir / REAPER_PID
    tmp = run_dir / f".{REAPER_PID}.{os.getpid()}"
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, pid_file)
    try:
        _reap(run_dir, entry_pid, detached_at, max_idle)
    finally:
        with contextlib.suppress(OSError, ValueError):
            if int(pid_file.read_text()) == os.getpid():
                pid_file.unlink()


def _reap(run_dir: Path, entry_pid: int, detached_at: float, max_idle: float) -> None:
    while True:
        e = read(run_dir)
        if e is None or e.get("pid") != entry_pid or e.get("detached_at") != detached_at:
            return  # adopted (owner set, detached_at None), stopped, or detached again
        left = detached_at + max_idle - time.time()
        if left <= 0:
            cull(run_dir, max_idle)
            return
        time.sleep(min(left + 0.5, 60.0))


if __name__ == "__main__":  # python -m tutor.backend.detached reap RUN_DIR PID DETACHED_AT MAX_IDLE
    import sys

    if len(sys.argv) == 6 and sys.argv[1] == "reap":
        reap(Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
