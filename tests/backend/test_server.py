"""`transformers serve` with fm-tiny, started and watched by the manager; completion and chat through tutor.runtime
inside a real ipykernel; the process killed -> noticed and restarted; bad models -> clear errors, no hang."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tutor.core.config import load_config
from tutor.backend.supervisor import ModelServer
from tutor.backend.endpoint import ServerError, State

pytestmark = [pytest.mark.slow]


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, fm_tiny):
    d = tmp_path_factory.mktemp("served")
    states = []
    cfg = load_config(d / "none.toml", env={"FM_TUTOR_ENGINE": "transformers"})
    srv = ModelServer(cfg, on_state=lambda s: states.append(s), run_dir=d, backoff=0.2, poll_interval=0.25,
                      publish_env=False, cuda_probe=list)
    try:
        ep = srv.start(timeout=150)
        yield srv, ep, states, d
    finally:
        srv.stop()


def _run_in_kernel(kernel, env: dict, code: str, timeout: float = 90) -> tuple[str, str]:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    name, spec_dir = kernel
    km = KernelManager(kernel_name=name, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))
    km.start_kernel(env={**os.environ, **env}, cwd=str(Path(__file__).resolve().parents[2]))
    kc = km.client()
    kc.start_channels()
    out, err = [], []

    def hook(msg):
        t, c = msg["msg_type"], msg["content"]
        if t == "stream":
            (out if c["name"] == "stdout" else err).append(c["text"])
        elif t == "error":
            err.append("\n".join(c["traceback"]))
        elif t in ("execute_result", "display_data"):
            out.append(c["data"].get("text/plain", ""))

    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        assert reply["content"]["status"] == "ok", "".join(err)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out), "".join(err)


@pytest.mark.timeout(240)
def test_ready_and_endpoint_published(served, fm_tiny):
    srv, ep, states, d = served
    assert srv.engine == "transformers" and srv.state == State.READY
    assert [s.state for s in states][0] == State.STARTING and states[-1].state == State.READY
    assert ep.base_url.startswith("http://127.0.0.1:") and ep.base_url.endswith("/v1")
    assert ep.model == str(fm_tiny)
    saved = json.loads((d / "endpoint.json").read_text())
    assert saved["base_url"] == ep.base_url and oct((d / "endpoint.json").stat().st_mode & 0o777) == "0o600"
    assert srv.log_path.read_text().strip()  # the engine's output went to the log, not the terminal


@pytest.mark.timeout(240)
def test_completion_and_chat_in_a_real_kernel(served, kernel_name):
    srv, ep, _, _ = served
    code = (
        "import json, sys\n"
        "from tutor.runtime import complete, chat, client, print_stream\n"
        "a = complete('Scaling laws', max_tokens=8)\n"
        "b = chat([{'role': 'user', 'content': 'What is lesson 08 about?'}], max_tokens=8)\n"
        "chunks = list(complete('The transformer', max_tokens=6, stream=True))\n"
        "c = print_stream(chat('Which lesson teaches LoRA?', stream=True, max_tokens=6))\n"
        "models = [m.id for m in client().models.list().data]\n"
        "print('RESULT', json.dumps({'a': a, 'b': b, 'chunks': chunks, 'c': c, 'models': models,"
        " 'torch_loaded': 'torch' in sys.modules}))\n"
    )
    out, err = _run_in_kernel(kernel_name, ep.env(), code)
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    # a 1M-parameter model may answer with whitespace or stop at once; the plumbing is what is tested here
    assert isinstance(r["a"], str) and isinstance(r["b"], str), r
    assert r["a"] + r["b"] + "".join(r["chunks"]) + r["c"], r
    assert all(isinstance(c, str) and c for c in r["chunks"])
    assert r["c"] in out  # printed progressively and returned
    assert ep.model in r["models"]
    assert r["torch_loaded"] is False  # the client path needs no torch in the kernel


@pytest.mark.timeout(240)
def test_killed_server_is_noticed_and_restarted(served):
    srv, ep, states, _ = served
    old = srv.pid
    n0 = len(states)
    os.killpg(old, signal.SIGKILL)
    _wait_for(lambda: any(s.state == State.STARTING and s.reason and "exited" in s.reason for s in states[n0:]),
              20, "the watchdog to notice")
    _wait_for(lambda: srv.state == State.READY and srv.pid != old, 150, "the restart")
    assert srv.status.restarts == 1
    from openai import OpenAI

    c = OpenAI(base_url=ep.base_url, api_key=ep.api_key)
    text = c.completions.create(model=ep.model, prompt="Lesson", max_tokens=4).choices[0].text
    assert isinstance(text, str)


@pytest.mark.timeout(60)
def test_missing_model_fails_fast_with_clear_error(tmp_path):
    cfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_MODEL": str(tmp_path / "no-such-model")})
    states = []
    srv = ModelServer(cfg, on_state=states.append, run_dir=tmp_path, cuda_probe=list)
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="no-such-model"):
        srv.start(timeout=30)
    assert time.monotonic() - t0 < 10 and srv.state == State.FAILED and srv.pid is None
    assert "no such directory" in states[-1].reason


@pytest.mark.timeout(120)
def test_broken_model_dir_fails_without_hanging(tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "llama", "hidden_size": "lots"}')
    cfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_MODEL": str(bad)})
    srv = ModelServer(cfg, run_dir=tmp_path, cuda_probe=list, publish_env=False)
    with pytest.raises(ServerError, match="exited with code") as e:
        srv.start(timeout=100)
    assert "log:" in str(e.value)
    assert srv.state == State.FAILED and srv.status.restarts == 0
    assert srv._proc.poll() is not None
    srv.stop()


@pytest.mark.timeout(1200)
def test_memory_bounded_after_32_parallel_requests(served):
    """The KV cache is sized for max_batch requests of fm-tiny's context, not for free memory: after 32 parallel
    128-token requests the server stays <= 1 GB resident (unbounded it reached 14 GB), and its status reports it."""
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI

    srv, ep, _, _ = served
    if srv.state != State.READY:
        srv.wait_ready(150)
        ep = srv.endpoint
    client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=1100)

    def one(i: int) -> int:
        r = client.completions.create(model=ep.model, prompt=f"Lesson {i} covers", max_tokens=128,
                                      temperature=0.0)
        return len(r.choices[0].text)

    with ThreadPoolExecutor(32) as pool:
        assert all(n > 0 for n in pool.map(one, range(32)))
    rss = srv.rss()
    assert rss is not None and 0 < rss <= 1 << 30, f"server RSS {rss / 2**20:.0f} MB > 1 GB"
    assert srv.status.rss is not None and srv.status.rss <= 1 << 30
