"""A detachable model server (detach_idle > 0) outlives its manager: detach() leaves it running and registered,
the next ModelServer adopts it (same pid, same endpoint), a dead owner's server is found, a mismatched one is
replaced, idle ones are culled, `fm-tutor kernels` lists and stops it, and the GPU locks stay with the engine.

Real `transformers serve` processes with fm-tiny where the engine matters, the vLLM stand-in (tests/backend/
fake_vllm.py) where only the bookkeeping and the GPU lock do. Every test kills what it started, even on failure."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tutor.core import procs, registry
from tutor.backend import engines
from tutor.backend import detached as sd
from tutor.core.config import load_config
from tutor.backend.gpu import GpuInfo, GpuLock
from tutor.backend.supervisor import ModelServer
from tutor.backend.endpoint import ServerError, State, current_endpoint

from ..kernel.test_detach import wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GPU = [GpuInfo(0, "Fake H100", 81920, 80000)]


@pytest.fixture
def run_dir(tmp_path):
    """The runtime dir of the test's servers; whatever is still registered there (or was started by a test and
    is still alive) is killed afterwards."""
    d = tmp_path / "srv"
    d.mkdir()
    pids: list[int] = []
    yield d, pids
    e = sd.read(d)
    if e and sd.alive(e):
        procs.kill_pid(e["pid"], grace=2)
    for pid in pids:
        if procs.pid_alive(pid):
            procs.kill_pid(pid, grace=2)


def _cfg(tmp_path, **env):
    return load_config(tmp_path / "none.toml", env={"FM_TUTOR_ENGINE": "transformers", **env})


def _server(cfg, d, **kw) -> ModelServer:
    kw.setdefault("detach_idle", 600)
    return ModelServer(cfg, run_dir=d, publish_env=False, cuda_probe=list, backoff=0.2, poll_interval=0.25, **kw)


def _complete(ep) -> str:
    from openai import OpenAI

    c = OpenAI(base_url=ep.base_url, api_key=ep.api_key, max_retries=0, timeout=60)
    return c.completions.create(model=ep.model, prompt="Lesson", max_tokens=4).choices[0].text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_detach_then_adopt_same_server_then_restart_on_death(run_dir, tmp_path, fm_tiny):
    d, pids = run_dir
    cfg = _cfg(tmp_path)
    s1 = _server(cfg, d)
    try:
        ep1 = s1.start(timeout=150)
        pid = s1.pid
        pids.append(pid)
        e = sd.read(d)
        assert e["pid"] == pid and e["owner"] == os.getpid() and e["detached_at"] is None  # claimed while it runs
        assert e["engine"] == "transformers" and e["model"] == "fm-tiny" and e["base_url"] == ep1.base_url
        assert s1.detach() is True
    finally:
        s1.stop()  # after detach() this leaves the server alone
    assert s1.state == State.STOPPED and sd.alive(e)
    e = sd.read(d)
    assert e["owner"] is None and e["detached_at"] > 0
    ep = current_endpoint(d)  # cells still find it: the endpoint file stays published
    assert ep is not None and ep.base_url == ep1.base_url

    s2 = _server(cfg, d)
    states = []
    s2.add_listener(states.append)
    try:
        ep2 = s2.start(timeout=60)
        assert s2.pid == pid and s2.reattached["pid"] == pid
        assert ep2.base_url == ep1.base_url and ep2.api_key == ep1.api_key and ep2.model == str(fm_tiny)
        assert s2.reattached_message().startswith(f"Reattached to the model server (fm-tiny, transformers, pid {pid}, "
                                                  "detached ")
        assert s2.state == State.READY and states[-1].state == State.READY
        assert isinstance(_complete(ep2), str)
        e = sd.read(d)
        assert e["pid"] == pid and e["owner"] == os.getpid() and e["detached_at"] is None
        # restart on death works for a process that is not our child
        os.killpg(pid, signal.SIGKILL)
        assert wait_for(lambda: s2.state == State.READY and s2.pid != pid, 150), s2.status
        assert any(s.reason and "the engine exited" in s.reason for s in states)
        new = s2.pid
        pids.append(new)
        assert sd.read(d)["pid"] == new  # the registry follows the restart
        assert isinstance(_complete(s2.endpoint), str)
    finally:
        s2.stop()
    assert not procs.pid_alive(new) and sd.read(d) is None and not (d / "endpoint.json").exists()


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tutor.core.config import load_config
    from tutor.backend.supervisor import ModelServer
    d = Path(sys.argv[1])
    cfg = load_config(d / "none.toml", env={"FM_TUTOR_ENGINE": "transformers"})
    srv = ModelServer(cfg, run_dir=d, detach_idle=600, publish_env=False, cuda_probe=list)
    srv.start(timeout=150)
    print(srv.pid, flush=True)
    time.sleep(300)
""")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_owner_server_is_adopted_and_a_mismatched_one_replaced(run_dir, tmp_path, fm_tiny):
    d, pids = run_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(d)], stdout=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
    try:
        pid = int(child.stdout.readline())
        pids.append(pid)
        os.killpg(child.pid, signal.SIGKILL)  # the app killed outright: no atexit, no detach
        assert child.wait(20) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    e = sd.read(d)
    assert e["owner"] == child.pid and e["detached_at"] is None and sd.alive(e)  # the dead owner's claim
    assert [r for r in [sd.listing(d)] if r["in_use"]] == []  # its owner is gone: not in use

    cfg = _cfg(tmp_path)
    s = _server(cfg, d)
    try:
        t0 = time.time()
        s.start(timeout=60)
        assert s.pid == pid and s.reattached["detached_at"] >= t0 - 1  # detached since first noticed
        assert s.detach()
    finally:
        s.stop()

    # other settings (here: no continuous batching) -> the detached server is stopped and a fresh one started
    other = _server(_cfg(tmp_path, FM_TUTOR_CONTINUOUS_BATCHING="0"), d)
    try:
        other.start(timeout=150)
        pids.append(other.pid)
        assert other.reattached is None and other.pid != pid
        assert not procs.pid_alive(pid)
        assert sd.read(d)["pid"] == other.pid
    finally:
        other.stop()
    assert sd.read(d) is None


