"""KernelPool against a real ipykernel."""
import os
import stat
import subprocess
import sys
import threading

import pytest

from tutor.kernel import Error, OutputBuffer, Stream, run_exercise

pytestmark = pytest.mark.timeout(60)


def run(k, code, **kw):
    buf = OutputBuffer()
    r = k.execute(code, on_event=buf.add, **kw).result(30)
    return r, buf


def test_print_and_result(shared):
    r, buf = run(shared, "print('hello'); 6 * 7")
    assert r.status == "ok" and r.execution_count >= 1
    assert buf.full_text() == "hello\n42"
    assert r.stdout == "hello\n"


def test_error_with_traceback(shared):
    events = []
    r = shared.execute("def f():\n    return 1/0\nf()", on_event=events.append).result(30)
    assert r.status == "error"
    assert r.error.ename == "ZeroDivisionError"
    assert "ZeroDivisionError" in r.message
    errs = [e for e in events if isinstance(e, Error)]
    assert errs and "\x1b[" in "".join(errs[0].traceback)  # ANSI colours kept
    assert "return 1/0" in errs[0].text and "\x1b[" not in errs[0].text


def test_a_checkpoint_the_machine_cannot_download_is_explained(shared):
    """Found by the GPU check on an H200 without network: transformers' OSError does not say what to do."""
    code = ("import os\ndef from_pretrained(name):\n    raise OSError(\"We couldn't connect to 'https://huggingface.co' "
            "to load the files, and couldn't find them in the cached files.\")\n"
            "model = from_pretrained('facebook/dinov2-small')")
    r = shared.execute(code).result(30)
    assert r.status == "error" and r.error.ename == "OSError"
    first, why = r.message.split("\n", 1)
    assert first.startswith("OSError: We couldn't connect to 'https://huggingface.co'")
    assert why.startswith("The checkpoint facebook/dinov2-small is not in this machine's Hugging Face cache, and the "
                          "hub cannot be reached from here")


def test_error_messages_say_what_to_do_for_a_missing_checkpoint_or_a_full_gpu(monkeypatch):
    from tutor.kernel.events import error_message

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert error_message(Error("ZeroDivisionError", "division by zero")) == "ZeroDivisionError: division by zero"
    cant = Error("OSError", "Can't load image processor for 'facebook/dinov2-small'. If you were trying to load it ...")
    assert error_message(cant) == f"OSError: {cant.evalue}"  # online, that message may mean a wrong name: no guess
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "The checkpoint facebook/dinov2-small is not in this machine's Hugging Face cache" in error_message(cant)
    hub = Error("LocalEntryNotFoundError", "Cannot find the requested files in the disk cache and outgoing traffic has "
                "been disabled.", ["----> 3 tok = AutoTokenizer.from_pretrained(\"Qwen/Qwen2.5-7B\")"])
    assert "The checkpoint Qwen/Qwen2.5-7B is not in" in error_message(hub)
    oom = error_message(Error("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB."))
    assert oom.splitlines()[0] == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."
    assert "restart the kernel (R)" in oom


def test_tqdm_progress_shows_last_state_only(shared):
    code = (
        "import sys, time\nfrom tqdm import tqdm\n"
        "for i in tqdm(range(30), file=sys.stderr, mininterval=0, ascii=True):\n    time.sleep(0.005)\n"
    )
    r, buf = run(shared, code)
    assert r.status == "ok"
    text = buf.full_text()
    assert "30/30" in text
    assert text.count("%|") == 1, text


def test_png_display_arrives_as_image(shared):
    code = (
        "import matplotlib\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([1, 2, 3]); plt.show()\n"
    )
    r, buf = run(shared, code)
    assert r.status == "ok", r.message
    assert buf.images and buf.images[0].startswith(b"\x89PNG")


