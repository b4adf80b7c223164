"""Terminal compatibility: 80x24 at several TERM settings and NO_COLOR; a real tmux session walking
home -> lesson -> run a cell -> answer a question -> quit; browser mode over loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "env",
    [{"TERM": "xterm-256color"}, {"TERM": "screen-256color"}, {"TERM": "linux"}, {"TERM": "xterm-256color", "NO_COLOR": "1"}],
    ids=["xterm-256color", "screen-256color", "linux-16", "no-color"],
)
def test_reader_at_80x24(snap_compare, fixture_course, tmp_path, monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if "NO_COLOR" not in env:
        monkeypatch.delenv("NO_COLOR", raising=False)
    store = ProgressStore(tmp_path / "p.db")
    store.set_active_path("quick")
    store.flush()
    app = TutorApp(course=load_course(fixture_course), store=store)

    async def go(pilot):
        pilot.app.open_lesson("01", "what-a-foundation-model-is")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=go)


def _tmux(*args, **kw):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, **kw)


def _wait_screen(session, text, timeout=60.0):
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-t", session).stdout
        if text in screen:
            return screen
        time.sleep(0.2)
    history = _tmux("capture-pane", "-p", "-S", "-300", "-t", session).stdout  # scrollback: a traceback, if any
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}\nwith scrollback:\n{history}")


@pytest.mark.timeout(180)
@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed")
def test_tmux_walk_home_lesson_cell_quiz_quit(fixture_course, tmp_path):
    session = "fmt-" + uuid.uuid4().hex[:8]
    env = (f"env TERM=xterm-256color FM_TUTOR_DATA_DIR={tmp_path}/data FM_TUTOR_CONTENT={fixture_course} "
           f"FM_TUTOR_SPARE_KERNEL=0 FM_TUTOR_MODEL_SERVER=off")
    cmd = f"{env} {sys.executable} -m tutor; echo EXITED-$?; sleep 30"
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd, check=True)
    try:
        _wait_screen(session, "Foundation Model Paradigm")
        _tmux("send-keys", "-t", session, "c")  # start the first lesson
        _wait_screen(session, "step 1/5")
        _tmux("send-keys", "-t", session, "n")
        _wait_screen(session, "step 2/5")
        _tmux("send-keys", "-t", session, "a")  # run the step's cells
        _wait_screen(session, "1.414214", timeout=90)
        _tmux("send-keys", "-t", session, "n", "n")  # to the quiz step
        _wait_screen(session, "step 4/5")
        _wait_screen(session, "your answer")  # the quiz card's answer box is on screen
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "Tab")
        time.sleep(0.5)
        _tmux("send-keys", "-t", session, "-l", "1.2e20")
        _wait_screen(session, "1.2e20")
        _tmux("send-keys", "-t", session, "Enter")
        _wait_screen(session, "Correct")
        _tmux("send-keys", "-t", session, "q")
        _wait_screen(session, "EXITED-0")
    finally:
        _tmux("kill-session", "-t", session)
    store = ProgressStore(tmp_path / "data" / "progress.db")
    assert store.latest_quiz_results("01") == {"flops": True}
    assert any(r["cell_id"] == "sqrt-two" and r["status"] == "ok" for r in store.cell_runs("01"))
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(60)
def test_serve_binds_loopback_and_serves_the_page(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "FM_TUTOR_DATA_DIR": str(tmp_path)})
    try:
        end = time.monotonic() + 40
        body = ""
        while time.monotonic() < end:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert "fm-tutor" in body and "<html" in body.lower()
        with socket.socket() as s:  # not reachable on a non-loopback address of this machine
            s.settimeout(1)
            try:
                other = socket.gethostbyname(socket.gethostname())
            except OSError:
                other = None
            if other and not other.startswith("127."):
                assert s.connect_ex((other, port)) != 0
    finally:
        proc.terminate()
        proc.wait(10)