@pytest.fixture
def fake_vllm(monkeypatch):
    monkeypatch.setattr(engines, "vllm_executable", lambda: [sys.executable, str(HERE / "fake_vllm.py")])


def _vllm_server(tmp_path, d, **kw) -> ModelServer:
    return ModelServer(load_config(tmp_path / "none.toml", env={}), cuda_probe=lambda: GPU, vllm_probe=lambda: True,
                       run_dir=d, publish_env=False, startup_timeout=30, **{"detach_idle": 600, **kw})


def _detached_vllm(tmp_path, d, pids, **kw) -> int:
    """Start a detachable server with the vLLM stand-in, detach it -> its pid."""
    s = _vllm_server(tmp_path, d, **kw)
    try:
        s.start(timeout=40)
        pid = s.pid
        pids.append(pid)
        assert s.detach()
    finally:
        s.stop()
    return pid


@pytest.mark.timeout(120)
def test_detached_vllm_keeps_its_gpu_lock_and_the_adopter_owns_it(run_dir, tmp_path, fm_tiny, fake_vllm):
    d, pids = run_dir
    pid = _detached_vllm(tmp_path, d, pids)
    assert sd.alive(sd.read(d)) and sd.read(d)["gpus"] == [0]
    # the manager is gone, the engine still holds GPU 0: no other engine may start there
    with pytest.raises(ServerError, match="GPU 0 is in use"):
        GpuLock([0], d).acquire(timeout=0.3)
    code = ("import sys; from pathlib import Path; from tutor.backend.endpoint import ServerError; from tutor.backend.gpu import GpuLock\n"
            f"try:\n GpuLock([0], Path({str(d)!r})).acquire(timeout=0.3)\nexcept ServerError: sys.exit(3)\n")
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}).returncode == 3

    s2 = _vllm_server(tmp_path, d)
    try:
        ep = s2.start(timeout=40)
        assert s2.pid == pid and s2.reattached
        req = __import__("urllib.request").request.Request(ep.base_url + "/models",
                                                           headers={"Authorization": f"Bearer {ep.api_key}"})
        assert json.load(__import__("urllib.request").request.urlopen(req, timeout=5))["data"][0]["id"] == "fm-tiny"
        with pytest.raises(ServerError, match="GPU 0 is in use"):  # still held while the adopter runs it
            GpuLock([0], d).acquire(timeout=0.3)
    finally:
        s2.stop()
    assert not procs.pid_alive(pid)
    lock = GpuLock([0], d)  # the engine is gone: so is its lock
    lock.acquire(timeout=2)
    lock.release()


@pytest.mark.timeout(120)
def test_detach_idle_zero_stops_on_exit_and_dies_with_its_parent(run_dir, tmp_path, fm_tiny, fake_vllm):
    d, pids = run_dir
    s = _vllm_server(tmp_path, d, detach_idle=0)
    try:
        s.start(timeout=40)
        pid = s.pid
        pids.append(pid)
        assert sd.read(d) is None  # nothing registered: it cannot outlive us
        assert s.detach() is False  # so detach() stops it
    finally:
        s.stop()
    assert not procs.pid_alive(pid) and s.state == State.STOPPED and not (d / "endpoint.json").exists()


