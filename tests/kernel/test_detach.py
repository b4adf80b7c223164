"""Detached kernels: they survive the app (detach_all, SIGHUP), the next pool reattaches, idle ones are culled."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tutor.core import procs
from tutor.kernel import KernelPool, Result
from tutor.kernel import detach as reg

from ..helpers import wait_until as wait_for

ROOT = Path(__file__).resolve().parents[2]


def kill_kernels_under(d: str) -> None:
    """Kill every kernel whose command line names a file under ``d`` (the test's runtime dir)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if d.encode() in (proc / "cmdline").read_bytes() and int(proc.name) != os.getpid():
                procs.kill_pid(int(proc.name), grace=0.5)
        except (OSError, ValueError):
            pass


@pytest.fixture
def base():
    d = tempfile.mkdtemp(prefix="fmk-")  # short path: ipc socket names must stay under ~100 chars
    pools = []
    yield d, pools
    for p in pools:
        p.shutdown_all(timeout=10)
    kill_kernels_under(d)  # whatever was left detached (or leaked by a failing test)
    shutil.rmtree(d, ignore_errors=True)


def value(k, code):
    got = []
    r = k.execute(code, on_event=lambda ev: isinstance(ev, Result) and got.append(ev)).result(30)
    assert r.status == "ok", r.message
    return got[0].data["text/plain"] if got else None


@pytest.mark.timeout(120)
def test_detach_then_reattach_keeps_variables(base):
    d, pools = base
    p1 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p1)
    k1 = p1.start("01")
    k1.wait_ready(60)
    assert k1.reattached is False
    assert value(k1, "x = 41") is None
    r = k1.execute("pass", setup=["setup_runs = globals().get('setup_runs', 0) + 1"]).result(30)
    assert r.status == "ok"
    pid = k1.pid
    assert p1.detach_all() == ["01"]
    assert procs.pid_alive(pid)
    entry = reg.read(Path(d))["01"]
    assert entry["pid"] == pid and os.path.exists(entry["connection_file"])

    p2 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p2)
    k2 = p2.start("01")
    assert k2.reattached is True
    k2.wait_ready(30)
    assert k2.pid == pid
    assert value(k2, "x + 1") == "42"
    e2 = reg.read(Path(d))["01"]  # taken, then claimed by the new pool while it runs
    assert e2["pid"] == pid and e2["owner"] == os.getpid() and e2["detached_at"] is None
    assert reg.take(Path(d), "01") is None  # a running pool's kernel is not for the taking
    # setup cells that ran before the detach do not run again
    k2.execute("pass", setup=["setup_runs = globals().get('setup_runs', 0) + 1"]).result(30)
    assert value(k2, "setup_runs") == "1"

    # interrupt works without a kernel manager (SIGINT to the pid)
    f = k2.execute("import time\nwhile True: time.sleep(0.01)")
    time.sleep(1.0)
    k2.interrupt().result(5)
    assert f.result(20).status == "interrupted"
    assert value(k2, "x") == "41"

    # restart: the old process goes, a fresh managed kernel comes
    k2.restart().result(60)
    assert wait_for(lambda: not procs.pid_alive(pid))
    assert k2.reattached is False and k2.pid != pid
    r = k2.execute("x").result(30)
    assert r.status == "error" and r.error.ename == "NameError"
    p2.shutdown_all()
    assert not os.path.exists(entry["connection_file"])


@pytest.mark.timeout(120)
def test_shutdown_of_reattached_kernel_stops_it(base):
    d, pools = base
    p1 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p1)
    k1 = p1.start("02")
    k1.wait_ready(60)
    pid = k1.pid
    p1.detach_all()
    p2 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p2)
    k2 = p2.start("02")
    k2.wait_ready(30)
    assert p2.shutdown("02", delay=0).result(20) is True
    assert wait_for(lambda: not procs.pid_alive(pid))
    assert reg.read(Path(d)) == {}


@pytest.mark.timeout(60)
def test_detach_idle_zero_is_todays_behaviour(base):
    d, pools = base
    p = KernelPool(runtime_dir=d)  # detach_idle defaults to 0
    pools.append(p)
    k = p.start("03")
    k.wait_ready(60)
    pid = k.pid
    assert p.detach_all() == []  # cannot detach: shuts down
    assert wait_for(lambda: not procs.pid_alive(pid))
    assert reg.read(Path(d)) == {}


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from tutor.kernel import KernelPool
    pool = KernelPool(runtime_dir=sys.argv[1], detach_idle=600, spare=True)
    def hangup(*_):
        pool.detach_all(timeout=5)
        os._exit(129)
    signal.signal(signal.SIGHUP, hangup)
    k = pool.start("04")
    k.wait_ready(60)
    assert k.execute("x = 41").result(30).status == "ok"
    pool._spare.wait_ready(60)
    print(k.pid, pool._spare.pid, flush=True)
    time.sleep(120)
