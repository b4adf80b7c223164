"""One install, one registry: kernels and servers another install (another interpreter prefix) recorded in a shared
runtime dir are never adopted, culled or stopped from here, and `fm-tutor kernels` names them apart."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.backend import detached as sd
from tutor.backend.endpoint import Endpoint, current_endpoint
from tutor.core import procs, registry
from tutor.kernel import detach as reg

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]
OTHER = {"python": "/opt/other-venv/bin/python", "prefix": "/opt/other-venv"}


@pytest.fixture
def sleepers():
    started = []

    def start(*args: str) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args], start_new_session=True)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


def test_entries_record_the_interpreter_and_foreign_ones_count_as_held():
    me = registry.install()
    assert me == {"python": sys.executable, "prefix": sys.prefix}
    assert not registry.foreign({**me}) and not registry.foreign({})  # old entries: this install's
    assert registry.foreign(dict(OTHER)) and registry.owned(dict(OTHER, owner=None))


def test_another_installs_kernel_is_never_taken_culled_or_stopped(tmp_path, sleepers):
    base = tmp_path / "k"
    cf = tmp_path / "kernel-x.json"
    cf.write_text("{}")
    p = sleepers(str(cf))
    from tests.helpers import wait_until

    assert wait_until(lambda: procs.pid_alive(p.pid, str(cf)), 30)  # its command line names the file once it runs
    entry = {"connection_file": str(cf), "pid": p.pid, "started_at": time.time() - 7200,
             "detached_at": time.time() - 7200, "pool_dir": str(tmp_path), "owner": None, **OTHER}
    with reg.locked(base) as (entries, save):
        entries["01"] = entry
        save(entries)
    assert reg.take(base, "01") is None  # not adopted
    assert reg.cull(base, 60) == [] and reg.stop(base) == []  # detached 2 h, yet not culled: not ours
    assert procs.pid_alive(p.pid, str(cf)) and "01" in reg.read(base)
    assert reg.put(base, {"01": {**entry, "pid": os.getpid(), **registry.install()}}) == ["01"]  # not superseded
    assert procs.pid_alive(p.pid, str(cf))
    rows = reg.listing(base)
    assert rows[0]["foreign"] and rows[0]["python"] == OTHER["python"]


def test_another_installs_server_is_never_adopted_culled_or_stopped(tmp_path, sleepers):
    d = tmp_path / "run"
    p = sleepers()
    entry = {"pid": p.pid, "proc_start": procs.proc_start(p.pid), "port": 1, "base_url": "http://127.0.0.1:1/v1",
             "api_key": "k", "model": "fm-tiny", "served": "fm-tiny", "engine": "transformers", "argv": [],
             "started_at": time.time() - 7200, "detached_at": time.time() - 7200, "owner": None, **OTHER}
    with registry.locked(d, sd.REGISTRY, sd.LOCK) as (entries, save):
        entries[sd.KEY] = entry
        save(entries)
    assert sd.take(d, lambda e: True, 0)[0] == "busy"  # not adopted, and ours will not register over it
    assert sd.cull(d, 60) is None and sd.stop(d) is None and procs.pid_alive(p.pid)
    assert sd.claim(d, {**entry, "pid": os.getpid(), **registry.install()}) is False
    assert sd.read(d)["pid"] == p.pid
    # the CLI lists it apart and `kernels stop --all` leaves it running
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FM_TUTOR_RUNTIME_DIR": str(d), "FM_TUTOR_DETACH_IDLE": "60"}
    kdir = tmp_path / "none"
    out = subprocess.run([sys.executable, "-m", "tutor", "kernels", "--runtime-dir", str(kdir)], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert f"another install's: {OTHER['python']}" in out.stdout and "stopped" not in out.stdout
    out = subprocess.run([sys.executable, "-m", "tutor", "kernels", "stop", "--all", "--runtime-dir", str(kdir)],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert procs.pid_alive(p.pid), out.stdout


def test_another_installs_endpoint_is_not_used(tmp_path, monkeypatch):
    for k in ("FM_TUTOR_BASE_URL", "FM_TUTOR_MODEL"):
        monkeypatch.delenv(k, raising=False)
    ep = Endpoint("http://127.0.0.1:9/v1", "k", "fm-tiny", "transformers")
    ep.write(tmp_path / "endpoint.json")
    assert json.loads((tmp_path / "endpoint.json").read_text())["prefix"] == sys.prefix
    assert current_endpoint(tmp_path, check=False).base_url == ep.base_url
    Endpoint("http://127.0.0.1:9/v1", "k", "fm-tiny", "transformers", prefix=OTHER["prefix"]).write(
        tmp_path / "endpoint.json")
    assert current_endpoint(tmp_path, check=False) is None


def _reapers(d: Path) -> list[int]:
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tutor.backend.detached" in cmd and str(d).encode() in cmd and procs.pid_alive(int(proc.name)):
            out.append(int(proc.name))
    return out


def test_at_most_one_reaper_watcher(tmp_path, sleepers):
    from tests.helpers import wait_until

    d = tmp_path / "run"
    p = sleepers()
    entry = {"pid": p.pid, "proc_start": procs.proc_start(p.pid), "port": 1, "base_url": "http://127.0.0.1:1/v1",
             "api_key": "k", "model": "fm-tiny", "served": "fm-tiny", "engine": "transformers", "argv": [],
             "started_at": time.time(), "detached_at": None, "owner": os.getpid(), **registry.install()}
    assert sd.claim(d, entry)
    try:
        first = sd.detach(d, p.pid)
        sd.spawn_reaper(d, p.pid, first, 3600)
        assert wait_until(lambda: sd.reaper_pid(d) is not None, 30), "the watcher did not start"
        one = sd.reaper_pid(d)
        # adopted and detached again: a second watcher replaces the first
        with registry.locked(d, sd.REGISTRY, sd.LOCK) as (entries, save):
            entries[sd.KEY].update(owner=os.getpid(), detached_at=None)
            save(entries)
        second = sd.detach(d, p.pid)
        sd.spawn_reaper(d, p.pid, second, 3600)
        assert wait_until(lambda: sd.reaper_pid(d) not in (None, one), 30), "the second watcher did not start"
        assert wait_until(lambda: len(_reapers(d)) == 1, 30), _reapers(d)
        assert _reapers(d) == [sd.reaper_pid(d)] and procs.pid_alive(p.pid)
    finally:
        sd.stop_reaper(d)
        assert wait_until(lambda: not _reapers(d), 30)
