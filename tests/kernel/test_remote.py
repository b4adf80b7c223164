"""Remote kernels (``--kernel-host``) against a real sshd this module starts on 127.0.0.1 with a throwaway key.

The "remote" fm-tutor is this venv's (its absolute path: the remote shell's PATH does not have the venv). sshd
comes from the OS package openssh-server (.ci/run installs it); without it these tests are skipped.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from tutor.kernel import KernelPool, OutputBuffer, Result, Stream
from tutor.kernel.remote import RemoteHost, explain_failure

from ..helpers import press_run, wait_for, wait_until
from .conftest import fresh_kernel, make_pool, ready_kernel

pytestmark = pytest.mark.timeout(120)

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
FM_TUTOR = str(Path(sys.executable).with_name("fm-tutor"))
SSH_OPTS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o GSSAPIAuthentication=no"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _unavailable(why: str):
    """Skip, except where .ci/run installed openssh-server (FM_TUTOR_TEST_SSHD=1): there a missing or broken
    sshd fails the run instead of silently skipping the remote-kernel tests."""
    if os.environ.get("FM_TUTOR_TEST_SSHD") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def sshd():
    """A real sshd on 127.0.0.1:PORT for the current user: own host key, one authorized throwaway client key."""
    if SSHD is None or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        _unavailable("openssh-server/openssh-client not installed (apt-get install openssh-server)")
    d = Path(tempfile.mkdtemp(prefix="fmsshd-"))
    _keygen(d / "host_key")
    _keygen(d / "client_key")
    _keygen(d / "other_key")  # a key sshd does not know
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nUsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "UseDNS no\nLogLevel ERROR\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # Debian's privilege separation dir
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return proc.poll() is not None

    wait_until(listening, 15)
    if proc.poll() is not None:
        _unavailable(f"sshd did not start: {(d / 'sshd.log').read_text(errors='replace')[-500:]}")
    yield {"port": port, "key": str(d / "client_key"), "other_key": str(d / "other_key"), "dir": d, "pid": proc.pid}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(d, ignore_errors=True)


def remote_host(sshd, **kw) -> RemoteHost:
    args = {"remote_command": FM_TUTOR, "port": sshd["port"], "identity": sshd["key"],
            "ssh_options": tuple(SSH_OPTS.split())}
    args.update(kw)
    return RemoteHost("127.0.0.1", **args)


@pytest.fixture(scope="module")
def rpool(sshd):
    yield from make_pool(remote=remote_host(sshd), start_timeout=60)


@pytest.fixture(scope="module")
def rshared(rpool):
    return ready_kernel(rpool, "shared")


@pytest.fixture
def rfresh(rpool):
    yield from fresh_kernel(rpool)


def value(k, code):
    got = []
    r = k.execute(code, on_event=lambda ev: isinstance(ev, Result) and got.append(ev)).result(30)
    assert r.status == "ok", r.message
    return got[0].data["text/plain"] if got else None


def remote_pid_alive(pid: int) -> bool:  # sshd runs on this machine: the "remote" pid is visible here
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------ with sshd
def test_cell_runs_remotely_and_variables_persist(rshared):
    buf = OutputBuffer()
    r = rshared.execute("x = 41\nprint('hello from', 'far away')", on_event=buf.add).result(30)
    assert r.status == "ok", r.message
    assert buf.full_text() == "hello from far away"  # the buffer drops the trailing newline
    assert value(rshared, "x + 1") == "42"
    assert value(rshared, "import os; os.environ['FM_TUTOR_KERNEL']") == "'shared'"


def test_kernel_is_a_child_of_the_agent_that_sshd_started(rshared, sshd):
    code = ("import os\n"
            "def chain(pid):\n"
            "    out = []\n"
            "    while pid > 1:\n"
            "        lines = open(f'/proc/{pid}/status').read().splitlines()\n"
            "        st = dict(l.split(':\\t', 1) for l in lines if ':\\t' in l)\n"
            "        out.append((pid, st['Name'].strip()))\n"
            "        pid = int(st['PPid'])\n"
            "    return out\n"
            "(os.getppid(), int(os.environ['FM_TUTOR_KERNEL_AGENT']), chain(os.getpid()))")
    ppid, agent, chain = eval(value(rshared, code))
    assert ppid == agent == rshared.remote_info["agent_pid"]
    assert chain[0][0] == rshared.remote_pid
    pids = [p for p, _ in chain]
    # kernel <- agent <- ... <- sshd <- this test process (which started sshd): the tutor side (this process,
    # its ssh client) is reached only through sshd
    assert sshd["pid"] in pids and pids[pids.index(sshd["pid"]) + 1] == os.getpid(), chain
    assert rshared._proc.pid not in pids
    assert any(name.startswith("sshd") for _, name in chain[1:pids.index(sshd["pid"])]), chain


def test_interrupt_a_long_cell(rshared):
    started = threading.Event()
    f = rshared.execute("print('go', flush=True)\nwhile True: pass",
                        on_event=lambda ev: isinstance(ev, Stream) and started.set())
    assert started.wait(20)
    rshared.interrupt().result(10)
    r = f.result(20)
    assert r.status == "interrupted", r.message
    assert value(rshared, "'still here'") == "'still here'"


def test_restart_clears_state_on_the_same_connection(rfresh):
    value(rfresh, "y = 5")
    ssh_pid, old_kernel = rfresh._proc.pid, rfresh.remote_pid
    rfresh.restart().result(60)
    assert rfresh.state == "idle"
    assert value(rfresh, "'y' in globals()") == "False"
    assert rfresh._proc.pid == ssh_pid  # the agent restarted the kernel: no new SSH connection
    assert rfresh.remote_pid != old_kernel
    assert wait_until(lambda: not remote_pid_alive(old_kernel), 20)


def test_kernel_death_is_reported_and_restart_brings_it_back(rfresh):
    r = rfresh.execute("import os; os._exit(3)").result(30)
    assert r.status == "died"
    assert "the kernel on 127.0.0.1 died" in r.message and "3" in r.message, r.message
    assert rfresh.state == "dead"
    rfresh.restart().result(60)
    assert value(rfresh, "6 * 7") == "42"


def test_lost_connection_fails_the_running_cell_then_reconnects(rfresh):
    started = threading.Event()
    f = rfresh.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)",
                       on_event=lambda ev: isinstance(ev, Stream) and started.set())
    assert started.wait(20)
    kernel_pid = rfresh.remote_pid
    os.kill(rfresh._proc.pid, signal.SIGKILL)  # the SSH connection drops
    r = f.result(30)
    assert r.status == "died"
    assert "SSH connection to 127.0.0.1 was lost" in r.message, r.message
    assert wait_until(lambda: not remote_pid_alive(kernel_pid), 30)  # the agent stopped the kernel on EOF
    rfresh.restart().result(60)  # a new connection, a fresh kernel
    assert value(rfresh, "'back'") == "'back'"


def test_shutdown_stops_the_remote_kernel(rpool):
    k = rpool.start("bye")
    k.wait_ready(60)
    pid, ssh = k.remote_pid, k._proc
    assert remote_pid_alive(pid)
    assert rpool.shutdown("bye", delay=0).result(30) is True
    assert ssh.returncode is not None
    assert wait_until(lambda: not remote_pid_alive(pid), 20)


@pytest.mark.parametrize("case", ["unreachable", "auth", "missing"])
def test_start_errors_say_why(sshd, case):
    kw = {"unreachable": {"port": _free_port()},  # nothing listens there
          "auth": {"identity": sshd["other_key"]},
          "missing": {"remote_command": "/nonexistent/bin/fm-tutor"}}[case]
    d = tempfile.mkdtemp(prefix="fmr-")
    pool = KernelPool(runtime_dir=d, remote=remote_host(sshd, **kw))
    try:
        k = pool.start("01")
        with pytest.raises(RuntimeError):
            k.wait_ready(60)
        msg = k.start_error
        if case == "unreachable":
            assert msg.startswith("Cannot reach 127.0.0.1 over SSH: ") and "Connection refused" in msg, msg
        elif case == "auth":
            assert msg.startswith("SSH authentication to 127.0.0.1 failed") and "Permission denied" in msg, msg
            assert "BatchMode" in msg and "ssh-agent" in msg
        else:
            assert msg.startswith("fm-tutor is not installed on 127.0.0.1 (or not on PATH"), msg
            assert "kernel.remote_command" in msg
        r = k.execute("1").result(10)  # what a cell shows
        assert r.status == "died" and msg in r.message
    finally:
        pool.shutdown_all()
        shutil.rmtree(d, ignore_errors=True)


def _cli_env(monkeypatch, sshd, port=None):
    monkeypatch.setenv("FM_TUTOR_REMOTE_COMMAND", FM_TUTOR)
    monkeypatch.setenv("FM_TUTOR_SSH_PORT", str(port or sshd["port"]))
    monkeypatch.setenv("FM_TUTOR_SSH_IDENTITY", sshd["key"])
    monkeypatch.setenv("FM_TUTOR_SSH_OPTIONS", SSH_OPTS)
    monkeypatch.setenv("FM_TUTOR_KERNEL_HOST", "")  # "" = local; restored (unset) after the test, whatever main() set


def test_run_cells_with_kernel_host(sshd, monkeypatch, capsys, fixture_course):
    from tutor.cli import main

    _cli_env(monkeypatch, sshd)
    lesson = next((fixture_course / "lessons").glob("*.md"))
    assert main(["run-cells", str(lesson), "--kernel-host", "127.0.0.1", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "kernels on 127.0.0.1 over SSH" in out and "passed" in out


def test_run_cells_unreachable_host_says_so(sshd, monkeypatch, capsys, fixture_course):
    from tutor.cli import main

    _cli_env(monkeypatch, sshd, port=_free_port())
    lesson = next((fixture_course / "lessons").glob("*.md"))
    assert main(["--kernel-host", "127.0.0.1", "run-cells", str(lesson), "--color", "never"]) == 1
    assert "kernel failed to start: Cannot reach 127.0.0.1 over SSH" in capsys.readouterr().out


async def test_reader_runs_a_cell_on_the_kernel_host(sshd, monkeypatch, fixture_course, tmp_path):
    from tutor.progress import ProgressStore
    from tutor.ui.app import TutorApp
    from tutor.course import load_course
    from tutor.kernel.remote import RemoteKernel

    _cli_env(monkeypatch, sshd)
    monkeypatch.setenv("FM_TUTOR_KERNEL_HOST", "127.0.0.1")
    monkeypatch.delenv("FM_TUTOR_MODEL_SERVER")  # remote mode must not start a local model server by itself
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await press_run(app, pilot, "01", "what-a-foundation-model-is", "sqrt-two")
        assert await wait_for(pilot, lambda: cell.state == "ok", 60), (cell.state, cell.message)
        assert "1.414214" in cell.output.full_text()
        assert isinstance(app.kernel_pool().kernel("01"), RemoteKernel)
        await pilot.pause(1.2)  # past the moment a local model server would be started
        assert app.model_server is None and "model on 127.0.0.1" in app.model_status


async def test_reader_shows_an_unreachable_host_and_keeps_running(sshd, monkeypatch, fixture_course, tmp_path):
    from tutor.progress import ProgressStore
    from tutor.ui.app import TutorApp
    from tutor.course import load_course

    _cli_env(monkeypatch, sshd, port=_free_port())
    monkeypatch.setenv("FM_TUTOR_KERNEL_HOST", "127.0.0.1")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        cell = await press_run(app, pilot, "01", "what-a-foundation-model-is", "sqrt-two")
        assert await wait_for(pilot, lambda: cell.state == "died", 60), (cell.state, cell.message)
        assert "Cannot reach 127.0.0.1 over SSH" in cell.message
        assert app.is_running
        app.store.flush()
        assert app.store.cell_runs("01")[-1]["status"] == "died"  # recorded like any other run


# ------------------------------------------------------------------------------------------------ no sshd needed
def test_explain_failure_texts():
    rh = RemoteHost("me@box", remote_command="~/venv/bin/fm-tutor")
    assert explain_failure(rh, 255, "ssh: Could not resolve hostname box: Name or service not known\n") == \
        "Cannot reach me@box over SSH: Could not resolve hostname box: Name or service not known"
    assert explain_failure(rh, 255, "ssh: connect to host box port 22: Connection timed out\n").startswith(
        "Cannot reach me@box over SSH: connect to host box port 22: Connection timed out")
    assert "Host key" not in explain_failure(rh, 255, "me@box: Permission denied (publickey).")
    assert "connect once with `ssh me@box`" in explain_failure(rh, 255, "Host key verification failed.\n")
    missing = explain_failure(rh, 127, "bash: line 1: /home/me/venv/bin/fm-tutor: No such file or directory\n")
    assert missing.startswith("fm-tutor is not installed on me@box") and "~/venv/bin/fm-tutor" in missing
    assert "too old" in explain_failure(rh, 2, "fm-tutor: error: argument COMMAND: invalid choice: 'kernel-agent'")


def test_agent_command_quotes_the_lesson_and_host_options_are_refused(tmp_path):
    rh = RemoteHost("box", port=2222, identity="~/k", ssh_options=("-J", "jump"))
    argv = rh.agent_argv("/tmp/ctl", "01; rm -rf ~", 60)
    assert argv[-2] == "box" and argv[-1] == "fm-tutor kernel-agent --lesson '01; rm -rf ~' --start-timeout 60"
    assert ["-p", "2222"] == argv[argv.index("-p"):argv.index("-p") + 2] and "-J" in argv
    assert "BatchMode=yes" in argv and "ControlMaster=yes" in argv
    with pytest.raises(ValueError):
        RemoteHost("-oProxyCommand=touch /tmp/pwned")
    from tutor.core.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="FM_TUTOR_KERNEL_HOST"):
        load_config(path=tmp_path / "none.toml", env={"FM_TUTOR_KERNEL_HOST": "-oProxyCommand=x"})
    (tmp_path / "c.toml").write_text('[kernel]\nhost = "me@gpu"\nssh_port = 2200\nssh_options = "-o A=b"\n')
    cfg = load_config(path=tmp_path / "c.toml", env={})
    rh = RemoteHost.from_config(cfg)
    assert (rh.host, rh.port, rh.ssh_options, rh.remote_command) == ("me@gpu", 2200, ("-o", "A=b"), "fm-tutor")
    assert RemoteHost.from_config(load_config(path=tmp_path / "none.toml", env={})) is None


def test_kernel_host_option_and_hidden_agent_command(monkeypatch, capsys):
    from tutor.cli import build_parser, main

    monkeypatch.setenv("FM_TUTOR_KERNEL_HOST", "")  # "" = local; restored (unset) after the test, whatever main() set
    help_text = build_parser().format_help()
    assert "--kernel-host" in help_text and "kernel-agent" not in help_text
    args = build_parser().parse_args(["lesson", "08", "--kernel-host", "me@gpu"])
    assert args.kernel_host == "me@gpu"
    assert build_parser().parse_args(["--kernel-host", "a@b", "lesson", "08"]).kernel_host == "a@b"
    with pytest.raises(SystemExit):
        main(["kernel-agent", "--help"])
    assert "line-JSON" in capsys.readouterr().out
