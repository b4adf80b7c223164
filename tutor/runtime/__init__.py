"""Kernel-side helpers for lesson cells: the local model server's client, and direct transformers use.

    from tutor.runtime import chat, complete, ask, load_model, device_info
    complete("Scaling laws say", max_tokens=20)
    for piece in chat([{"role": "user", "content": "What is lesson 08 about?"}], stream=True): ...
    model, tok = load_model()            # fm-tiny (or the configured model), cuda->bfloat16, cpu->float32
    complete("Scaling laws", model=serve_adapter("out/lora"))   # a peft adapter served by vLLM, loaded at run time

Cells behave the same whichever engine (vLLM or transformers serve) is serving. This package runs inside the
Jupyter kernel; it is the only part of fm-tutor (besides tutor/backend/modelbuild.py) that imports torch/transformers.
Heavy imports happen inside the functions, so `import tutor.runtime` is cheap.
"""
from __future__ import annotations

from tutor.runtime.local import device_info, generate, load_adapter, load_model, resolve_device
from tutor.runtime.remote import (AdapterError, ask, chat, client, complete, endpoint, print_stream, serve_adapter,
                                  served_model)

__all__ = [
    "AdapterError", "ask", "chat", "client", "complete", "device_info", "endpoint", "generate", "load_adapter",
    "load_model", "print_stream", "resolve_device", "serve_adapter", "served_model",
]
