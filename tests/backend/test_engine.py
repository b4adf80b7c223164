"""Engine selection with injected probes, the vLLM command line (GPU and CPU builds), GPU locks, and the manager's
vLLM path on a GPU driven through a stand-in for vLLM's CUDA server (the real CPU build: tests/backend/test_vllm*.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tutor.backend import engines
from tutor.backend import supervisor as srvmod
from tutor.core.config import ResolvedModel, load_config, resolve_model
from tutor.backend.gpu import GpuInfo, GpuLock
from tutor.backend.supervisor import ModelServer
from tutor.backend.endpoint import ServerError, State
from tutor.backend.engines import build_command, select_engine

pytestmark = pytest.mark.timeout(60)
GPU = [GpuInfo(0, "Fake H100", 81920, 80000)]
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("gpus,vllm,expected", [
    ([], False, "transformers"),
    ([], True, "transformers"),
    (GPU, False, "transformers"),
    (GPU, True, "vllm"),
])
def test_auto_picks_vllm_only_with_cuda_and_vllm(gpus, vllm, expected):
    engine, why = select_engine("auto", cuda_probe=lambda: gpus, vllm_probe=lambda: vllm)
    assert engine == expected and why


def test_explicit_engines():
    assert select_engine("transformers", cuda_probe=lambda: GPU, vllm_probe=lambda: True)[0] == "transformers"
    engine, why = select_engine("vllm", cuda_probe=list, vllm_probe=lambda: True)  # vLLM's CPU build
    assert engine == "vllm" and "CPU build" in why
    with pytest.raises(ServerError, match=r"fm-tutor\[gpu\]"):
        select_engine("vllm", cuda_probe=lambda: GPU, vllm_probe=lambda: False)
    with pytest.raises(ServerError, match="scripts/vllm-cpu-env.sh"):
        select_engine("vllm", cuda_probe=list, vllm_probe=lambda: False)
    with pytest.raises(ServerError, match="unknown engine"):
        select_engine("tgi", cuda_probe=list, vllm_probe=lambda: False)


def test_this_machine_real_probes_pick_transformers():
    """On this CPU-only machine (no nvidia-smi) auto must choose transformers."""
    if srvmod.nvidia_smi_gpus():
        pytest.skip("a CUDA GPU is present")
    assert select_engine("auto")[0] == "transformers"


def test_vllm_command_line(tmp_path, fm_tiny, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the engines' threads are set only where the learner's are not
    (tmp_path / "c.toml").write_text('[gpu]\ngpu_memory_utilization = 0.4\nmax_model_len = 1024\n'
                                     'tensor_parallel_size = 2\nenforce_eager = true\n'
                                     '[gpu.lora_modules]\ntutor = "/a/tutor"\n')
    cfg = load_config(tmp_path / "c.toml", env={})
    cmd = build_command("vllm", resolve_model("fm-tiny"), host="127.0.0.1", port=8123, cfg=cfg,
                        served_name="fm-tiny", gpus=GPU)
    s = " ".join(cmd)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]  # not the `vllm` script: vllm-cpu breaks it
    assert f"--model {fm_tiny}" in s and "--served-model-name fm-tiny" in s
    assert "--api-key" not in s  # the key travels in the engine's environment (VLLM_API_KEY), never on argv
    assert "--host 127.0.0.1 --port 8123" in s and "--gpu-memory-utilization 0.4" in s
    # gpu.max_model_len 1024 is capped at fm-tiny's 512 positions (vLLM refuses a longer one)
    assert "--max-model-len 512" in s and "--tensor-parallel-size 2" in s and "--enforce-eager" in s
    assert "--enable-lora --lora-modules tutor=/a/tutor" in s and "--dtype" not in s
    assert engines.engine_env("vllm", resolve_model("fm-tiny"), cfg, GPU) == {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    # the same builder without GPUs: vLLM's CPU build, a CPU dtype, no GPU flags, the KV cache sized in bytes
    cpu = build_command("vllm", resolve_model("fm-tiny"), host="127.0.0.1", port=8123, cfg=cfg,
                        served_name="fm-tiny", gpus=[])
    c = " ".join(cpu)
    assert cpu[:15] == cmd[:15] and "--dtype float32" in c
    # 512 positions x 32 requests, K and V, 4 layers, 2 KV heads of 32, fp32 = 32 MB (vLLM's CPU default: 4 GiB)
    assert f"--kv-cache-memory-bytes {2 * 4 * 2 * 32 * 4 * 512 * 32}" in c
    assert not any(f in c for f in ("--gpu-memory-utilization", "--tensor-parallel-size"))
    # fewer processes (the model in the engine core process) and no compile pass: 1.6 GB RSS, not 2.4 GB
    assert c.endswith("--distributed-executor-backend uni --enforce-eager --enable-lora --lora-modules tutor=/a/tutor")
    assert "--distributed-executor-backend" not in s  # the GPU build keeps its executor
    assert engines.engine_env("vllm", resolve_model("fm-tiny"), cfg, []) == {
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": "1"}
    tcmd = " ".join(build_command("transformers", resolve_model("fm-tiny"), host="127.0.0.1", port=1,
                                  cfg=cfg, served_name="x", gpus=[]))
    assert "serve" in tcmd and "--device cpu" in tcmd and "--host 127.0.0.1 --port 1" in tcmd
    # transformers serve through the launcher that enforces the key; the key travels in its environment, not argv
    assert "-m tutor.backend.hfserve serve " in tcmd and "k" not in tcmd.split()
    assert tcmd.endswith("--continuous-batching")
    cfg = load_config(tmp_path / "c.toml", env={"FM_TUTOR_CONTINUOUS_BATCHING": "0"})
    assert "--continuous-batching" not in build_command("transformers", resolve_model("fm-tiny"), host="h", port=1,
                                                        cfg=cfg, served_name="x", gpus=[])


def test_gpu_lock_is_exclusive(tmp_path):
    a = GpuLock([0], tmp_path)
    a.acquire(timeout=1)
    waits = []
    b = GpuLock([0], tmp_path)
    with pytest.raises(ServerError, match="GPU 0 is in use"):
        b.acquire(timeout=0.6, on_wait=waits.append)
    assert waits
    # another process is refused too
    code = ("import sys; from pathlib import Path; from tutor.backend.endpoint import ServerError; from tutor.backend.gpu import GpuLock\n"
            f"try:\n GpuLock([0], Path({str(tmp_path)!r})).acquire(timeout=0.3)\nexcept ServerError: sys.exit(3)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 3
    a.release()
    b.acquire(timeout=1)
    b.release()


def test_vllm_cpu_kv_cache_and_lora_rank_are_sized(tmp_path, fm_tiny, monkeypatch):
    """vLLM's CPU KV cache (bytes) follows the model, context and batch (vLLM's own default is 4 GiB); a LoRA
    adapter of rank above vLLM's default 16 raises --max-lora-rank to the next value vLLM accepts; FM_TUTOR_VLLM_BIN
    may name another venv's python or its `vllm` script (the python beside it then runs the server module)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    big = ResolvedModel("big", tmp_path / "big", "dir")
    big.path.mkdir()
    (big.path / "config.json").write_text(json.dumps({"num_attention_heads": 32, "hidden_size": 4096, "dtype":
                                                      "bfloat16", "num_hidden_layers": 32, "num_key_value_heads": 8,
                                                      "max_position_embeddings": 8192}))
    cfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_MAX_MODEL_LEN": "4096", "FM_TUTOR_MAX_BATCH": "8"})
    # 2 x 32 layers x 8 heads x 128 x 2 bytes = 128 KB a token; 4096 x 8 tokens = 4 GiB
    assert engines.engine_env("vllm", big, cfg, []) == {  # no weights: cores - 1 threads for the model
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) - 1))}
    big_cmd = " ".join(build_command("vllm", big, host="h", port=1, cfg=cfg, served_name="x"))
    assert "--dtype bfloat16" in big_cmd and f"--kv-cache-memory-bytes {4 * 2**30}" in big_cmd
    assert engines.engine_env("transformers", big, cfg, []) == {}
    ad = tmp_path / "ad"
    ad.mkdir()
    (ad / "adapter_config.json").write_text(json.dumps({"r": 24}))
    lcfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_LORA_MODULES": f"a={ad}"})
    s = " ".join(build_command("vllm", big, host="h", port=1, cfg=lcfg, served_name="x"))
    assert f"--enable-lora --max-lora-rank 32 --lora-modules a={ad}" in s
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    for name in ("python", "vllm"):
        (venv / name).write_text("#!/bin/sh\n")
        (venv / name).chmod(0o755)
    monkeypatch.setenv("FM_TUTOR_VLLM_BIN", str(venv / "vllm"))
    assert engines.vllm_importable() and engines.vllm_executable()[0] == str(venv / "python")
    monkeypatch.setenv("FM_TUTOR_VLLM_BIN", str(venv / "python"))
    assert engines.vllm_executable() == [str(venv / "python"), "-m", "vllm.entrypoints.openai.api_server"]