""")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL])
def test_app_hung_up_or_killed_mid_session_leaves_kernel_to_reattach(base, sig):
    d, pools = base
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, d], stdout=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)  # its own session, like an app in a terminal
    try:
        pid, spare_pid = map(int, child.stdout.readline().split())
        os.killpg(child.pid, sig)  # SIGHUP: what the terminal does when it goes away
        assert child.wait(20) == (129 if sig == signal.SIGHUP else -signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
    assert procs.pid_alive(pid), "the kernel died with the app"
    p = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p)
    assert wait_for(lambda: not procs.pid_alive(spare_pid))  # an orphaned spare is stopped at once
    k = p.start("04")
    assert k.reattached
    k.wait_ready(30)
    assert k.pid == pid
    assert value(k, "x + 1") == "42"


@pytest.mark.timeout(120)
def test_cull_kills_kernels_detached_too_long(base):
    d, pools = base
    p1 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p1)
    ks = [p1.start(n) for n in ("05", "06")]
    for k in ks:
        k.wait_ready(60)
    pids = [k.pid for k in ks]
    p1.detach_all()
    with reg.locked(Path(d)) as (entries, save):  # 05 was detached an hour ago
        entries["05"]["detached_at"] -= 3600
        save(entries)
    p2 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p2)
    assert wait_for(lambda: not procs.pid_alive(pids[0]))
    assert procs.pid_alive(pids[1])
    assert list(reg.read(Path(d))) == ["06"]
    assert p2.cull_detached(0) == ["06"]
    assert not procs.pid_alive(pids[1])
    assert reg.read(Path(d)) == {}


def fm(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.timeout(120)
def test_cli_lists_and_stops(base):
    d, pools = base
    p1 = KernelPool(runtime_dir=d, detach_idle=600)
    pools.append(p1)
    ks = [p1.start(n) for n in ("07", "08")]
    for k in ks:
        k.wait_ready(60)
    pids = [k.pid for k in ks]
    p1.detach_all()
    r = fm("kernels", "--runtime-dir", d)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["lesson", "pid", "age", "idle", "stops"]
    # when each will be stopped: FM_TUTOR_DETACH_IDLE is 0 in tests, so nothing culls them: `kernels stop` does
    assert all(ln.split()[4:] == ["kernels", "stop"] for ln in lines[1:3]), lines
    assert [ln.split()[:2] for ln in lines[1:]] == [["07", str(pids[0])], ["08", str(pids[1])]]
    r = fm("kernels", "stop", "7", "--runtime-dir", d)
    assert r.returncode == 0, r.stderr
    assert "stopped lesson 07" in r.stdout
    assert not procs.pid_alive(pids[0]) and procs.pid_alive(pids[1])
    r = fm("kernels", "stop", "--all", "--runtime-dir", d)
    assert r.returncode == 0 and "stopped lesson 08" in r.stdout
    assert not procs.pid_alive(pids[1])
    assert fm("kernels", "--runtime-dir", d).stdout.strip() == "no detached kernels"
    assert json.loads((Path(d) / "detached.json").read_text()) == {}


@pytest.mark.timeout(60)
def test_kernels_says_what_is_true_of_each_entry(tmp_path):
    """A 10-minute-old spare whose app is gone is stopped as such (not as 'detached longer than detach_idle');
    a lesson's kernel detached an hour ago is stopped with its age and how long it was detached; one detached
    5 minutes ago is listed with when it will be stopped."""
    d = tmp_path / "k"
    d.mkdir()
    now = time.time()
    started = []
    try:
        entries = {}
        for key, age, away in (("_spare-999999", 600, None), ("03", 7200, 3600), ("04", 900, 300)):
            cf = str(tmp_path / f"kernel-{key}.json")
            p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", cf], start_new_session=True)
            started.append(p)
            entries[key] = {"connection_file": cf, "pid": p.pid, "started_at": now - age,
                            "detached_at": None if away is None else now - away, "pool_dir": None,
                            "owner": 999999 if away is None else None}
        assert wait_for(lambda: all(procs.pid_alive(p.pid, e["connection_file"])
                                    for p, e in zip(started, entries.values())))
        with reg.locked(d) as (cur, save):
            save(entries)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FM_TUTOR_DETACH_IDLE": "1800"}
        r = subprocess.run([sys.executable, "-m", "tutor", "kernels", "--runtime-dir", str(d)], capture_output=True,
                           text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        spare = next(ln for ln in out.splitlines() if "spare" in ln)
        assert re.match(rf"stopped a spare kernel \(pid {started[0].pid}, started 10m0\ds ago\)", spare), out
        assert "detach_idle" not in spare and "has exited" in spare
        assert (f"stopped lesson 03's kernel (pid {started[1].pid}, started 2h00m ago): detached 1h00m ago, longer "
                "than kernel.detach_idle (30m00s)") in out
        row = next(ln for ln in out.splitlines() if ln.startswith("04 "))
        assert re.fullmatch(r"15m0\ds 5m0\ds in 2[45]m\d\ds", " ".join(row.split()[2:])), row
        assert wait_for(lambda: not procs.pid_alive(started[0].pid) and not procs.pid_alive(started[1].pid))
        assert procs.pid_alive(started[2].pid) and list(reg.read(d)) == ["04"]
    finally:
        for p in started:
            p.kill()
            p.wait()
