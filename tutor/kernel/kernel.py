"""One lesson kernel: start or reattach, run code (setup cells first, once per kernel life), interrupt, restart,
close or detach, and report its state. Created by :class:`tutor.kernel.pool.KernelPool`, which hands it a
:class:`KernelContext` (where to write, how to start, which loop runs its coroutines). No Textual here."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.core.procs import interrupt_pid, kill_pid, pid_alive
from tutor.core.registry import install as _registry_install
from tutor.core.internals import keep_connection_file, kernel_process
from tutor.kernel import detach as _reg
from tutor.kernel.events import (ClearOutput, Display, Error, Event, ExecResult, Result, Stream, died_message,
                                 error_message)
from tutor.kernel.sockets import shared_context
from tutor.kernel.spec import KERNEL_NAME, kernel_env
from tutor.core.config import ENV_KERNEL

log = logging.getLogger(__name__)

LIVENESS_INTERVAL = 0.5  # seconds between is_alive() polls (busy and idle)


INTERRUPT_GRACE = 3.0  # seconds to wait for a timed-out cell to stop after the interrupt


STDOUT_KEEP = 200_000  # characters of stream text kept in ExecResult.stdout


STATES = ("starting", "idle", "busy", "dead")



@dataclass(frozen=True)
class KernelContext:
    """What a kernel needs from the pool that made it (instead of a reference to the pool)."""

    runtime_dir: Path  # the pool's private dir: connection files, logs, ipc sockets
    base_dir: Path  # where the registry of detached kernels lives
    env: dict[str, str]
    transport: str  # "ipc" | "tcp"
    start_timeout: float
    detach_idle: float  # > 0: launch independent kernels and claim them in the registry
    spec_manager: Any  # jupyter_client KernelSpecManager for the private kernelspec
    submit: Callable[[Coroutine], concurrent.futures.Future]  # run a coroutine on the pool's loop
    remote: Any = None  # a tutor.kernel.remote.RemoteHost for remote kernels


def setup_items(setup: Iterable[Any] | None) -> list[tuple[str, float | None]]:
    items = []
    for s in setup or ():
        if isinstance(s, str):
            items.append((s, None))
        else:  # a Cell (or anything with .code / .timeout)
            items.append((s.code, getattr(s, "timeout", None)))
    return items


@dataclass
class _Exec:
    msg_id: str
    on_event: Callable[[Event], None] | None
    finished: asyncio.Future
    reply: dict | None = None
    idle: bool = False
    error: Error | None = None
    interrupted: bool = False
    execution_count: int | None = None
    stdout: list[str] = field(default_factory=list)
    stdout_size: int = 0

    def emit(self, ev: Event) -> None:
        if isinstance(ev, Stream) and self.stdout_size < STDOUT_KEEP:
            self.stdout.append(ev.text)
            self.stdout_size += len(ev.text)
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:  # a broken callback must not kill the reader
                log.debug("emit: a broken callback must not kill the reader", exc_info=True)


class Kernel:
    """One kernel (for one lesson). Create through :meth:`KernelPool.start`."""

    def __init__(self, ctx: KernelContext, name: str, cwd: str | None):
        self.ctx = ctx
        self.name = name
        self.cwd = cwd
        self._state = "starting"
        self._listeners: list[Callable[[Kernel, str], None]] = []
        self.exit_code: int | None = None
        self.start_error: str | None = None
        self.generation = 0  # bumps on every (re)start
        self.log_path: Path | None = None
        self.connection_file: str | None = None
        self._km = None
        self._kc = None
        self._execs: dict[str, _Exec] = {}
        self._setup_done: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._lock: asyncio.Lock | None = None
        self._started: asyncio.Event | None = None
        self._log_file = None
        self._closing = False
        self.ready: concurrent.futures.Future = concurrent.futures.Future()
        self.reattached = False  # True while this kernel is one a previous app detached (no manager, pid only)
        self.started_at = time.time()
        self._pid: int | None = None  # the pid of a reattached kernel
        self._setup_hashes: set[str] = set()  # setup cells run before the kernel was detached

    # ---------------------------------------------------------------- state
    @property
    def state(self) -> str:
        return self._state

    @property
    def stopping(self) -> bool:
        """True while (and after) the kernel is shut down or detached on purpose: a "dead" state then means
        "stopped", not "died"."""
        return self._closing

    @property
    def pid(self) -> int | None:
        if self._km is None and self._pid is not None:
            return self._pid
        proc = kernel_process(self._km)
        return getattr(proc, "pid", None)

    def add_state_listener(self, callback: Callable[[Kernel, str], None]) -> None:
        """``callback(kernel, state)`` is called from the kernel thread on every state change."""
        self._listeners.append(callback)

    def remove_state_listener(self, callback: Callable[[Kernel, str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        for cb in list(self._listeners):
            try:
                cb(self, state)
            except Exception:
                log.debug("_set_state: caught and carried on", exc_info=True)

    # ---------------------------------------------------------------- public API (thread-safe)
    def execute(self, code: str, timeout: float | None = None, on_event: Callable[[Event], None] | None = None,
                setup: Sequence[Any] | None = None, store_history: bool = True) -> concurrent.futures.Future:
        """Run ``code`` (after any setup cells not yet run in this kernel life) -> Future[ExecResult]."""
        return self.ctx.submit(self._execute(code, timeout, on_event, setup, store_history))

    async def aexecute(self, *args, **kwargs) -> ExecResult:
        return await asyncio.wrap_future(self.execute(*args, **kwargs))

    def interrupt(self) -> concurrent.futures.Future:
        return self.ctx.submit(self._interrupt())

    def restart(self) -> concurrent.futures.Future:
        """Restart the kernel (fresh process, state cleared, setup cells re-armed) -> Future[None]."""
        return self.ctx.submit(self._restart())

    async def arestart(self) -> None:
        await asyncio.wrap_future(self.restart())

    def wait_ready(self, timeout: float | None = None) -> None:
        self.ready.result(timeout)

    @property
    def setup_done(self) -> set[str]:
        return set(self._setup_done)

    # ---------------------------------------------------------------- kernel loop side
    def _begin_start(self) -> None:
        """A (re)start begins: "starting", a new generation, executions wait until it is over."""
        self._lock = self._lock or asyncio.Lock()
        self._started = self._started or asyncio.Event()
        self._started.clear()
        self._set_state("starting")
        self.generation += 1

    async def _start(self) -> None:
        from jupyter_client import AsyncKernelManager

        self._begin_start()
        ctx = self.ctx
        tag = f"{self.name}-{uuid.uuid4().hex[:8]}"
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ctx.spec_manager,
                                context=shared_context())
        km.connection_file = str(ctx.runtime_dir / f"kernel-{tag}.json")
        km.shutdown_wait_time = 2.0
        ipc_base = str(ctx.runtime_dir / f"k{tag[-8:]}")
        if ctx.transport == "ipc" and len(ipc_base) + 7 < 100:
            km.transport = "ipc"
            km.ip = ipc_base
        else:
            km.transport = "tcp"
            km.ip = "127.0.0.1"
        self.connection_file = km.connection_file
        self.log_path = ctx.runtime_dir / f"kernel-{self.name}.log"
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab", buffering=0)
        env = kernel_env(self.name, ctx.env)
        self._km = km
        try:
            # a detachable pool launches independent kernels (no parent poller): they outlive the app
            await km.start_kernel(env=env, cwd=self.cwd or os.getcwd(), stdin=subprocess.DEVNULL,
                                  stdout=self._log_file, stderr=self._log_file,
                                  **({"independent": True} if ctx.detach_idle > 0 else {}))
            if os.path.exists(km.connection_file):
                os.chmod(km.connection_file, 0o600)
            kc = km.client(context=shared_context())
            kc.allow_stdin = False
            kc.start_channels(stdin=False, hb=False, control=True)
            self._kc = kc
            # wait_for_ready reads shell/iopub itself: start our readers only afterwards
            await kc.wait_for_ready(timeout=ctx.start_timeout)
            self._tasks = [
                asyncio.ensure_future(self._read_iopub(kc)),
                asyncio.ensure_future(self._read_shell(kc)),
            ]
        except Exception as e:  # noqa: BLE001 - any start failure becomes a dead kernel with a reason
            log.debug("_start: any start failure becomes a dead kernel with a reason", exc_info=True)
            await self._start_failed(f"{type(e).__name__}: {e}")
            return
        self.started_at = time.time()
        self._tasks.append(asyncio.ensure_future(self._watch(km.is_alive)))
        self._started_ok()

    async def _start_failed(self, reason: str) -> None:
        """A start that did not work: the kernel is dead with ``reason`` (what cells then show)."""
        self.start_error = reason
        self.exit_code = await self._poll_exit()
        self._set_state("dead")
        self._started.set()
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"kernel {self.name} failed to start: {reason}"))

    def _started_ok(self) -> None:
        """A (re)start or reattach that worked: the kernel is idle, claimed, and ``ready`` resolved."""
        self.exit_code = None
        self.start_error = None
        self._claim()
        self._set_state("idle")
        self._started.set()
        if not self.ready.done():
            self.ready.set_result(self)

    async def _attach(self, entry: dict) -> None:
        """Connect to a kernel a previous app detached (registry ``entry``); on failure start a fresh one."""
        from jupyter_client.asynchronous import AsyncKernelClient

        self._set_state("starting")
        self.generation += 1
        pid = int(entry["pid"])
        try:
            kc = AsyncKernelClient(context=shared_context())
            kc.load_connection_file(entry["connection_file"])
            kc.allow_stdin = False
            kc.start_channels(stdin=False, hb=False, control=True)
            self._kc = kc
            await kc.wait_for_ready(timeout=min(self.ctx.start_timeout, 15.0))
        except Exception:  # noqa: BLE001 - an unusable detached kernel is replaced by a fresh one
            log.debug("_attach: an unusable detached kernel is replaced by a fresh one", exc_info=True)
            if self._kc is not None:
                try:
                    self._kc.stop_channels()
                except Exception:
                    log.debug("_attach: caught and carried on", exc_info=True)
                self._kc = None
            await asyncio.get_running_loop().run_in_executor(None, kill_pid, pid)
            _reg.cleanup_files(entry)
            self.reattached = False
            self._pid = None
            await self._start()
            return
        self._pid = pid
        self.reattached = True
        self.connection_file = entry["connection_file"]
        self.log_path = Path(entry["log_path"]) if entry.get("log_path") else None
        self.started_at = float(entry.get("started_at", time.time()))
        self._setup_hashes = set(entry.get("setup_done", []))
        self._attached_entry = entry
        self._tasks = [
            asyncio.ensure_future(self._read_iopub(kc)),
            asyncio.ensure_future(self._read_shell(kc)),
            asyncio.ensure_future(self._watch(self._pid_alive)),
        ]
        self._started_ok()

    # ---------------------------------------------------------------- the registry of detachable kernels
    def _reg_key(self, pid: int | None = None) -> str:
        return self.name if self.name != "_spare" else f"_spare-{pid or self.pid}"

    def _entry(self, owner: int | None, detached_at: float | None) -> dict:
        hashes = sorted({_reg.code_hash(c) for c in self._setup_done} | self._setup_hashes)
        return {"connection_file": self.connection_file, "pid": self.pid, "started_at": self.started_at,
                "detached_at": detached_at, "pool_dir": str(Path(self.connection_file).parent),
                "log_path": str(self.log_path) if self.log_path else None, "setup_done": hashes, "cwd": self.cwd,
                "owner": owner, **_registry_install()}

    def _claim(self) -> None:
        """Record this running kernel (owner: this process), so that it is found even if the app is killed."""
        if self.ctx.detach_idle > 0 and self.pid is not None and self.connection_file:
            try:
                _reg.claim(self.ctx.base_dir, self._reg_key(), self._entry(os.getpid(), None))
            except Exception:
                log.debug("_claim: caught and carried on", exc_info=True)

    def _release(self, key: str | None = None) -> None:
        if self.ctx.detach_idle > 0 and self.pid is not None:
            try:
                _reg.release(self.ctx.base_dir, key or self._reg_key(), self.pid)
            except Exception:
                log.debug("_release: caught and carried on", exc_info=True)

    async def _pid_alive(self) -> bool:
        return pid_alive(self._pid)

    async def _poll_exit(self) -> int | None:
        proc = kernel_process(self._km)
        if proc is None:
            return None
        return proc.poll()

    async def _watch(self, is_alive) -> None:
        gen = self.generation
        while gen == self.generation and not self._closing:
            await asyncio.sleep(LIVENESS_INTERVAL)
            if gen != self.generation or self._closing:
                return
            try:
                alive = await is_alive()
            except Exception:
                log.debug("_watch: caught and carried on", exc_info=True)
                alive = False
            if not alive:
                self.exit_code = await self._poll_exit()
                self._set_state("dead")
                msg = self._died_message()
                for ex in list(self._execs.values()):
                    if not ex.finished.done():
                        ex.finished.set_result(ExecResult("died", ex.execution_count, message=msg,
                                                          stdout="".join(ex.stdout)))
                self._execs.clear()
                return

    async def _routed(self, get):
        """Messages from one channel (``get``: kc.get_iopub_msg / get_shell_msg) that answer a running
        execution -> (execution, message); transient read errors are retried."""
        while True:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("_routed: caught and carried on", exc_info=True)
                await asyncio.sleep(0.05)
                continue
            ex = self._execs.get((msg.get("parent_header") or {}).get("msg_id"))
            if ex is not None:
                yield ex, msg

    async def _read_iopub(self, kc) -> None:
        async for ex, msg in self._routed(kc.get_iopub_msg):
            t = msg["msg_type"]
            c = msg["content"]
            if t == "status":
                if c.get("execution_state") == "idle":
                    ex.idle = True
                    self._maybe_finish(ex)
            elif t == "stream":
                ex.emit(Stream(c.get("name", "stdout"), c.get("text", "")))
            elif t in ("display_data", "update_display_data"):
                ex.emit(Display(c.get("data", {}), c.get("metadata", {})))
            elif t == "execute_result":
                ex.emit(Result(c.get("data", {}), c.get("execution_count"), c.get("metadata", {})))
            elif t == "error":
                err = Error(c.get("ename", ""), c.get("evalue", ""), list(c.get("traceback", [])))
                ex.error = err
                ex.emit(err)
            elif t == "clear_output":
                ex.emit(ClearOutput(bool(c.get("wait", False))))
            elif t == "execute_input":
                ex.execution_count = c.get("execution_count")

    async def _read_shell(self, kc) -> None:
        async for ex, msg in self._routed(kc.get_shell_msg):
            if msg.get("msg_type") != "execute_reply":
                continue
            ex.reply = msg["content"]
            if ex.execution_count is None:
                ex.execution_count = msg["content"].get("execution_count")
            self._maybe_finish(ex)

    def _maybe_finish(self, ex: _Exec) -> None:
        if ex.reply is None or not ex.idle or ex.finished.done():
            return
        self._execs.pop(ex.msg_id, None)
        ex.finished.set_result(self._result_of(ex))

    def _result_of(self, ex: _Exec) -> ExecResult:
        rep = ex.reply or {}
        status = rep.get("status", "error")
        out = "".join(ex.stdout)
        if status == "ok":
            return ExecResult("ok", ex.execution_count, stdout=out)
        err = ex.error or Error(rep.get("ename", ""), rep.get("evalue", ""), list(rep.get("traceback", [])))
        if status == "aborted":
            return ExecResult("interrupted", ex.execution_count, error=err, message="the cell was aborted", stdout=out)
        if ex.interrupted and err.ename == "KeyboardInterrupt":
            return ExecResult("interrupted", ex.execution_count, error=err, message="interrupted", stdout=out)
        return ExecResult("error", ex.execution_count, error=err, message=error_message(err), stdout=out)

    async def run(self, code: str, timeout: float | None, on_event, store_history: bool = True) -> ExecResult:
        """Send one execute_request and wait for it (the caller holds the lock)."""
        t0 = time.perf_counter()
        if self._state == "dead" or self._kc is None:
            return ExecResult("died", message=self._dead_message(), duration=0.0)
        loop = asyncio.get_running_loop()
        msg_id = self._kc.execute(code, silent=False, store_history=store_history, allow_stdin=False,
                                  stop_on_error=False)
        ex = _Exec(msg_id, on_event, loop.create_future())
        self._execs[msg_id] = ex
        self._set_state("busy")
        try:
            try:
                res = await asyncio.wait_for(asyncio.shield(ex.finished), timeout)
            except asyncio.TimeoutError:
                ex.interrupted = False
                await self._send_interrupt()
                try:
                    res = await asyncio.wait_for(asyncio.shield(ex.finished), INTERRUPT_GRACE)
                except asyncio.TimeoutError:
                    res = None
                if res is not None and res.status == "died":
                    pass
                else:
                    msg = f"the cell ran longer than its time limit of {timeout:g} s and was interrupted"
                    if res is None:
                        msg = (f"the cell ran longer than its time limit of {timeout:g} s and did not stop when "
                               "interrupted; press R to restart the kernel")
                        self._execs.pop(msg_id, None)
                    res = ExecResult("timeout", ex.execution_count, error=res.error if res else None, message=msg,
                                     stdout="".join(ex.stdout))
        finally:
            if self._state == "busy":
                self._set_state("idle")
        res.duration = time.perf_counter() - t0
        return res

    def _dead_message(self) -> str:
        if self.start_error:
            return f"the kernel could not start ({self.start_error}); press R to try again"
        return self._died_message(while_running=False)

    def _died_message(self, while_running: bool = True) -> str:
        return died_message(self.exit_code, while_running)

    async def _execute(self, code, timeout, on_event, setup, store_history=True) -> ExecResult:
        async with self.locked():
            failed = await self.run_setup(setup, on_event)
            if failed is not None:
                return failed
            return await self.run(code, timeout, on_event, store_history)

    async def run_setup(self, setup: Iterable[Any] | None,
                        on_event: Callable[[Event], None] | None = None) -> ExecResult | None:
        """Run the setup cells this kernel life has not run yet, in order (the caller holds :meth:`locked`).
        -> None when all ran, else the result that stopped them (``setup_failed``, or "interrupted" by a restart).
        The one setup loop: cells, exercises (:mod:`tutor.kernel.grading`) and ``run-cells`` all come here."""
        gen = self.generation
        for scode, stimeout in setup_items(setup):
            if scode in self._setup_done:
                continue
            if _reg.code_hash(scode) in self._setup_hashes:  # ran before the kernel was detached
                self._setup_done.add(scode)
                continue
            r = await self.run(scode, stimeout, None, store_history=False)
            if gen != self.generation:
                return ExecResult("interrupted", message="the kernel was restarted")
            if r.status != "ok":
                if r.error is not None and on_event is not None:
                    on_event(r.error)
                r.setup_failed = True
                r.message = f"a setup cell failed ({r.message}); fix it or press R to restart the kernel"
                return r
            self._setup_done.add(scode)
        return None

    def locked(self):
        """``async with kernel.locked():`` one run at a time (waits for the kernel to have started)."""
        kernel = self

        class _Ctx:
            async def __aenter__(self_inner):
                await kernel._lock.acquire()
                await kernel._started.wait()
                return kernel

            async def __aexit__(self_inner, *exc):
                kernel._lock.release()

        return _Ctx()

    async def _send_interrupt(self) -> None:
        if self._km is None and self._pid is not None and self._state != "dead":
            interrupt_pid(self._pid)  # our kernelspec's interrupt_mode is "signal"
            return
        if self._km is not None and self._state != "dead":
            try:
                await self._km.interrupt_kernel()
            except Exception:
                log.debug("_send_interrupt: caught and carried on", exc_info=True)

    async def _interrupt(self) -> None:
        for ex in self._execs.values():
            ex.interrupted = True
        await self._send_interrupt()

    async def _teardown(self, now: bool = True) -> None:
        self._release()
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        kc, km = self._kc, self._km
        self._kc = None
        if km is None and self._pid is not None:  # a reattached kernel: no manager, only its pid
            pid, self._pid = self._pid, None
            if kc is not None and not now:
                try:
                    kc.shutdown()  # shutdown_request on the control channel; killed below if it lingers
                except Exception:
                    log.debug("_teardown: caught and carried on", exc_info=True)
            loop = asyncio.get_running_loop()
            if not now:
                for _ in range(40):
                    if not pid_alive(pid):
                        break
                    await asyncio.sleep(0.05)
            if kc is not None:
                try:
                    kc.stop_channels()
                except Exception:
                    log.debug("_teardown: caught and carried on", exc_info=True)
            await loop.run_in_executor(None, kill_pid, pid)
            _reg.cleanup_files(getattr(self, "_attached_entry", {}) or {})
            self.reattached = False
            self._setup_hashes = set()
            return
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:
                log.debug("_teardown: caught and carried on", exc_info=True)
        if km is not None:
            try:
                if await km.is_alive() or km.has_kernel:
                    await km.shutdown_kernel(now=now)
            except Exception:
                log.debug("_teardown: caught and carried on", exc_info=True)
                try:
                    await km.kill_kernel()
                except Exception:
                    log.debug("_teardown: caught and carried on", exc_info=True)
            try:
                await km.cleanup_resources()
            except Exception:
                log.debug("_teardown: caught and carried on", exc_info=True)

    async def _restart(self) -> None:
        self.generation += 1  # stops the watcher, marks running executions as stale
        msg = "the kernel was restarted"
        for ex in list(self._execs.values()):
            if not ex.finished.done():
                ex.finished.set_result(ExecResult("interrupted", ex.execution_count, message=msg))
        self._execs.clear()
        self._set_state("starting")
        self._setup_done.clear()
        await self._relaunch()

    async def _relaunch(self) -> None:
        """A fresh kernel process for a restart."""
        await self._teardown(now=True)
        await self._start()

    async def _adopt(self) -> None:
        """A spare kernel becomes this lesson's: same cwd and FM_TUTOR_KERNEL as a kernel started for it."""
        code = self._adopt_code()
        async with self.locked():
            await self.run(code, 30, None, store_history=False)
            if self.ctx.detach_idle > 0 and self.pid is not None:  # registered as the spare: now the lesson's
                self._release(f"_spare-{self.pid}")
                self._claim()

    def _adopt_code(self) -> str:
        return (f"import os as _o; _o.chdir({self.cwd or os.getcwd()!r}); "
                f"_o.environ[{ENV_KERNEL!r}] = {self.name!r}; del _o")

    async def _detach(self) -> dict | None:
        """Let go of a live kernel without stopping it -> its registry entry (None if it is not alive)."""
        # no state callbacks from here on: the app may be blocked in detach_all() (call_from_thread would hang)
        self._listeners.clear()
        self._closing = True
        self.generation += 1
        pid = self.pid
        alive = self._state != "dead" and pid is not None and pid_alive(pid)
        if not alive or self.connection_file is None:
            self._closing = False
            await self._close()
            return None
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        for ex in list(self._execs.values()):
            if not ex.finished.done():
                ex.finished.set_result(ExecResult("died", message="the app detached from the kernel"))
        self._execs.clear()
        if self._kc is not None:
            try:
                self._kc.stop_channels()
            except Exception:
                log.debug("_detach: caught and carried on", exc_info=True)
            self._kc = None
        km = self._km
        if km is not None:  # keep the connection file: KernelManager.__del__ would remove it
            keep_connection_file(km)
        self._km = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._set_state("dead")
        self._pid = pid  # for _entry(); the kernel is let go right after
        entry = self._entry(None, time.time())
        self._pid = None
        return entry

    async def _close(self, now: bool = False) -> None:
        self._closing = True
        self.generation += 1
        for ex in list(self._execs.values()):
            if not ex.finished.done():
                ex.finished.set_result(ExecResult("died", message="the kernel was shut down"))
        self._execs.clear()
        await self._teardown(now=now)
        self._set_state("dead")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
