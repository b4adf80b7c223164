"""The app starts the local model server in the background and shows its state in the key bar; the doctor
screen reports this machine."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tutor.core import procs
from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course
from tutor.ui.screens.doctor import DoctorRow, DoctorScreen

from .helpers import wait_for as _wait
from .kernel.test_detach import wait_for
from .helpers import widget_text


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_model_server_state_in_key_bar(fixture_course, tmp_path, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_MODEL_SERVER", "on")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(120, 30)) as pilot:
        assert await _wait(pilot, lambda: "fm-tiny" in app.model_status, 30), app.model_status
        assert "transformers" in app.model_status and "cpu" in app.model_status
        assert await _wait(pilot, lambda: "ready" in app.model_status or "failed" in app.model_status, 240)
        assert "ready" in app.model_status, app.model_status
        await pilot.pause()
        assert "ready" in widget_text(app.screen.query_one("KeyBar"), width=120)
        server = app.model_server
    assert server.state.value == "stopped"  # stopped with the app


@pytest.mark.timeout(240)
async def test_doctor_screen(fixture_course, tmp_path, monkeypatch):
    monkeypatch.delenv("FM_TUTOR_MODEL", raising=False)
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.press("D")
        assert isinstance(app.screen, DoctorScreen)
        scr = app.screen
        # the checks stream in: the quick ones are on the screen while fm-tiny still loads
        assert await _wait(pilot, lambda: "Python 3" in scr.report_text(), 60), scr.report_text()
        status = widget_text(scr.query_one("#doctor-status"))
        assert "Checking..." in status or "Checked in" in status
        assert await _wait(pilot, lambda: "fm-tiny loads" in scr.report_text(), 200), scr.report_text()
        assert await _wait(pilot, lambda: "Checked in" in widget_text(scr.query_one("#doctor-status")), 60)
        text = scr.report_text()
        assert "GPU memory" in text and "1,311,872 parameters" in text and "Log file" in text
        # one verdict, and the model's source is the learner's configuration (as the CLI says), not the variables
        # the app exports for its kernels
        assert text.count("All is well") == 1 and "[env FM_TUTOR_MODEL]" not in text
        assert "model = fm-tiny [default]" in text
        # a long check wraps under its text, never back to column 0
        await pilot.pause()
        row = next(r for r in scr.query(DoctorRow) if len(r.text) > 75)
        assert row.region.height >= 2 and row.query_one(".text").region.x == row.region.x + 9
        await pilot.press("g")  # check again: the rows go and stream in anew
        await pilot.pause()
        assert "Checking..." in widget_text(scr.query_one("#doctor-status"))
        await pilot.press("escape")  # left while its checks still run in their thread: they report to no one
        await pilot.pause()
        await pilot.press("D")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, DoctorScreen) and again is not scr
        assert await _wait(pilot, lambda: "Checked in" in widget_text(again.query_one("#doctor-status")), 200)
        assert again.report_text().count("All is well") == 1 and again.report_text().count("Versions") == 1


def _tmux(sock: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=False)


def _screen(sock: str, session: str, text: str, timeout: float) -> str:
    """Wait until ``text`` is on the tmux pane (lines joined: a toast may wrap) -> the screen."""
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _tmux(sock, "capture-pane", "-p", "-t", session).stdout
        if text in " ".join(ln.strip(" │▏▕|") for ln in screen.splitlines()):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed")
def test_model_server_survives_hangup_and_the_next_app_reattaches(fixture_course, tmp_path):
    """The real app in a terminal (tmux) with the model server on and detach_idle > 0: the terminal goes away
    (tmux kills the session: SIGHUP) -> the server keeps running, healthy, detached; the next fm-tutor adopts the
    same process and says so."""
    from tutor.backend import detached as sd
    from tutor.backend.endpoint import current_endpoint

    run = tmp_path / "run"
    sock = "fmt-" + uuid.uuid4().hex[:8]  # a private tmux server
    env = {"TERM": "xterm-256color", "FM_TUTOR_DATA_DIR": tmp_path / "data", "FM_TUTOR_CONTENT": fixture_course,
           "FM_TUTOR_CONFIG": tmp_path / "config.toml", "FM_TUTOR_RUNTIME_DIR": run,
           "XDG_RUNTIME_DIR": tmp_path / "xdg", "FM_TUTOR_DETACH_IDLE": "600", "FM_TUTOR_MODEL_SERVER": "on",
           "FM_TUTOR_ENGINE": "transformers", "FM_TUTOR_SPARE_KERNEL": "0", "HF_HUB_OFFLINE": "1"}
    (tmp_path / "xdg").mkdir(mode=0o700)
    unset = " ".join(f"-u {k}" for k in ("FM_TUTOR_BASE_URL", "FM_TUTOR_API_KEY", "FM_TUTOR_MODEL",
                                        "FM_TUTOR_ENGINE_SERVING", "COLUMNS", "LINES"))  # pytest's 80x24
    cmd = f"env {unset} {' '.join(f'{k}={v}' for k, v in env.items())} {sys.executable} -m tutor"
    pids = []
    try:
        _tmux(sock, "new-session", "-d", "-s", "one", "-x", "120", "-y", "30", cmd)
        _screen(sock, "one", "model ready", 240)
        e = sd.read(run)
        pid, app_pid = e["pid"], e["owner"]
        pids.append(pid)
        assert e["detached_at"] is None and procs.pid_alive(app_pid)
        _tmux(sock, "kill-session", "-t", "one")  # the terminal goes away: SIGHUP
        assert wait_for(lambda: not procs.pid_alive(app_pid), 30), "the app did not exit on hang-up"
        e = sd.read(run)
        assert e["pid"] == pid and e["owner"] is None and e["detached_at"], e  # detached, not stopped
        assert sd.alive(e)
        ep = current_endpoint(run)  # healthy, and still published for the cells
        assert ep is not None and ep.base_url == e["base_url"]

        _tmux(sock, "new-session", "-d", "-s", "two", "-x", "120", "-y", "30", cmd)
        screen = _screen(sock, "two", f"pid {pid}, detached", 60)
        assert "Reattached to the model server" in " ".join(screen.split()), screen
        _screen(sock, "two", "model ready", 60)
        e = sd.read(run)
        assert e["pid"] == pid and e["owner"] not in (None, app_pid)  # the new app holds the same server
        _tmux(sock, "send-keys", "-t", "two", "q")  # quit: detached again
        assert wait_for(lambda: not procs.pid_alive(e["owner"]), 30)
        assert sd.read(run)["owner"] is None and sd.alive(sd.read(run))
    finally:
        _tmux(sock, "kill-server")  # an app still running detaches its server on the hang-up: wait for it
        e = sd.read(run) or {}
        wait_for(lambda: not procs.pid_alive(e.get("owner")), 30)
        stopped = sd.stop(run)
        for p in {*pids, e.get("pid")}:  # whatever a failure left behind
            if p and procs.pid_alive(p):
                procs.kill_pid(p)
    assert stopped and stopped["pid"] == pid and not procs.pid_alive(pid)



@pytest.mark.timeout(180)
def test_exit_says_what_keeps_running_and_how_to_stop_it(fixture_course, tmp_path):
    """detach_idle > 0 and a lesson open: on quit the terminal reads which kernels keep running, for how long and
    the command that stops them."""
    from tutor.kernel import detach as reg

    kdir = tmp_path / "xdg"
    kdir.mkdir(mode=0o700)
    sock = "fmt-" + uuid.uuid4().hex[:8]
    env = {"TERM": "xterm-256color", "FM_TUTOR_DATA_DIR": tmp_path / "data", "FM_TUTOR_CONTENT": fixture_course,
           "FM_TUTOR_CONFIG": tmp_path / "config.toml", "FM_TUTOR_RUNTIME_DIR": tmp_path / "run",
           "XDG_RUNTIME_DIR": kdir, "FM_TUTOR_DETACH_IDLE": "600", "FM_TUTOR_MODEL_SERVER": "off",
           "FM_TUTOR_SPARE_KERNEL": "0"}
    unset = " ".join(f"-u {k}" for k in ("COLUMNS", "LINES"))
    cmd = (f"env {unset} {' '.join(f'{k}={v}' for k, v in env.items())} {sys.executable} -m tutor lesson 01; "
           "sleep 60")  # the shell keeps the pane, and what the app printed at exit, on the screen
    try:
        _tmux(sock, "new-session", "-d", "-s", "one", "-x", "120", "-y", "30", cmd)
        _screen(sock, "one", "Foundation", 60)
        assert wait_for(lambda: any(r["in_use"] for r in _kernel_rows(kdir)), 90), "no kernel started"
        _tmux(sock, "send-keys", "-t", "one", "C-q")
        screen = "".join(_screen(sock, "one", "stops everything.", 60).splitlines())  # wrapped at 120 columns
        assert "1 lesson kernel (01) keeps running detached for 10 min idle" in screen, screen
        assert "`fm-tutor kernels stop --all` stops everything." in screen, screen
    finally:
        _tmux(sock, "kill-server")
        for base in _kernel_bases(kdir):
            reg.stop(base)


def _kernel_bases(xdg):
    return [p.parent for p in xdg.rglob("detached.json")]


def _kernel_rows(xdg):
    from tutor.kernel import detach as reg

    return [r for base in _kernel_bases(xdg) for r in reg.listing(base)]


async def test_status_line_shows_the_server_memory_and_marks_a_cut(fixture_course, tmp_path, monkeypatch):
    """A ready server's resident memory follows its state in the key bar; where the status does not fit, it ends
    in a marker instead of being cut silently."""
    import asyncio

    from tutor.backend.endpoint import ServerStatus, State

    monkeypatch.setenv("FM_TUTOR_MODEL_SERVER", "off")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(160, 30)) as pilot:
        st = ServerStatus(State.READY, engine="transformers", rss=419 << 20)
        await asyncio.to_thread(app._server_state, st)
        await pilot.pause()
        assert app.model_status == "model ready · 419 MB · fm-tiny · transformers · cpu"
        assert "model ready · 419 MB · fm-tiny · transformers · cpu" in widget_text(app.screen.query_one("KeyBar"),
                                                                                     width=160)
        await pilot.resize_terminal(118, 30)
        await pilot.pause()
        bar = widget_text(app.screen.query_one("KeyBar"), width=118)
        assert "model ready · 419 MB" in bar and "transformers · cpu" not in bar and bar.rstrip().endswith("…"), bar
