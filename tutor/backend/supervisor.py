"""The local model server manager (TUI side; imports no torch and no transformers).

`ModelServer` picks an engine (`vllm serve` when a CUDA GPU is present and vllm is importable, else
`transformers serve`), starts it as a subprocess on 127.0.0.1 with a free port and a random API key, sends its
output to a log file, waits for /health while reporting progress, restarts it when it dies (bounded retries with
backoff), holds a lock file per GPU so two engines never start on one GPU at once, stops it on exit, and publishes
the endpoint as a JSON file in the runtime dir and as FM_TUTOR_BASE_URL / FM_TUTOR_API_KEY / FM_TUTOR_MODEL.

With ``detach_idle > 0`` the engine can outlive the manager: ``detach()`` (the app's exit or hang-up) leaves it
running, registered in the runtime dir (:mod:`tutor.backend.detached`), and the next ``start()`` with the same engine,
model and settings adopts it (``reattached`` says so) instead of starting another; idle ones are culled.

State callbacks are plain callables taking a `ServerStatus`; they run on the manager's monitor thread (the TUI
marshals them onto its own loop).

Both engines listen on 127.0.0.1 and refuse requests without the endpoint's API key, handed over in the engine's
environment (never on its command line, which every local user can read): vLLM reads VLLM_API_KEY, and
`transformers serve` (which has no key option) through fm-tutor's launcher :mod:`tutor.backend.hfserve`, which reads
the key from FM_TUTOR_API_KEY in its environment. Only GET /health answers without the key.
"""
from __future__ import annotations

import atexit
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tutor.backend.endpoint import (
    ENDPOINT_FILE,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_ENGINE,
    Endpoint,
    ServerError,
    ServerStatus,
    State,
)
from tutor.backend.engines import build_command, engine_env, select_engine, vllm_importable
from tutor.backend.gpu import GpuInfo, GpuLock, nvidia_smi_gpus
from tutor.core.config import Config, ModelNotFound, ResolvedModel, load_config, resolve_model, runtime_dir
from tutor.core.procs import AdoptedProcess, free_port, load_libc, preexec_die_with_parent, tree_rss
from tutor.core.registry import install

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- probes (no torch in this process)


# ---------------------------------------------------------------- GPU locks


# ---------------------------------------------------------------- the manager


def _exited(rc) -> str:
    return f"the engine exited with code {rc}" if isinstance(rc, int) else "the engine exited"


def _ago(seconds: float) -> str:
    m = max(0, int(seconds)) // 60
    return f"{max(0, int(seconds))} s" if m == 0 else f"{m} min" if m < 60 else f"{m // 60} h {m % 60} min"


