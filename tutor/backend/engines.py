"""The engines that serve the model: which one to use (vLLM on CUDA when importable, else transformers serve) and
the command line that starts each."""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tutor.backend.endpoint import ServerError
from tutor.backend.gpu import GpuInfo, nvidia_smi_gpus
from tutor.core.config import Config, ResolvedModel
from tutor.core.config import ENV_VLLM_BIN, env_value


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
    exe = Path(sys.executable).parent / "transformers"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())"]


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
            cmd.append("--continuous-batching")
        return cmd
    raise ServerError(f"unknown engine {engine!r}")
