"""Process helpers shared by the kernels and the model server: is a pid alive (and the same process), stop or interrupt
its process group, a free port, the parent-death signal. No Textual here."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def proc_start(pid: int | None) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (/proc/PID/stat field 22): with the pid, it names one
    process for good (a pid can be reused, a pid and start time cannot). None where /proc does not tell."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]  # fields after "(comm)": state is field 3
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None, connection_file: str | None = None, start: str | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, where /proc tells, is the kernel of ``connection_file`` (its command
    line names it) and the process that started at ``start`` (:func:`proc_start`)."""
    if not pid:
        return False
    try:  # our own child (a kernel detached and reattached in one process): reap it if it has exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except (ChildProcessError, OSError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: the pid was reused
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            if "State:\tZ" in (proc / "status").read_text():
                return False
            if connection_file and connection_file.encode() not in (proc / "cmdline").read_bytes():
                return False
            if start and proc_start(pid) not in (start, None):
                return False
        except OSError:
            pass
    return True


def kill_pid(pid: int, grace: float = 2.0) -> None:
    """SIGTERM the process group of ``pid`` when it leads one (a kernel or a model server: their own session),
    else the process, then SIGKILL after ``grace`` seconds."""
    def send(sig):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            pass

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)


def interrupt_pid(pid: int) -> None:
    """What jupyter_client does for interrupt_mode "signal": SIGINT to the kernel's process group."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGINT)
        else:
            os.kill(pid, signal.SIGINT)
    except OSError:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_LIBC = None


def load_libc():
    """Load libc in the parent, so the child after fork only makes one C call (no imports, no locks)."""
    global _LIBC
    if _LIBC is None and sys.platform == "linux":
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            _LIBC = False
    return _LIBC or None


def preexec_die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the engine gets SIGTERM if the tutor dies without running atexit (PR_SET_PDEATHSIG)."""
    if _LIBC:
        _LIBC.prctl(1, signal.SIGTERM)


class AdoptedProcess:
    """The engine process of a server a previous app detached: not this process's child, so it is watched by pid
    and start time (the same interface as the subprocess.Popen the manager uses otherwise)."""

    def __init__(self, pid: int, start: str | None):
        self.pid = pid
        self._start = start
        self.returncode: int | str | None = None

    def poll(self):
        from tutor.core.procs import pid_alive

        if self.returncode is None and not pid_alive(self.pid, start=self._start):
            self.returncode = "?"  # its exit status went to its parent
        return self.returncode

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return self.returncode


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss(pid: int | None) -> int | None:
    """Resident memory in bytes of ``pid`` and every process below it (an engine's workers count), or None where
    /proc does not tell (not Linux, the process is gone or not ours to read)."""
    if not pid or not Path(f"/proc/{pid}/status").exists():
        return None
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kb(p)
        todo.extend(children.get(p, []))
    return total * 1024 if total else None


def fmt_bytes(n: int | None) -> str:
    """1536 -> "1.5 KB", 734003200 -> "700 MB", None -> "?"."""
    if n is None:
        return "?"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{n} B"