class ModelServer:
    """Start, watch and stop one local OpenAI-compatible model server.

    server = ModelServer(on_state=print)
    endpoint = server.start()          # blocks until ready (or raises ServerError); start(wait=False) returns at once
    ...
    server.stop()                      # or server.detach(): leave it running for the next ModelServer (detach_idle > 0)

    With ``detach_idle > 0`` the engine is spawned so that it can outlive this process (its own session, no
    parent-death signal; it inherits the GPU locks) and is claimed in the runtime dir's registry; ``start()``
    first looks there and adopts a live server with the same engine, model and command line (``reattached`` is
    then set) -- whatever ``detach_idle`` is; a mismatched one, or one detached longer than ``detach_idle``, is
    stopped. With ``detach_idle == 0`` (the default) the engine dies with this process.
    """

    def __init__(self, config: Config | None = None, *, on_state: Callable[[ServerStatus], None] | None = None,
                 engine: str | None = None, model: str | None = None, log_path: Path | None = None,
                 run_dir: Path | None = None, max_restarts: int = 3, backoff: float = 1.0,
                 startup_timeout: float | None = None, poll_interval: float = 0.5,
                 cuda_probe: Callable[[], list] = nvidia_smi_gpus, vllm_probe: Callable[[], bool] = vllm_importable,
                 publish_env: bool = True, extra_args: list[str] | None = None, detach_idle: float = 0.0):
        self.config = config or load_config()
        self.detach_idle = float(detach_idle or 0.0)
        self._detachable = False  # this start's engine may outlive us (detach_idle > 0, no other app's server here)
        self._gpu_indices: list[int] = []
        self._started_at = 0.0  # wall clock, for the registry
        self._quiet = False  # no state callbacks (detach() runs while the app's loop waits for it)
        # set by start() when it adopted a detached server: pid, engine, model, detached_at (time.time())
        self.reattached: dict | None = None
        self.extra_args = list(extra_args or [])  # appended to the engine's argv (e.g. --continuous-batching)
        self.requested_engine = engine or self.config.engine
        self.model_name = model or self.config.model
        self.run_dir = Path(run_dir) if run_dir else runtime_dir()
        self.log_path = Path(log_path) if log_path else self.run_dir / "model-server.log"
        self.max_restarts = max_restarts
        self.backoff = backoff
        self.startup_timeout = startup_timeout
        self.poll_interval = poll_interval
        self.cuda_probe = cuda_probe
        self.vllm_probe = vllm_probe
        self.publish_env = publish_env
        self._listeners: list[Callable[[ServerStatus], None]] = [on_state] if on_state else []
        self._lock = threading.RLock()
        self._proc: subprocess.Popen | None = None
        self._log_file = None
        self._gpu_lock: GpuLock | None = None
        self._monitor: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self._ready_evt = threading.Event()
        self._done_evt = threading.Event()  # set when ready or failed (for start(wait=True))
        self._status = ServerStatus(State.STOPPED)
        self._t0 = time.monotonic()
        self.endpoint: Endpoint | None = None
        self.engine: str | None = None
        self.engine_reason: str = ""
        self._argv: list[str] = []
        self._engine_env: dict[str, str] = {}  # the engine's own variables (vLLM's CPU KV cache size, ...)
        self._atexit = False

    # ---- status
    def add_listener(self, cb: Callable[[ServerStatus], None]) -> None:
        self._listeners.append(cb)

    @property
    def status(self) -> ServerStatus:
        with self._lock:
            s = self._status
            return ServerStatus(s.state, time.monotonic() - self._t0 if s.state in (State.STARTING, State.LOADING)
                                else s.elapsed, self.last_log_line(), s.reason, s.engine, s.restarts, s.pid, s.endpoint,
                                self.rss())

    @property
    def state(self) -> State:
        return self._status.state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _set(self, state: State, reason: str | None = None) -> None:
        with self._lock:
            s = self._status
            s.state = state
            s.elapsed = time.monotonic() - self._t0
            s.reason = reason
            s.engine = self.engine
            s.pid = self.pid
            s.endpoint = self.endpoint if state == State.READY else None
            s.rss = self.rss()
            snap = ServerStatus(s.state, s.elapsed, self.last_log_line(), s.reason, s.engine, s.restarts, s.pid,
                                s.endpoint, s.rss)
        for cb in [] if self._quiet else list(self._listeners):
            try:
                cb(snap)
            except Exception:  # a listener's bug must not kill the watchdog
                log.debug("_set: a listener's bug must not kill the watchdog", exc_info=True)

    def rss(self) -> int | None:
        """The engine's resident memory in bytes (its process and every child), None when not running or unknown."""
        proc = self._proc
        return tree_rss(proc.pid) if proc is not None else None

    def last_log_line(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 4096))
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in tail.replace("\r", "\n").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def log_tail(self, n: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.replace("\r", "\n").splitlines()[-n:])

    # ---- lifecycle
    def start(self, wait: bool = True, timeout: float | None = None) -> Endpoint | None:
        """Resolve the model, pick the engine, start it. With wait=True block until ready; raise ServerError on failure."""
        with self._lock:
            if self._status.state in (State.STARTING, State.LOADING, State.READY):
                if wait:
                    return self.wait_ready(timeout)
                return self.endpoint
            self._stop_evt.clear()
            self._ready_evt.clear()
            self._done_evt.clear()
            self._status = ServerStatus(State.STOPPED)
            self._t0 = time.monotonic()
            self._quiet = False
            self.reattached = None
        try:
            model = resolve_model(self.model_name)
            self.engine, self.engine_reason = select_engine(self.requested_engine, cuda_probe=self.cuda_probe,
                                                            vllm_probe=self.vllm_probe)
            gpus = self.cuda_probe() if self.engine == "vllm" or self.requested_engine != "transformers" else []
        except (ModelNotFound, ServerError) as e:
            self._set(State.FAILED, str(e))
            self._done_evt.set()
            raise ServerError(str(e)) from None
        if self.startup_timeout is None:
            self.startup_timeout = 600.0 if self.engine == "vllm" else 180.0
        n = self.config.gpu.tensor_parallel_size if self.engine == "vllm" else 1
        self._gpu_indices = [g.index for g in gpus[:n]] if gpus else []
        served = self.model_name if self.engine == "vllm" else str(model.path)
        self._engine_env = engine_env(self.engine, model, self.config, gpus)  # also for a restart of an adopted one
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        if self._adopt(model, served, gpus):
            self._monitor = threading.Thread(target=self._watch, name="fm-tutor-model-server", daemon=True)
            self._monitor.start()
            return self.wait_ready(timeout) if wait else self.endpoint
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("", encoding="utf-8")  # a fresh log per start (restarts append to it)
        self._set(State.STARTING)
        if gpus:
            self._gpu_lock = GpuLock(self._gpu_indices, self.run_dir)
            try:
                self._gpu_lock.acquire(timeout=self.startup_timeout, on_wait=lambda m: None)
            except ServerError as e:
                self._gpu_lock = None
                self._set(State.FAILED, str(e))
                self._done_evt.set()
                raise
        port = free_port()
        api_key = "fmt-" + secrets.token_hex(16)
        self._argv = build_command(self.engine, model, host="127.0.0.1", port=port, cfg=self.config,
                                   served_name=served, gpus=gpus) + self.extra_args
        self.endpoint = Endpoint(f"http://127.0.0.1:{port}/v1", api_key, served, self.engine,
                                 log_path=str(self.log_path))
        try:
            self._spawn()
        except OSError as e:
            self._set(State.FAILED, f"could not start {self._argv[0]}: {e}")
            self._release_gpus()
            self._done_evt.set()
            raise ServerError(self._status.reason) from None
        self._monitor = threading.Thread(target=self._watch, name="fm-tutor-model-server", daemon=True)
        self._monitor.start()
        if wait:
            return self.wait_ready(timeout)
        return self.endpoint

    def _adopt(self, model: ResolvedModel, served: str, gpus: list[GpuInfo]) -> bool:
        """Take over a live server a previous app detached, if it runs this engine, model and command line and
        answers /health -> True (state STARTING; the monitor finds it ready at once). Decides ``_detachable``."""
        from tutor.backend import detached as sd

        def matches(e: dict) -> bool:
            if e.get("engine") != self.engine or e.get("model") != self.model_name or e.get("served") != served:
                return False
            try:
                argv = build_command(self.engine, model, host="127.0.0.1", port=int(e["port"]),
                                     cfg=self.config, served_name=served, gpus=gpus) + self.extra_args
            except (KeyError, TypeError, ValueError, ServerError):
                return False
            return argv == e.get("argv")

        try:
            outcome, entry = sd.take(self.run_dir, matches, self.detach_idle)
        except OSError:  # an unwritable runtime dir: no registry, nothing outlives us
            outcome, entry = "busy", None
        # another running app's server is registered here: ours dies with us, as with detach_idle == 0
        self._detachable = self.detach_idle > 0 and outcome != "busy"
        if outcome != "adopt" or entry is None:
            return False
        self.endpoint = Endpoint(entry["base_url"], entry["api_key"], served, self.engine, pid=entry["pid"],
                                 log_path=entry.get("log_path"))
        if not self._healthy():
            sd.drop(self.run_dir, entry)
            self.endpoint = None
            return False
        self._proc = AdoptedProcess(entry["pid"], entry.get("proc_start"))
        self._argv = list(entry["argv"])
        if entry.get("log_path"):
            self.log_path = Path(entry["log_path"])
        self._started_at = float(entry.get("started_at") or time.time())
        self.reattached = {"pid": entry["pid"], "engine": self.engine, "model": self.model_name,
                           "detached_at": float(entry.get("detached_at") or time.time())}
        self._set(State.STARTING, f"reattached to the detached server (pid {entry['pid']})")
        return True

    def reattached_message(self) -> str | None:
        """"Reattached to the model server (fm-tiny, transformers, pid N, detached 3 min ago)", or None."""
        r = self.reattached
        if not r:
            return None
        return (f"Reattached to the model server ({Path(str(r['model'])).name}, {r['engine']}, pid {r['pid']}, "
                f"detached {_ago(time.time() - r['detached_at'])} ago)")

    def _registry_entry(self) -> dict:
        from tutor.core.procs import proc_start

        assert self._proc is not None and self.endpoint is not None
        return {"pid": self._proc.pid, "proc_start": proc_start(self._proc.pid),
                "port": int(self.endpoint.base_url.rsplit(":", 1)[1].split("/", 1)[0]),
                "base_url": self.endpoint.base_url, "api_key": self.endpoint.api_key, "model": self.model_name,
                "served": self.endpoint.model, "engine": self.engine, "argv": self._argv,
                "log_path": str(self.log_path), "gpus": self._gpu_indices, "started_at": self._started_at,
                "detached_at": None, "owner": os.getpid(), **install()}

    def wait_ready(self, timeout: float | None = None) -> Endpoint:
        """Block until the server is ready (also across a restart); ServerError when it failed or stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._done_evt.wait(timeout)
        while True:
            st = self._status.state
            if st == State.READY and self.endpoint is not None:
                return self.endpoint
            if st == State.FAILED:
                reason = self._status.reason or "unknown reason"
                raise ServerError(f"model server failed: {reason}" + ("" if "log:" in reason
                                                                       else f" (log: {self.log_path})"))
            if st == State.STOPPED:
                raise ServerError("model server was stopped")
            if deadline is not None and time.monotonic() >= deadline:
                raise ServerError(f"model server not ready after {timeout:.0f}s (state {st.value}); "
                                  f"log: {self.log_path}")
            time.sleep(0.1)

    def _spawn(self) -> None:
        env = dict(os.environ)
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
                    "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
                    "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", **self._engine_env})
        for k in (ENV_BASE_URL, ENV_ENGINE):
            env.pop(k, None)
        assert self.endpoint is not None
        # the key every request must carry, in the environment (readable only by its owner), never on the command
        # line: transformers serve's launcher (tutor.backend.hfserve) enforces FM_TUTOR_API_KEY, vLLM VLLM_API_KEY
        env[ENV_API_KEY] = self.endpoint.api_key
        if self.engine == "vllm":
            env["VLLM_API_KEY"] = self.endpoint.api_key
        if self._gpu_indices and self._gpu_lock is None:  # a restart after the adopted server died
            lock = GpuLock(self._gpu_indices, self.run_dir)
            lock.acquire(timeout=self.startup_timeout or 60.0)  # ServerError: another engine took the GPU
            self._gpu_lock = lock
        if self._log_file:
            self._log_file.close()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"$ {' '.join(self._argv)}\n".encode())
        self._log_file.flush()
        old_pid = self.pid
        # A detachable engine may outlive us: its own session (as always), no parent-death signal, and it
        # inherits the GPU locks so that it keeps its GPUs after we are gone.
        die_with_us = not self._detachable and load_libc()
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, preexec_fn=preexec_die_with_parent if die_with_us else None,  # noqa: PLW1509
            pass_fds=tuple(self._gpu_lock.fds()) if self._detachable and self._gpu_lock else (),
        )
        assert self.endpoint is not None
        self.endpoint.pid = self._proc.pid
        from tutor.backend import detached as sd

        if self._detachable:
            self._started_at = time.time()
            try:
                self._detachable = sd.claim(self.run_dir, self._registry_entry())
            except OSError:
                self._detachable = False
        elif old_pid is not None:
            sd.release(self.run_dir, old_pid)  # an adopted server died; its successor dies with us

    def _healthy(self) -> bool:
        assert self.endpoint is not None
        root = self.endpoint.base_url[: -len("/v1")]
        try:
            with urllib.request.urlopen(root + "/health", timeout=2.0) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _wait_health(self) -> str | None:
        """Poll until healthy; returns None when ready, else the reason it will not be."""
        t0 = time.monotonic()
        last_report = 0.0
        while not self._stop_evt.is_set():
            proc = self._proc
            if proc is None:
                return "stopped"
            rc = proc.poll()
            if rc is not None:
                tail = self.log_tail(8).strip().splitlines()
                why = next((ln for ln in reversed(tail) if "Error" in ln or "error" in ln), tail[-1] if tail else "")
                return f"{_exited(rc)} while starting: {why.strip()}"
            if self._healthy():
                return None
            if time.monotonic() - t0 > (self.startup_timeout or 180):
                return f"not ready after {self.startup_timeout:.0f}s"
            now = time.monotonic()
            if now - last_report >= 1.0:  # progress: elapsed + last log line, about once a second
                self._set(State.LOADING)
                last_report = now
            self._stop_evt.wait(self.poll_interval)
        return "stopped"

    def _publish(self) -> None:
        assert self.endpoint is not None
        self.endpoint.write(self.run_dir / ENDPOINT_FILE)
        if self.publish_env:
            os.environ.update(self.endpoint.env())

    def _unpublish(self, file: bool = True) -> None:
        """Withdraw the endpoint: the file (unless ``file`` is False: a detached server stays published there) and
        the environment variables."""
        try:
            p = self.run_dir / ENDPOINT_FILE
            ep = Endpoint.read(p)
            if file and (ep is None or (self.endpoint and ep.base_url == self.endpoint.base_url)):
                p.unlink(missing_ok=True)
        except OSError:
            pass
        if self.publish_env and self.endpoint:
            for k, v in self.endpoint.env().items():
                if os.environ.get(k) == v:
                    del os.environ[k]

    def _watch(self) -> None:
        """Monitor thread: wait for health, then watch the process; restart it when it dies."""
        first = True
        while not self._stop_evt.is_set():
            reason = self._wait_health()
            if self._stop_evt.is_set():
                return
            if reason is None:
                self._publish()
                self._ready_evt.set()
                self._set(State.READY)
                self._done_evt.set()
                first = False
                reason = self._watch_running()
                if self._stop_evt.is_set():
                    return
            # not ready, or died after being ready
            self._kill()
            if first:
                # The first start never came up: a configuration problem (bad model files, missing package,
                # out of memory). Retrying would only repeat it.
                self._fail(reason)
                return
            with self._lock:
                self._status.restarts += 1
                n = self._status.restarts
            if n > self.max_restarts:
                self._fail(f"{reason}; gave up after {self.max_restarts} restarts")
                return
            self._set(State.STARTING, f"{reason}; restarting ({n}/{self.max_restarts})")
            if self._stop_evt.wait(self.backoff * (2 ** (n - 1))):
                return
            self._t0 = time.monotonic()
            try:
                self._spawn()
            except (OSError, ServerError) as e:
                self._fail(f"could not restart the engine: {e}")
                return

    def _watch_running(self) -> str:
        fails = 0
        while not self._stop_evt.wait(self.poll_interval):
            proc = self._proc
            if proc is None:
                return "stopped"
            rc = proc.poll()
            if rc is not None:
                return _exited(rc)
            if fails or int(time.monotonic() * 2) % 10 == 0:  # a health check every ~5 s, faster once one fails
                fails = 0 if self._healthy() else fails + 1
                if fails >= 6:
                    return "the engine stopped answering /health"
                rss, shown = self.rss(), self._status.rss
                if rss and (not shown or abs(rss - shown) > max(shown // 10, 8 << 20)):  # memory moved: show it
                    self._set(State.READY)
        return "stopped"

    def _fail(self, reason: str) -> None:
        self._forget()
        self._unpublish()
        self._release_gpus()
        self._set(State.FAILED, f"{reason} (log: {self.log_path})")
        self._done_evt.set()

    def _kill(self, grace: float = 10.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait(5)
        else:  # the leader is gone; make sure no worker of its group lingers (vLLM spawns some)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _release_gpus(self) -> None:
        if self._gpu_lock:
            self._gpu_lock.release()
            self._gpu_lock = None

    def stop(self) -> None:
        """Stop the engine (SIGTERM to its process group, SIGKILL after a grace period) and clean up."""
        self._stop_evt.set()
        mon = self._monitor
        if mon and mon is not threading.current_thread():
            mon.join(timeout=5)
        self._kill()
        self._forget()
        self._proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        self._unpublish()
        self._release_gpus()
        if self._status.state != State.STOPPED:
            self._set(State.STOPPED)
        self._done_evt.set()

    def _forget(self) -> None:
        """Drop this server's registry entry (it is stopped, or it failed)."""
        if self._proc is not None:
            from tutor.backend import detached as sd

            try:
                sd.release(self.run_dir, self._proc.pid)
            except OSError:
                pass

    def detach(self) -> bool:
        """Let go of a ready server without stopping it (``detach_idle > 0``): it keeps running, recorded in the
        runtime dir's registry for the next ``start()``, its endpoint file still published, its GPUs still locked.
        Anything else (not detachable, not ready) is stopped. -> True if the server was detached. Safe to call
        twice, and ``stop()`` afterwards leaves the detached server alone."""
        from tutor.backend import detached as sd

        with self._lock:
            proc = self._proc
            ok = (self._detachable and self._status.state == State.READY and proc is not None
                  and proc.poll() is None)
            if ok:
                self._quiet = True  # the app's loop may be blocked in this call: no callbacks into it
        if not ok:
            self.stop()
            return False
        self._stop_evt.set()
        mon = self._monitor
        if mon and mon is not threading.current_thread():
            mon.join(timeout=5)
        try:
            detached_at = sd.detach(self.run_dir, proc.pid)
        except OSError:
            detached_at = None
        if detached_at is None:  # not ours in the registry (it cannot be found again): stop it
            self._quiet = False
            self.stop()
            return False
        try:  # stops it after detach_idle even if no fm-tutor runs again
            sd.spawn_reaper(self.run_dir, proc.pid, detached_at, self.detach_idle)
        except OSError:
            pass
        if self._log_file:  # the engine keeps its own descriptor of the log
            self._log_file.close()
            self._log_file = None
        if self._gpu_lock:
            self._gpu_lock.abandon()
            self._gpu_lock = None
        self._unpublish(file=False)  # the endpoint file stays for cells and the next app
        self._proc = None
        self.endpoint = None
        with self._lock:
            self._status.state = State.STOPPED
            self._status.reason = "detached"
        self._done_evt.set()
        return True

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_foreground(cfg: Config | None = None, engine: str | None = None, model: str | None = None,
                     out=sys.stdout) -> int:
    """`fm-tutor serve-model`: start the server, print progress and the endpoint, run until Ctrl-C."""
    last = {"line": ""}

    def report(s: ServerStatus) -> None:
        line = f"[{s.elapsed:5.1f}s] {s.state.value}"
        if s.reason:
            line += f": {s.reason}"
        elif s.last_log_line and s.state != State.READY:
            line += f"  | {s.last_log_line[:100]}"
        if line != last["line"]:
            print(line, file=out, flush=True)
            last["line"] = line

    srv = ModelServer(cfg, on_state=report, engine=engine, model=model)
    print(f"log: {srv.log_path}", file=out, flush=True)
    try:
        ep = srv.start(wait=True)
    except ServerError as e:
        print(f"error: {e}", file=out, flush=True)
        tail = srv.log_tail(15)
        if tail:
            print(tail, file=out)
        srv.stop()
        return 1
    print(f"engine: {srv.engine} ({srv.engine_reason})", file=out)
    for k, v in ep.env().items():
        print(f"export {k}={v}", file=out)
    print("serving; Ctrl-C to stop", file=out, flush=True)
    try:
        while srv.state != State.FAILED:
            time.sleep(0.5)
        print(f"error: {srv.status.reason}", file=out)
        return 1
    except KeyboardInterrupt:
        print("stopping", file=out)
        return 0
    finally:
        srv.stop()
