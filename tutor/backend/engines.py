"""The engines that serve the model: which one to use (vLLM on CUDA when importable, else transformers serve) and
the command line that starts each."""
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


def kv_plan(model: ResolvedModel, cfg: Config, *, dtype_bytes: int | None = None) -> KvPlan:
    """Size the KV cache from the model's config.json (layers, KV heads, head size, context) and the settings."""
    try:
        mc = json.loads((Path(model.path) / "config.json").read_text(encoding="utf-8"))
        mc = mc.get("text_config", mc) if isinstance(mc.get("text_config"), dict) else mc
    except (OSError, ValueError, AttributeError) as e:
        log.info("kv_plan: no usable config.json in %s (%s); sizing for the settings alone", model.path, e)
        mc = {}
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
    """vllm importable here, or FM_TUTOR_VLLM_BIN names a `vllm` executable (e.g. in a separate venv: vLLM pins
    torch/transformers versions that may differ from the tutor's)."""
    if _vllm_bin_env():
        return True
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def _vllm_bin_env() -> str | None:
    b = env_value(ENV_VLLM_BIN)
    return b if b and os.access(b, os.X_OK) else None


def select_engine(requested: str = "auto", *, cuda_probe: Callable[[], list] = nvidia_smi_gpus,
                  vllm_probe: Callable[[], bool] = vllm_importable) -> tuple[str, str]:
    """(engine, why). auto -> vllm only when a CUDA GPU is present AND vllm is importable, else transformers.

    An explicit "vllm" without CUDA or without vllm raises ServerError (it could not run).
    """
    if requested == "transformers":
        return "transformers", "engine = transformers in the config"
    gpus = cuda_probe()
    has_vllm = vllm_probe()
    if requested == "vllm":
        if not gpus:
            raise ServerError("engine = vllm, but no CUDA GPU was found (nvidia-smi); use engine = auto or transformers")
        if not has_vllm:
            raise ServerError("engine = vllm, but vllm is not installed; install the [gpu] extra: "
                              "pip install 'fm-tutor[gpu]'")
        return "vllm", "engine = vllm in the config"
    if requested != "auto":
        raise ServerError(f"unknown engine {requested!r} (auto, vllm, transformers)")
    if gpus and has_vllm:
        return "vllm", f"{len(gpus)} CUDA GPU(s) and vllm installed"
    if gpus:
        return "transformers", "CUDA GPU present but vllm is not installed (pip install 'fm-tutor[gpu]')"
    return "transformers", "no CUDA GPU"


def transformers_executable() -> list[str]:
    """`transformers serve` through fm-tutor's launcher (tutor.backend.hfserve): transformers' own CLI, every request
    but GET /health refused without the endpoint's API key (transformers serve has no key option). -P (3.11+): the
    current directory is not put on sys.path, so a `tutor` folder there cannot stand in for the launcher."""
    return [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-m", "tutor.backend.hfserve"]


def vllm_executable() -> list[str]:
    if _vllm_bin_env():
        return [_vllm_bin_env()]
    exe = Path(sys.executable).parent / "vllm"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main"]


def build_command(engine: str, model: ResolvedModel, *, host: str, port: int, api_key: str, cfg: Config,
                  served_name: str, gpus: list[GpuInfo] | None = None) -> list[str]:
    """The argv that starts the engine."""
    if engine == "vllm":
        g = cfg.gpu
        cmd = [*vllm_executable(), "serve", str(model.path), "--served-model-name", served_name,
               "--host", host, "--port", str(port), "--api-key", api_key,
               "--gpu-memory-utilization", str(g.gpu_memory_utilization),
               "--max-model-len", str(g.max_model_len),
               "--max-num-seqs", str(cfg.max_batch),
               "--tensor-parallel-size", str(g.tensor_parallel_size)]
        if g.enforce_eager:
            cmd.append("--enforce-eager")
        if g.lora_modules:
            cmd += ["--enable-lora", "--lora-modules", *[f"{k}={v}" for k, v in g.lora_modules.items()]]
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