def test_interrupt_busy_loop(shared):
    started = threading.Event()

    def on_event(ev):
        if isinstance(ev, Stream):
            started.set()

    f = shared.execute("print('go', flush=True)\nwhile True: pass", on_event=on_event)
    assert started.wait(20)
    shared.interrupt().result(10)
    r = f.result(20)
    assert r.status == "interrupted"
    assert shared.execute("1").result(10).status == "ok"


def test_input_raises_instead_of_hanging(shared):
    r, _ = run(shared, "input('name? ')")
    assert r.status == "error"
    assert r.error.ename == "StdinNotImplementedError"


def test_per_cell_timeout(shared):
    r, _ = run(shared, "import time\ntime.sleep(30)", timeout=0.5)
    assert r.status == "timeout"
    assert "time limit of 0.5 s" in r.message
    assert run(shared, "'still alive'")[0].status == "ok"


def test_flood_is_capped_and_full_text_kept(shared):
    r, buf = run(shared, "import sys\nfor j in range(10):\n    sys.stdout.write(''.join(f'{i}\\n' for i in range(j * 100000, (j + 1) * 100000)))")
    assert r.status == "ok"
    assert buf.hidden_lines > 990_000
    assert "lines hidden" in buf.display_text("{n} lines hidden")
    full = buf.full_text()
    assert full.count("\n") == 999_999 and full.endswith("999999")


def test_setup_runs_once_and_restart_rearms_and_clears(fresh):
    setup = ["RUNS = globals().get('RUNS', 0) + 1", "import math"]
    r, buf = run(fresh, "print(RUNS, math.pi > 3)", setup=setup)
    assert r.status == "ok" and buf.full_text() == "1 True"
    r, buf = run(fresh, "print(RUNS)", setup=setup)
    assert buf.full_text() == "1"
    run(fresh, "leftover = 5")
    fresh.restart().result(60)
    assert fresh.state == "idle"
    r, _ = run(fresh, "leftover")
    assert r.status == "error" and r.error.ename == "NameError"
    r, buf = run(fresh, "print(RUNS)", setup=setup)
    assert buf.full_text() == "1"


def test_setup_failure_is_reported(fresh):
    r, buf = run(fresh, "print('never')", setup=["raise RuntimeError('broken setup')"])
    assert r.status == "error" and r.setup_failed
    assert "setup cell failed" in r.message
    assert "never" not in buf.full_text() and "broken setup" in buf.full_text()


def test_kill_mid_cell_reports_died_then_restart_works(fresh):
    states = []
    fresh.add_state_listener(lambda k, s: states.append(s))
    r, _ = run(fresh, "import os, time\nprint('bye', flush=True)\ntime.sleep(0.2)\nos.kill(os.getpid(), 9)")
    assert r.status == "died"
    assert "SIGKILL" in r.message and "press R to restart" in r.message
    assert fresh.state == "dead" and "dead" in states
    r2 = fresh.execute("1").result(10)
    assert r2.status == "died"
    fresh.restart().result(60)
    assert fresh.state == "idle"
    assert run(fresh, "print(1 + 1)")[1].full_text() == "2"


def test_os_exit_while_idle_is_noticed(fresh):
    states = []
    dead = threading.Event()
    fresh.add_state_listener(lambda k, s: (states.append(s), s == "dead" and dead.set()))
    fresh.execute("import os, threading\nthreading.Timer(0.3, lambda: os._exit(3)).start()").result(10)
    assert dead.wait(10)
    assert fresh.exit_code == 3


def test_runtime_dir_and_connection_file_are_private(shared, pool):
    assert stat.S_IMODE(os.stat(pool.runtime_dir).st_mode) & 0o777 == 0o700
    assert stat.S_IMODE(os.stat(shared.connection_file).st_mode) & 0o777 == 0o600
    spec = (pool.runtime_dir / "kernelspecs" / "fm-tutor-python" / "kernel.json").read_text()
    assert sys.executable in spec