@pytest.fixture
def fake_vllm(monkeypatch):
    monkeypatch.setattr(engines, "vllm_executable", lambda: [sys.executable, str(HERE / "fake_vllm.py")])


def test_manager_vllm_path_with_stand_in(tmp_path, fm_tiny, fake_vllm):
    cfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_ENFORCE_EAGER": "1"})
    states = []
    srv = ModelServer(cfg, on_state=lambda s: states.append(s.state), cuda_probe=lambda: GPU,
                      vllm_probe=lambda: True, run_dir=tmp_path, publish_env=False)
    try:
        ep = srv.start(timeout=40)
        assert srv.engine == "vllm" and ep.engine == "vllm" and ep.model == "fm-tiny"
        assert states[0] == State.STARTING and states[-1] == State.READY
        # the key is enforced by this engine, and the endpoint file carries it
        saved = json.loads((tmp_path / "endpoint.json").read_text())
        assert saved["api_key"] == ep.api_key and saved["base_url"] == ep.base_url
        req = urllib.request.Request(ep.base_url + "/models", headers={"Authorization": f"Bearer {ep.api_key}"})
        assert json.load(urllib.request.urlopen(req, timeout=5))["data"][0]["id"] == "fm-tiny"
        assert "--enforce-eager" in srv.log_path.read_text()
        # a second engine on the same GPU is refused while the first holds the lock
        other = ModelServer(cfg, cuda_probe=lambda: GPU, vllm_probe=lambda: True, run_dir=tmp_path,
                            startup_timeout=1.0, publish_env=False, log_path=tmp_path / "other.log")
        with pytest.raises(ServerError, match="GPU 0 is in use"):
            other.start(timeout=10)
        assert other.state == State.FAILED
    finally:
        srv.stop()
    assert srv.state == State.STOPPED and not (tmp_path / "endpoint.json").exists()
    assert srv._proc is None


