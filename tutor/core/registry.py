"""The registry of detached processes: one JSON file per kind in a 0700 runtime dir, read-modify-written under an
flock, written atomically. Lesson kernels (:mod:`tutor.kernel.detach`) and the model server
(:mod:`tutor.backend.detached`) keep their entries here; both use :func:`locked`, :func:`read` and :func:`owned`.

One install, one registry: every entry records the interpreter that started it (:func:`install`: ``python`` =
sys.executable, ``prefix`` = sys.prefix). Another install's entry (:func:`foreign`) counts as held: this install
never adopts, culls or stops it, and lists it apart (a runtime dir can be shared by two venvs of one user)."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from tutor.core.procs import pid_alive


@contextlib.contextmanager
def locked(base: Path, registry: str, lock: str):
    """Hold ``base/lock``; yields (entries, save) where save(entries) writes ``base/registry`` atomically."""
    import fcntl

    base = Path(base)
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(base / lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)

        def save(entries: dict) -> None:
            tmp = base / f".{registry}.{os.getpid()}"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
                json.dump(entries, f, indent=1)
            os.replace(tmp, base / registry)

        yield read(base, registry), save
    finally:
        os.close(fd)  # releases the flock


def release(base: Path, registry: str, lock: str, key: str, pid: int | None) -> None:
    """Forget ``key`` if its entry is the process ``pid`` (it is being stopped, renamed, or it died)."""
    if pid is None or not (Path(base) / registry).exists():
        return
    with locked(base, registry, lock) as (entries, save):
        if (entries.get(key) or {}).get("pid") == pid:
            del entries[key]
            save(entries)


def read(base: Path, registry: str) -> dict:
    try:
        data = json.loads((Path(base) / registry).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def install() -> dict:
    """The fields naming this install in an entry: its interpreter and its prefix."""
    return {"python": sys.executable, "prefix": sys.prefix}


def foreign(entry: dict) -> bool:
    """True if another install (another interpreter prefix) recorded ``entry``; entries without a prefix (written
    before installs were told apart) count as this install's."""
    prefix = entry.get("prefix")
    if not prefix:
        return False
    return os.path.realpath(str(prefix)) != os.path.realpath(sys.prefix)


def owned(entry: dict) -> bool:
    """True if a running pool or app (its owner process) holds this entry, or another install recorded it: either
    way it is not this install's to adopt, cull or stop."""
    if foreign(entry):
        return True
    owner = entry.get("owner")
    return bool(owner) and pid_alive(int(owner))
