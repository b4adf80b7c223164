"""`transformers serve` behind the endpoint's API key: the launcher the supervisor runs as
``python -m tutor.backend.hfserve serve MODEL --host ... --port ...`` (the same arguments as `transformers serve`).

`transformers serve` has no API-key option, and on a multi-user machine any local user can reach a port on
127.0.0.1. This launcher runs transformers' own CLI unchanged (its arguments, its app, its log lines), with every
uvicorn app of this process wrapped in :class:`KeyGuard`: a request without ``Authorization: Bearer <key>`` gets
401, except ``GET /health`` (its answer is ``{"status": "ok"}`` or a 503 saying the worker died: nothing about the
model, so probes need no key). The key comes from ``FM_TUTOR_API_KEY`` in this process's environment (the supervisor
sets it: an environment, unlike a command line, is readable only by its owner); without it the launcher refuses to
start.

The wrap is installed on ``uvicorn.config.Config.__init__`` (uvicorn's public constructor, whose first parameter is
the app), so it holds however transformers builds its FastAPI app; the names are in :mod:`tutor.core.internals`, and
``tests/test_internals.py`` checks that `transformers serve` still serves through ``uvicorn.Config``. This is the server process: it may import
transformers (lazily, in :func:`main`); the TUI never imports this module.
"""
from __future__ import annotations

import hmac
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tutor.core import internals
from tutor.core.config import ENV_API_KEY

# the requests allowed without the key: the readiness probe, whose answer reveals nothing about the model
OPEN = frozenset({("GET", "/health"), ("HEAD", "/health")})

_BODY = json.dumps({"error": {"message": "missing or wrong API key: send 'Authorization: Bearer <key>' (the key is "
                                         "in FM_TUTOR_API_KEY of the learner's kernels)",
                              "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()


class KeyGuard:
    """An ASGI app that passes to ``app`` only the requests carrying ``Authorization: Bearer <key>`` (and
    ``GET /health``); the others get 401 (HTTP) or a policy-violation close (websocket). Lifespan events pass."""

    def __init__(self, app: Callable[..., Awaitable[None]], key: str):
        if not key:
            raise ValueError("KeyGuard needs a non-empty key")
        self.app = app
        self._expected = f"Bearer {key}".encode()

    def allowed(self, scope: dict[str, Any]) -> bool:
        if (scope.get("method", "GET"), scope.get("path", "")) in OPEN and scope["type"] == "http":
            return True
        got = next((v for k, v in scope.get("headers") or [] if k.lower() == b"authorization"), b"")
        return hmac.compare_digest(got, self._expected)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allowed(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                    (b"content-length", str(len(_BODY)).encode())]})
            await send({"type": "http.response.body", "body": _BODY})
        else:
            await send({"type": "websocket.close", "code": 1008})


def _attr(where: tuple[str, str]) -> Any:
    return getattr(importlib.import_module(where[0]), where[1])


def install_guard(key: str) -> None:
    """Wrap the app of every ``uvicorn.Config`` made from now on in this process in ``KeyGuard(app, key)``."""
    cls = _attr(internals.UVICORN_CONFIG)
    if getattr(cls.__init__, "_fm_tutor_guard", False):
        return
    original = cls.__init__

    def __init__(self, app, *args, **kwargs):
        if isinstance(app, str):  # an import string would be loaded later, unguarded: refuse it
            raise RuntimeError("fm-tutor's key guard cannot wrap an app given as an import string")
        original(self, KeyGuard(app, key), *args, **kwargs)

    __init__._fm_tutor_guard = True  # type: ignore[attr-defined]
    cls.__init__ = __init__


def main(argv: list[str] | None = None) -> int:
    """Read the key, install the guard, run `transformers` with ``argv`` (default: this process's arguments)."""
    key = os.environ.pop(ENV_API_KEY, "")
    if len(key) < 16:
        print(f"fm-tutor: refusing to serve without an API key: {ENV_API_KEY} must hold the key (16+ characters) "
              "every request has to send", file=sys.stderr, flush=True)
        return 2
    install_guard(key)
    print("fm-tutor: starting transformers serve; every request but GET /health needs the endpoint's API key",
          file=sys.stderr, flush=True)
    transformers_main = _attr(internals.TRANSFORMERS_CLI_MAIN)
    sys.argv = ["transformers", *(sys.argv[1:] if argv is None else argv)]
    rc = transformers_main()
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