def test_openai_client_through_stand_in(tmp_path, fm_tiny, fake_vllm, monkeypatch):
    """tutor.runtime talks to whichever engine published the endpoint."""
    from tutor import runtime
    from tutor.runtime import remote as rc

    srv = ModelServer(load_config(tmp_path / "none.toml", env={}), cuda_probe=lambda: GPU, vllm_probe=lambda: True,
                      run_dir=tmp_path)
    monkeypatch.setenv("FM_TUTOR_RUNTIME_DIR", str(tmp_path))
    try:
        srv.start(timeout=40)
        rc._client_cache.clear()
        assert runtime.complete("hello", max_tokens=4) == " from fake vllm"
    finally:
        srv.stop()
    import os
    assert "FM_TUTOR_BASE_URL" not in os.environ


def test_kv_cache_is_sized_for_model_context_and_batch(tmp_path, fm_tiny):
    """transformers serve gets a KV cache for max_batch requests of the model's context (fm-tiny: 512 positions),
    never one sized from free memory: --cb-num-blocks and --cb-max-batch-tokens are always given."""
    cfg = load_config(tmp_path / "none.toml", env={})
    plan = engines.kv_plan(resolve_model("fm-tiny"), cfg, dtype_bytes=4)
    # gpu.max_model_len 2048 capped at fm-tiny's 512; 32 requests x 512 tokens / 256-token blocks
    assert (plan.context, plan.batch, plan.num_blocks, plan.batch_tokens) == (512, 32, 64, 512)
    assert plan.kv_bytes == 2 * 4 * 2 * 32 * 4 * 64 * 256  # K and V, 4 layers, 2 KV heads of 32, fp32 = 32 MB
    cmd = build_command("transformers", resolve_model("fm-tiny"), host="h", port=1, cfg=cfg,
                        served_name="x")
    s = " ".join(cmd)
    assert "--cb-num-blocks 64 --cb-max-batch-tokens 512" in s and "--cb-max-memory-percent" not in s
    small = load_config(tmp_path / "none.toml", env={"FM_TUTOR_MAX_BATCH": "4", "FM_TUTOR_MAX_MODEL_LEN": "300"})
    s = " ".join(build_command("transformers", resolve_model("fm-tiny"), host="h", port=1, cfg=small,
                               served_name="x"))
    assert "--cb-num-blocks 5 --cb-max-batch-tokens 512" in s  # ceil(300 * 4 / 256)
    on_gpu = " ".join(build_command("transformers", resolve_model("fm-tiny"), host="h", port=1,
                                    cfg=cfg, served_name="x", gpus=GPU))
    assert "--cb-num-blocks 64" in on_gpu and "--cb-max-memory-percent 0.85" in on_gpu
    assert "--max-num-seqs 32" in " ".join(build_command("vllm", resolve_model("fm-tiny"), host="h", port=1,
                                                         cfg=cfg, served_name="x", gpus=GPU))


