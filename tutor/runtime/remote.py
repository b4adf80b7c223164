"""The OpenAI client pointed at the local model server, and the completion/chat helpers cells use."""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tutor.core.config import ENV_AUTOSTART, env_flag
from tutor.core.errors import TutorError

log = logging.getLogger(__name__)



class AdapterError(TutorError, RuntimeError):
    """An adapter could not be served; the message says why and what to do."""


_lock = threading.Lock()
_server = None  # a ModelServer this kernel started itself (auto-start), stopped at exit
_client_cache: dict[tuple[str, str], Any] = {}

NO_SERVER = (
    "No local model server is running. Start the tutor (it starts one), or run `fm-tutor serve-model` in a "
    "terminal and export the FM_TUTOR_BASE_URL / FM_TUTOR_API_KEY / FM_TUTOR_MODEL lines it prints, "
    "or call tutor.runtime.client(auto_start=True)."
)


def _auto_start_default() -> bool:
    return env_flag(ENV_AUTOSTART, True)


def endpoint(auto_start: bool | None = None):
    """The running server's Endpoint (env vars, then the endpoint file); optionally start one in this process."""
    global _server
    from tutor.backend.endpoint import ServerError, current_endpoint
    from tutor.backend.supervisor import ModelServer

    with _lock:
        if _server is not None and _server.endpoint is not None and _server.state.value == "ready":
            return _server.endpoint
        ep = current_endpoint()
        if ep is not None and not _detached(ep):
            return ep
        if auto_start is None:
            auto_start = _auto_start_default()
        if ep is not None:  # a server left detached (an app or a kernel that exited): adopt it, model loaded
            auto_start = True
        elif not auto_start:
            raise RuntimeError(NO_SERVER)
        else:
            print("fm-tutor: starting the local model server (first use; this takes a few seconds)...",
                  file=sys.stderr, flush=True)
        from tutor.core.config import load_config

        cfg = load_config()
        # kernel.detach_idle > 0: when this kernel exits, the server it started is detached, not stopped, so the
        # next kernel (another lesson, a restart, a remote kernel on the GPU box) adopts it with the model loaded
        srv = ModelServer(cfg, detach_idle=cfg.kernel.detach_idle)
        try:
            ep = srv.start(wait=True)
        except ServerError as e:
            srv.stop()
            raise RuntimeError(f"{NO_SERVER}\nAuto-start failed: {e}") from None
        _server = srv
        if srv.detach_idle > 0:
            import atexit

            atexit.register(_release_server)  # runs before the server's own atexit stop (atexit is LIFO)
        return ep


def _detached(ep) -> bool:
    try:
        from tutor.backend.detached import detached_server
        from tutor.core.config import runtime_dir

        return detached_server(runtime_dir(), ep.pid)
    except Exception:  # no registry to read: use the endpoint as it is
        log.debug("_detached: no registry to read: use the endpoint as it is", exc_info=True)
        return False


def _release_server() -> None:
    if _server is not None:
        try:
            _server.detach()  # stops it instead when it cannot be detached (not ready, another app's, ...)
        except Exception:
            log.debug("_release_server: caught and carried on", exc_info=True)


def client(auto_start: bool | None = None):
    """An openai.OpenAI client for the local server (base_url, api_key from the endpoint)."""
    import openai

    ep = endpoint(auto_start)
    key = (ep.base_url, ep.api_key)
    c = _client_cache.get(key)
    if c is None:
        c = openai.OpenAI(base_url=ep.base_url, api_key=ep.api_key or "none", max_retries=1, timeout=300.0)
        _client_cache[key] = c
    return c


def served_model() -> str:
    """The model name requests to the local server must carry."""
    return endpoint().model


def _stream_text(events: Iterable[Any], chat_mode: bool) -> Iterator[str]:
    for ev in events:
        if not getattr(ev, "choices", None):
            continue
        ch = ev.choices[0]
        piece = (ch.delta.content if chat_mode and ch.delta is not None else None) if chat_mode else ch.text
        if piece:
            yield piece


def complete(prompt: str, max_tokens: int = 64, stream: bool = False, **kw: Any) -> str | Iterator[str]:
    """Text completion from the local server. stream=True returns an iterator of text chunks."""
    c = client()
    model = kw.pop("model", None) or served_model()
    resp = c.completions.create(model=model, prompt=prompt, max_tokens=max_tokens, stream=stream, **kw)
    if stream:
        return _stream_text(resp, chat_mode=False)
    return resp.choices[0].text or ""


def chat(messages: list[dict[str, str]] | str, stream: bool = False, max_tokens: int = 128,
         **kw: Any) -> str | Iterator[str]:
    """Chat completion from the local server (a string is one user message). stream=True yields text chunks."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    c = client()
    model = kw.pop("model", None) or served_model()
    resp = c.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, stream=stream, **kw)
    if stream:
        return _stream_text(resp, chat_mode=True)
    return resp.choices[0].message.content or ""


def serve_adapter(path: str | Path, name: str | None = None) -> str:
    """Load a peft LoRA adapter (a dir with adapter_config.json) into the running vLLM server at run time, and return
    the model name that selects it: ``complete("...", model=serve_adapter("out/lora"))``. The server must have been
    started with LoRA on (gpu.lora_modules / FM_TUTOR_LORA_MODULES names at least one adapter); transformers serve
    loads no adapters: use ``load_adapter(model, path)`` on a local model there."""
    import httpx

    p = Path(path).expanduser().resolve()
    if not (p / "adapter_config.json").is_file():
        raise AdapterError(f"no peft adapter at {p} (adapter_config.json missing)")
    name = name or p.name
    ep = endpoint()
    if ep.engine != "vllm":
        raise AdapterError(f"the {ep.engine} engine loads no adapters at run time; use "
                           f"tutor.runtime.load_adapter(model, {str(p)!r}) on a local model, or engine = vllm")
    try:
        r = httpx.post(f"{ep.base_url}/load_lora_adapter", json={"lora_name": name, "lora_path": str(p)},
                       headers={"Authorization": f"Bearer {ep.api_key}"}, timeout=300.0)
    except httpx.HTTPError as e:
        raise AdapterError(f"could not reach the model server at {ep.base_url}: {e}") from None
    if r.status_code == 404:
        raise AdapterError("this vLLM server was started without LoRA: name an adapter in gpu.lora_modules "
                           "(FM_TUTOR_LORA_MODULES) and restart it, then adapters can be added at run time")
    if r.status_code >= 400:
        raise AdapterError(f"vLLM refused the adapter {name!r} ({r.status_code}): {r.text.strip()[:300]}")
    return name


def print_stream(chunks: Iterable[str], file=None) -> str:
    """Print chunks as they arrive (flushing each) and return the whole text."""
    out = file or sys.stdout
    parts = []
    for piece in chunks:
        parts.append(piece)
        out.write(piece)
        out.flush()
    out.write("\n")
    out.flush()
    return "".join(parts)


def ask(prompt: str | list[dict[str, str]], max_tokens: int = 128, **kw: Any) -> None:
    """Cell helper: stream a chat answer, printing it progressively (returns None so it is not echoed twice)."""
    print_stream(chat(prompt, stream=True, max_tokens=max_tokens, **kw))