def _fm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.mark.timeout(120)
def test_cull_and_the_kernels_command(run_dir, tmp_path, fm_tiny, fake_vllm, monkeypatch):
    d, pids = run_dir
    monkeypatch.setenv("FM_TUTOR_RUNTIME_DIR", str(d))
    kdir = tmp_path / "k"  # no detached kernels
    servers = []
    for _ in range(2):
        servers.append(_detached_vllm(tmp_path, d, pids))
        r = _fm("kernels", "--runtime-dir", str(kdir))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "no detached kernels"
        assert lines[1].split()[:2] == ["model", "server"]
        assert lines[2].split()[:4] == ["vllm", "fm-tiny", str(servers[-1]), str(sd.read(d)["port"])]
        assert "memory" in lines[1].split() and lines[2].split()[5] in ("KB", "MB", "GB")  # its resident memory
        if len(servers) == 1:  # stopped by name
            r = _fm("kernels", "stop", "--server", "--runtime-dir", str(kdir))
            assert r.returncode == 0, r.stderr
            assert f"stopped the model server (vllm, fm-tiny, pid {servers[-1]})" in r.stdout
            assert not procs.pid_alive(servers[-1]) and sd.read(d) is None and not (d / "endpoint.json").exists()

    # an hour idle: culled by the next `fm-tutor kernels` (detach_idle 600) ...
    with registry.locked(d, sd.REGISTRY, sd.LOCK) as (entries, save):
        entries[sd.KEY]["detached_at"] -= 3600
        save(entries)
    assert sd.cull(d, 7200) is None and procs.pid_alive(servers[1])  # not idle long enough for that limit
    r = _fm("kernels", "--runtime-dir", str(kdir), env={"FM_TUTOR_DETACH_IDLE": "600"})
    assert r.returncode == 0, r.stderr
    assert f"stopped the model server (vllm, fm-tiny, pid {servers[1]}): idle" in r.stdout
    assert not procs.pid_alive(servers[1]) and sd.read(d) is None
    assert _fm("kernels", "--runtime-dir", str(kdir)).stdout.strip() == "no detached kernels"


@pytest.mark.timeout(60)
def test_a_dead_entry_is_removed_cleanly(run_dir, tmp_path, fm_tiny, fake_vllm):
    d, pids = run_dir
    pid = _detached_vllm(tmp_path, d, pids)
    procs.kill_pid(pid)  # the detached server died on its own
    s2 = _vllm_server(tmp_path, d)
    try:
        s2.start(timeout=40)
        assert s2.reattached is None and s2.pid != pid
        pids.append(s2.pid)
        e = sd.read(d)
        assert e["pid"] == s2.pid and e["owner"] == os.getpid()
    finally:
        s2.stop()
    assert sd.read(d) is None


@pytest.mark.timeout(60)
def test_a_second_running_manager_does_not_take_the_first_ones_server(run_dir, tmp_path, fm_tiny):
    d, pids = run_dir
    code = ("import sys, time; sys.path.insert(0, sys.argv[2])\n"
            "from tutor.backend import detached as sd\n"
            "print(sd.take(sys.argv[1], lambda e: True, 600)[0], flush=True)\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    pids.append(sleeper.pid)
    try:
        entry = {"pid": sleeper.pid, "proc_start": procs.proc_start(sleeper.pid), "owner": os.getpid(),
                 "detached_at": None, "started_at": time.time(), "engine": "transformers", "base_url": "x"}
        assert sd.claim(d, entry)
        out = subprocess.run([sys.executable, "-c", code, str(d), str(ROOT)], capture_output=True, text=True)
        assert out.stdout.strip() == "busy", out.stderr  # held by a running owner (this process)
        assert sd.stop(d) is None and sleeper.poll() is None  # `kernels stop` leaves it alone too
        assert not sd.claim(d, {**entry, "pid": 1})  # another live server is registered
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sd.take(d, lambda e: True, 600) == ("none", None)  # the process is gone: the entry goes
    assert sd.read(d) is None


@pytest.mark.timeout(60)
def test_a_watcher_stops_the_detached_server_after_detach_idle_with_no_app_running(run_dir, tmp_path, fm_tiny,
                                                                                 fake_vllm):
    d, pids = run_dir
    pid = _detached_vllm(tmp_path, d, pids, detach_idle=1.5)
    assert sd.alive(sd.read(d))
    assert wait_for(lambda: not procs.pid_alive(pid) and sd.read(d) is None and not (d / "endpoint.json").exists(),
                    30), "the detached server was not stopped (and forgotten) after detach_idle"


@pytest.mark.timeout(60)
def test_the_watcher_leaves_an_adopted_server_alone(run_dir, tmp_path, fm_tiny, fake_vllm):
    d, pids = run_dir
    pid = _detached_vllm(tmp_path, d, pids)
    e = sd.read(d)
    s = _vllm_server(tmp_path, d)
    try:
        s.start(timeout=40)
        assert s.pid == pid
        sd.reap(d, pid, e["detached_at"], 0.0)  # returns at once: no longer the server it watched
        assert procs.pid_alive(pid) and sd.read(d)["owner"] == os.getpid()
    finally:
        s.stop()


@pytest.mark.timeout(60)
def test_an_unhealthy_detached_server_is_replaced(run_dir, tmp_path, fm_tiny, fake_vllm):
    d, pids = run_dir
    pid = _detached_vllm(tmp_path, d, pids)
    os.kill(pid, signal.SIGSTOP)  # alive, but it answers nothing
    s = _vllm_server(tmp_path, d)
    try:
        s.start(timeout=40)
        pids.append(s.pid)
        assert s.reattached is None and s.pid != pid
        assert wait_for(lambda: not procs.pid_alive(pid), 10)
        assert sd.read(d)["pid"] == s.pid
    finally:
        s.stop()