def test_kv_plan_without_a_config_json_and_bad_max_batch(tmp_path):
    from tutor.core.config import ConfigError, ResolvedModel

    cfg = load_config(tmp_path / "none.toml", env={"FM_TUTOR_MAX_MODEL_LEN": "1024", "FM_TUTOR_MAX_BATCH": "2"})
    plan = engines.kv_plan(ResolvedModel("m", tmp_path, "dir"), cfg)
    assert (plan.context, plan.num_blocks, plan.kv_bytes) == (1024, 8, 0)
    with pytest.raises(ConfigError, match="max_batch must be >= 1"):
        load_config(tmp_path / "none.toml", env={"FM_TUTOR_MAX_BATCH": "0"})


def test_tree_rss_counts_children():
    from tutor.core.procs import fmt_bytes, tree_rss

    code = "import subprocess,sys; b = bytearray(64 << 20); subprocess.run([sys.executable, '-c', " \
           "'b = bytearray(64 << 20); import sys; sys.stdin.read()'])"
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        import time

        deadline = time.monotonic() + 30
        while (tree_rss(p.pid) or 0) < 128 << 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tree_rss(p.pid) or 0) >= 128 << 20  # the parent's 64 MB and its child's 64 MB
    finally:
        p.kill()
        p.wait()
    assert tree_rss(p.pid) is None and tree_rss(None) is None
    assert (fmt_bytes(1536), fmt_bytes(700 << 20), fmt_bytes(3 << 30), fmt_bytes(None)) == \
        ("1.5 KB", "700 MB", "3.0 GB", "?")


def test_bench_model_finds_its_script_in_the_source_tree(capsys):
    """`fm-tutor bench model` and `bench progress` run tests/benchmarks/ scripts of the source tree (tutor/cli/ is
    two levels below it; they once looked in tutor/tests/)."""
    from tutor.cli.bench import bench_script

    assert bench_script("bench_model.py") == Path(__file__).resolve().parents[1] / "benchmarks" / "bench_model.py"
    assert bench_script("bench_progress.py") is not None
    assert bench_script("no_such_bench.py") is None and "benchmark script not found" in capsys.readouterr().out