def test_grading_pass_fail_error_timeout(shared):
    check = "assert double(2) == 4, f'double(2) should be 4, got {double(2)}'\nprint('well done')"
    g = run_exercise(shared, "def double(x):\n    return x", check, timeout=10).result(30)
    assert g.status == "failed" and g.message == "double(2) should be 4, got 2"
    g = run_exercise(shared, "def double(x):\n    return 2 * x", check, timeout=10).result(30)
    assert g.status == "passed" and g.message == "well done"
    g = run_exercise(shared, "def double(x):\n    return 2 * y\nundefined_name", check, timeout=10).result(30)
    assert g.status == "error" and not g.in_check and "NameError" in g.message
    g = run_exercise(shared, "def double(x):\n    return x + None", check, timeout=10).result(30)
    assert g.status == "error" and g.in_check and "TypeError" in g.message
    g = run_exercise(shared, "import time\ntime.sleep(20)", check, timeout=0.5).result(30)
    assert g.status == "timeout"


def test_kernel_package_imports_no_textual_or_torch():
    code = ("import sys, tutor.kernel, tutor.kernel.headless, tutor.cli.kernel\n"
            "bad = [m for m in ('textual', 'torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_spare_kernel_is_adopted_with_the_lesson_cwd(tmp_path):
    import tempfile

    from tutor.kernel import KernelPool

    d = tempfile.mkdtemp(prefix="fmk-")
    p = KernelPool(runtime_dir=d, spare=True)
    try:
        spare = p._spare
        spare.ready.result(60)
        k = p.start("les", cwd=tmp_path)
        assert k is spare and p.kernel("les") is k
        _, buf = run(k, "import os; print(os.getcwd(), os.environ['FM_TUTOR_KERNEL'])")
        assert buf.full_text() == f"{tmp_path} les"
        assert p._spare is not None and p._spare is not k  # a new spare is warming up
    finally:
        p.shutdown_all()


def test_delayed_shutdown_is_cancelled_by_start(pool):
    k = pool.start("keep")
    k.wait_ready(60)
    f = pool.shutdown("keep", delay=30)
    assert pool.start("keep") is k
    assert run(k, "print('still here')")[1].full_text() == "still here"
    assert f.result(5) is False  # cancelled by start()
    assert pool.shutdown("keep", delay=0).result(20) is True
    assert pool.kernel("keep") is None and k.state == "dead"


_CYCLE = r'''
import gc, sys
from jupyter_client.asynchronous import AsyncKernelClient
from tutor.kernel.sockets import shared_context
gc.disable()
def make():
    kc = AsyncKernelClient(context=shared_context()) if sys.argv[1] == "shared" else AsyncKernelClient()
    kc.load_connection_info({"transport": "tcp", "ip": "127.0.0.1", "key": "k", "shell_port": 1, "iopub_port": 2,
                             "stdin_port": 3, "control_port": 4, "hb_port": 5})
    kc.start_channels(stdin=False, hb=False, control=True)
    kc.shell_channel.send(kc.session.msg("kernel_info_request"))  # pending: nobody listens on port 1
    kc.me = kc  # a reference cycle: the collector, not the refcount, frees it
make()
gc.collect()
print("collected")
'''


@pytest.mark.parametrize("which", ["shared", "private"])
def test_collecting_a_client_in_a_reference_cycle_never_hangs(which, tmp_path):
    """The pool's clients share one context that outlives them: collecting a client caught in a cycle returns.
    With a context of its own (jupyter_client's default) the same collection hangs in ``Context.term()``: the
    hazard this guards against, shown by the second case."""
    script = tmp_path / "cycle.py"
    script.write_text(_CYCLE)
    try:
        out = subprocess.run([sys.executable, str(script), which], capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired:
        hung = True
    else:
        hung = False
        assert out.returncode == 0 and "collected" in out.stdout, out.stderr
    assert hung is (which == "private")


def test_the_pools_managers_and_clients_use_the_shared_context(shared):
    from tutor.kernel.sockets import shared_context

    assert shared._km.context is shared_context()
    assert shared._kc.context is shared_context()
