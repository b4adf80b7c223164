"""The real vLLM engine's life under the project's supervisor (engine = vllm, fm-tiny): detached and adopted by the
next manager (same process, model loaded), restarted after it is killed, and stopped when the app exits (or is
killed). Each test owns its servers and kills what it started, even on failure.

Run in .ci/run's `vllm` lane; skipped where vllm is not importable (see tests/backend/vllm_lane.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tutor.backend import detached as sd
from tutor.backend.endpoint import State, current_endpoint
from tutor.core import procs

from ..helpers import wait_until as wait_for
from .vllm_lane import MODEL, START_TIMEOUT, gone, group_gone, require_vllm, vllm_config, vllm_server

require_vllm()
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def started(tmp_path):
    """The servers' runtime dir, and a list the test fills with engine pids: each one's process group is killed
    at the end, whatever happened."""
    pids: list[int] = []
    yield tmp_path / "run", pids
    e = sd.read(tmp_path / "run")
    for pid in pids + ([e["pid"]] if e else []):
        if not group_gone(pid):
            os.killpg(pid, signal.SIGKILL)


def _complete(ep) -> str:
    from openai import OpenAI

    c = OpenAI(base_url=ep.base_url, api_key=ep.api_key, max_retries=0, timeout=120)
    return c.completions.create(model=ep.model, prompt="Lesson", max_tokens=4).choices[0].text


def test_detach_adopt_and_restart_after_the_engine_is_killed(started, tmp_path):
    d, pids = started
    cfg = vllm_config(tmp_path)
    s1 = vllm_server(cfg, d, detach_idle=600)
    try:
        ep1 = s1.start(timeout=START_TIMEOUT)
        pid = s1.pid
        pids.append(pid)
        assert s1.detach() is True
    finally:
        s1.stop()  # after detach() this leaves the server alone
    e = sd.read(d)
    assert procs.pid_alive(pid) and e["pid"] == pid and e["engine"] == "vllm" and e["detached_at"] > 0
    assert current_endpoint(d).base_url == ep1.base_url  # cells still find it

    s2 = vllm_server(cfg, d, detach_idle=600)
    states = []
    s2.add_listener(states.append)
    try:
        ep2 = s2.start(timeout=60)  # adopted: no second load
        assert s2.pid == pid and s2.reattached["pid"] == pid and s2.reattached["engine"] == "vllm"
        assert ep2.base_url == ep1.base_url and ep2.api_key == ep1.api_key and ep2.model == MODEL
        assert isinstance(_complete(ep2), str)
        os.killpg(pid, signal.SIGKILL)  # the engine killed (OOM killer, a learner's kill -9)
        assert wait_for(lambda: s2.state == State.READY and s2.pid not in (None, pid), START_TIMEOUT), s2.status
        new = s2.pid
        pids.append(new)
        assert s2.status.restarts == 1 and any(s.reason and "the engine exited" in s.reason for s in states)
        assert sd.read(d)["pid"] == new  # the registry follows the restart
        assert isinstance(_complete(s2.endpoint), str)
    finally:
        s2.stop()
    assert wait_for(lambda: group_gone(new), 30) and sd.read(d) is None and not (d / "endpoint.json").exists()


APP = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from tutor.core.config import load_config
    from tutor.backend.supervisor import ModelServer
    d = Path(sys.argv[1])
    cfg = load_config(d / "none.toml", env={"FM_TUTOR_ENGINE": "vllm", "FM_TUTOR_MAX_BATCH": "8",
                                            "FM_TUTOR_MAX_MODEL_LEN": "512", "FM_TUTOR_MODEL": sys.argv[3]})
    srv = ModelServer(cfg, run_dir=d / "run", publish_env=False)  # detach_idle 0: the engine dies with the app
    srv.start(wait=False)
    while srv.status.state.value != "loading" or srv.status.last_log_line[:2] in ("", "$ "):
        time.sleep(0.2)  # until vLLM itself logs (the first line is the argv the supervisor wrote)
    print(srv.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


@pytest.mark.parametrize("how", ["exit", "killed"])
def test_the_engine_stops_when_the_app_exits_or_is_killed(tmp_path, how):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    app = subprocess.Popen([sys.executable, "-c", APP, str(tmp_path), how, MODEL], stdout=subprocess.PIPE, text=True,
                           env=env, start_new_session=True)
    pid = None
    try:
        pid = int(app.stdout.readline())
        assert procs.pid_alive(pid)
        if how == "killed":
            os.killpg(app.pid, signal.SIGKILL)  # no atexit: the parent-death signal stops the engine
        assert app.wait(60) in (0, -signal.SIGKILL)
        assert wait_for(lambda: gone(pid), 30), f"the engine (pid {pid}) outlived the app ({how})"
        assert wait_for(lambda: group_gone(pid), 30), f"a process of the engine's group outlived the app ({how})"
    finally:
        if app.poll() is None:
            app.kill()
        if pid and not group_gone(pid):
            os.killpg(pid, signal.SIGKILL)
