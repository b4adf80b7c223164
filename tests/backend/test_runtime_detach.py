"""A model server that a kernel started itself (tutor.runtime's auto-start: a kernel with no tutor around it, or a
remote kernel on the GPU box) is detached, not stopped, when that kernel exits, and the next kernel adopts it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tutor.core.config import runtime_dir
from tutor.backend import detached as server_detach
from tutor.kernel.detach import pid_alive

pytestmark = pytest.mark.timeout(300)

KERNEL = """
import json, os
from tutor.runtime.remote import endpoint, complete
from tutor.core.config import runtime_dir
from tutor.backend import detached as server_detach
ep = endpoint(auto_start=True)
text = complete("The model", max_tokens=3)
entry = server_detach.read(runtime_dir())
print(json.dumps({"pid": ep.pid, "me": os.getpid(), "owner": entry and entry.get("owner"), "text": text}))
"""


def _kernel(env) -> dict:
    out = subprocess.run([sys.executable, "-c", KERNEL], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_auto_started_server_outlives_its_kernel_and_the_next_one_adopts_it(fm_tiny, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_DETACH_IDLE", "600")
    monkeypatch.setenv("FM_TUTOR_MODEL", str(fm_tiny))
    env = dict(os.environ)
    run = runtime_dir()
    try:
        first = _kernel(env)
        assert first["owner"] == first["me"] and isinstance(first["text"], str)
        pid = first["pid"]
        assert pid_alive(pid), "the server stopped with the kernel that started it"
        assert server_detach.detached_server(run, pid)  # left detached, for the next kernel

        second = _kernel(env)
        assert second["pid"] == pid  # the same process, model already loaded
        assert second["owner"] == second["me"]  # adopted (owned) while the second kernel ran
        assert pid_alive(pid) and server_detach.detached_server(run, pid)
    finally:
        server_detach.stop(run)
    assert server_detach.read(run) is None
