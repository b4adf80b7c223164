"""CUDA GPUs: probe them with nvidia-smi (no torch in the TUI process) and hold one flock per GPU, so two engines
never start on one GPU at once."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tutor.backend.endpoint import ServerError


@dataclass
class GpuInfo:
    index: int
    name: str
    total_mib: int
    free_mib: int


def nvidia_smi_gpus(timeout: float = 10.0) -> list[GpuInfo]:
    """CUDA devices via nvidia-smi; [] when there is no driver or no GPU."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            try:
                gpus.append(GpuInfo(int(parts[0]), parts[1], int(float(parts[2])), int(float(parts[3]))))
            except ValueError:
                continue
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        keep = {v.strip() for v in visible.split(",") if v.strip()}
        gpus = [g for g in gpus if str(g.index) in keep]
    return gpus


class GpuLock:
    """An exclusive flock on runtime_dir/gpu-<index>.lock for each GPU an engine uses."""

    def __init__(self, indices: list[int], directory: Path):
        self.indices = sorted(indices)
        self.directory = directory
        self._files: list = []

    def acquire(self, timeout: float, on_wait: Callable[[str], None] | None = None) -> None:
        import fcntl

        deadline = time.monotonic() + timeout
        for i in self.indices:
            f = open(self.directory / f"gpu-{i}.lock", "a+")
            while True:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        f.close()
                        self.release()
                        raise ServerError(f"GPU {i} is in use by another fm-tutor model server "
                                          f"(lock {self.directory / f'gpu-{i}.lock'}); stop it first") from None
                    if on_wait:
                        on_wait(f"waiting for GPU {i} (another engine is starting or running)")
                    time.sleep(0.5)
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            self._files.append(f)

    def fds(self) -> list[int]:
        """The lock files' descriptors: an engine spawned with them (pass_fds) shares the locks, and holds them
        after this process lets go of its own copies (:meth:`abandon`)."""
        return [f.fileno() for f in self._files]

    def abandon(self) -> None:
        """Close this process's copies without unlocking: the engine that inherited them keeps the GPUs locked
        until it exits (a detached server)."""
        for f in self._files:
            f.close()
        self._files = []

    def release(self) -> None:
        import fcntl

        for f in self._files:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            finally:
                f.close()
        self._files = []