def test_serve_adapter_says_what_it_cannot_do(tmp_path, monkeypatch):
    """tutor.runtime.serve_adapter: a dir without adapter_config.json, or a server whose engine loads no adapters at
    run time (transformers serve), is a clear error naming what to do; nothing is sent (vLLM's own answers are tested
    against the real engine in tests/backend/test_vllm.py)."""
    from tutor import runtime

    with pytest.raises(runtime.AdapterError, match="adapter_config.json missing"):
        runtime.serve_adapter(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    for k, v in {"FM_TUTOR_BASE_URL": "http://127.0.0.1:9/v1", "FM_TUTOR_API_KEY": "k", "FM_TUTOR_MODEL": "fm-tiny",
                 "FM_TUTOR_ENGINE_SERVING": "transformers"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(runtime.AdapterError, match=r"transformers engine loads no adapters.*load_adapter\(model"):
        runtime.serve_adapter(tmp_path)
    monkeypatch.setenv("FM_TUTOR_ENGINE_SERVING", "vllm")  # nothing listens on port 9
    with pytest.raises(runtime.AdapterError, match="could not reach the model server"):
        runtime.serve_adapter(tmp_path)


def test_transformers_serve_on_a_cpu_gets_one_thread_for_a_small_model(tmp_path, fm_tiny, monkeypatch):
    """fm-tiny (5 MB of weights) is served with one torch thread on a CPU (2 threads: ~4x slower at batch 1 on 2
    shared cores); a big model keeps torch's default; cpu_threads overrides both, and a learner's own
    OMP_NUM_THREADS is kept unless cpu_threads is set; on a GPU nothing."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    tiny = resolve_model("fm-tiny")
    cfg = load_config(tmp_path / "none.toml", env={})
    assert engines.cpu_threads(tiny, cfg) == 1
    assert engines.engine_env("transformers", tiny, cfg, []) == {"OMP_NUM_THREADS": "1"}
    assert engines.engine_env("transformers", tiny, cfg, GPU) == {}
    assert engines.engine_env("vllm", tiny, cfg, [])["OMP_NUM_THREADS"] == "1"  # in its engine core process
    assert "OMP_NUM_THREADS" not in engines.engine_env("vllm", tiny, cfg, GPU)
    big = ResolvedModel("big", tmp_path / "big", "dir")
    big.path.mkdir()
    with open(big.path / "model.safetensors", "wb") as f:
        f.truncate(engines.SMALL_MODEL_BYTES)  # sparse: 64 MB of weights without writing them
    assert engines.cpu_threads(big, cfg) is None and engines.engine_env("transformers", big, cfg, []) == {}
    three = load_config(tmp_path / "none.toml", env={"FM_TUTOR_CPU_THREADS": "3"})
    assert engines.engine_env("transformers", big, three, []) == {"OMP_NUM_THREADS": "3"}
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert engines.engine_env("transformers", tiny, cfg, []) == {}  # the learner's own setting stays
    assert engines.engine_env("transformers", tiny, three, []) == {"OMP_NUM_THREADS": "3"}
    assert "OMP_NUM_THREADS" not in engines.engine_env("vllm", tiny, cfg, [])
    assert engines.engine_env("vllm", tiny, three, [])["OMP_NUM_THREADS"] == "3"
    from tutor.core.config import ConfigError

    with pytest.raises(ConfigError, match="cpu_threads must be >= 0"):
        load_config(tmp_path / "none.toml", env={"FM_TUTOR_CPU_THREADS": "-1"})


def test_bench_model_alternates_raw_and_served_after_a_warm_up():
    """bench model's rounds: both sides warmed up (4 tokens), then one raw and one served call a round, the order
    switching each round, so a change in the machine's load touches both alike; each round's pair gives a ratio."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_model", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_model.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = []

    def side(name, rate):
        def call(tokens=None):
            calls.append((name, tokens))
            return rate
        return call

    r, s = bench.interleaved(side("raw", 100.0), side("served", 90.0), 4)
    assert (r, s) == ([100.0] * 4, [90.0] * 4)
    assert calls == [("raw", 4), ("served", 4), ("raw", None), ("served", None), ("served", None), ("raw", None),
                     ("raw", None), ("served", None), ("served", None), ("raw", None)]
    assert bench.prompts(9)[8] == "Scaling laws (1)" and len(set(bench.prompts(32))) == 32
