"""The published endpoint of the local model server (base URL, API key, served model) and its state, as the
supervisor, the CLI and the kernel-side runtime read it. No Textual here."""
from __future__ import annotations

import json
import logging
import os
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from tutor.core.config import runtime_dir
from tutor.core.errors import TutorError
from tutor.core import config

log = logging.getLogger(__name__)

ENV_BASE_URL = config.ENV_BASE_URL


ENV_API_KEY = config.ENV_API_KEY


ENV_ENGINE = config.ENV_ENGINE_SERVING


ENDPOINT_FILE = "endpoint.json"


class ServerError(TutorError, RuntimeError):
    """The server could not be started or kept running; the message says why (and where its log is)."""


class State(str, Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class Endpoint:
    base_url: str  # ends in /v1
    api_key: str
    model: str  # the model name requests must carry
    engine: str
    pid: int | None = None
    log_path: str | None = None
    prefix: str | None = None  # sys.prefix of the install that started the server (set when written)

    def env(self) -> dict[str, str]:
        return {ENV_BASE_URL: self.base_url, ENV_API_KEY: self.api_key, ENV_MODEL_NAME: self.model, ENV_ENGINE: self.engine}

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**asdict(self), "prefix": self.prefix or sys.prefix}, f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Endpoint | None:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(**d)
        except (OSError, ValueError, TypeError):
            return None


# The env var a kernel reads for the served model name. FM_TUTOR_MODEL is the *configured* model (config.py);
# the brief names FM_TUTOR_MODEL for kernels too, so the endpoint sets it to the served name, which for
# transformers serve is the model directory and for vLLM the configured name: both load_model() and the server
# accept either.
ENV_MODEL_NAME = config.ENV_MODEL


@dataclass
class ServerStatus:
    state: State
    elapsed: float = 0.0  # seconds since this start attempt began
    last_log_line: str = ""
    reason: str | None = None
    engine: str | None = None
    restarts: int = 0
    pid: int | None = None
    endpoint: Endpoint | None = None
    rss: int | None = None  # the engine's resident memory in bytes (its workers included), None when unknown


def current_endpoint(run_dir: Path | None = None, check: bool = True) -> Endpoint | None:
    """The endpoint a running server published (env vars first, then the endpoint file); None if there is none.

    With check=True a file whose server no longer answers /health is ignored.
    """
    if os.environ.get(ENV_BASE_URL) and os.environ.get(ENV_MODEL_NAME):
        return Endpoint(os.environ[ENV_BASE_URL], os.environ.get(ENV_API_KEY, "none"), os.environ[ENV_MODEL_NAME],
                        engine=os.environ.get(ENV_ENGINE, "unknown"))
    try:
        d = Path(run_dir) if run_dir else runtime_dir()
    except Exception:
        log.debug("current_endpoint: caught and carried on", exc_info=True)
        return None
    ep = Endpoint.read(d / ENDPOINT_FILE)
    if ep is None:
        return None
    from tutor.core.registry import foreign

    if foreign({"prefix": ep.prefix}):  # another install's server: not ours to use
        log.info("current_endpoint: %s was published by another install (%s); ignored", ep.base_url, ep.prefix)
        return None
    if check:
        try:
            with urllib.request.urlopen(ep.base_url[: -len("/v1")] + "/health", timeout=2.0) as r:
                if r.status != 200:
                    return None
        except (urllib.error.URLError, OSError, ValueError):
            return None
    return ep
