"""KernelPool: one ipykernel per lesson, driven by jupyter_client's async API on a private event loop.

See the package docstring (:mod:`tutor.kernel`) for the public API. No Textual here.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path

from tutor.core.procs import kill_pid
from tutor.core.internals import kernel_process
from tutor.kernel import detach as _reg
from tutor.kernel.kernel import Kernel, KernelContext
from tutor.kernel.spec import default_runtime_dir, private_dir, write_kernelspec

log = logging.getLogger(__name__)


def _quiet_at_exit(loop, context) -> None:
    """Tasks of a pool shut down while its process exits are dropped on purpose (their kernels were killed):
    asyncio's "Task was destroyed but it is pending" must not be printed over the learner's terminal."""
    if "destroyed but it is pending" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


class KernelPool:
    """Kernels by lesson id, all driven from one private asyncio loop in a daemon thread."""

    def __init__(self, runtime_dir: str | os.PathLike | None = None, keep_alive: float = 0.0,
                 env: dict[str, str] | None = None, transport: str = "ipc", start_timeout: float = 60.0,
                 spare: bool = False, detach_idle: float = 0.0, remote=None):
        from jupyter_client.kernelspec import KernelSpecManager

        self.remote = remote  # a tutor.kernel.remote.RemoteHost: kernels run there, over SSH (never detached)
        if remote is not None:
            detach_idle = 0.0

        base = Path(runtime_dir) if runtime_dir else default_runtime_dir()
        private_dir(base)
        self.base_dir = base
        self.detach_idle = float(detach_idle or 0.0)
        if self.detach_idle > 0:  # kernels a previous app detached and nobody came back for
            try:
                self.cull_detached(self.detach_idle)
            except Exception:
                log.debug("__init__: caught and carried on", exc_info=True)
        # one private sub-directory per pool: no clashes between two tutors, easy cleanup
        self.runtime_dir = private_dir(base / f"p{os.getpid()}-{uuid.uuid4().hex[:6]}")
        self.keep_alive = keep_alive
        self.env = dict(env or {})
        self.transport = transport
        self.start_timeout = start_timeout
        self._ksm = KernelSpecManager(kernel_dirs=[str(write_kernelspec(self.runtime_dir))])
        self._kernels: dict[str, Kernel] = {}
        self._pending_close: dict[str, tuple[asyncio.TimerHandle, concurrent.futures.Future]] = {}
        self._close_gen: dict[str, int] = {}
        self._close_lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_at_exit)
        self._thread = threading.Thread(target=self._loop.run_forever, name="fm-tutor-kernels", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        self._atexit = lambda: (ref() and ref().shutdown_all(timeout=5))
        atexit.register(self._atexit)
        self._context = KernelContext(runtime_dir=self.runtime_dir, base_dir=self.base_dir, env=self.env,
                                      transport=transport, start_timeout=start_timeout,
                                      detach_idle=self.detach_idle, spec_manager=self._ksm, submit=self.submit,
                                      remote=remote)
        self.spare = spare
        self._inflight: set[concurrent.futures.Future] = set()
        self._closing_kernels: set[Kernel] = set()
        self._spare: Kernel | None = None
        if spare:
            self._spawn_spare()

    def _boot(self, k: Kernel) -> None:
        async def boot():
            k._lock = asyncio.Lock()
            k._started = asyncio.Event()
            await k._start()

        self.submit(boot())

    def _spawn_spare(self) -> None:
        """Keep one unassigned kernel warming up, so the next start() is (nearly) instant."""
        if self._closed:
            return
        self._spare = self._new_kernel("_spare", None)
        self._boot(self._spare)

    def _new_kernel(self, name: str, cwd: str | None) -> Kernel:
        if self.remote is not None:
            from tutor.kernel.remote import RemoteKernel

            return RemoteKernel(self._context, name, cwd)
        return Kernel(self._context, name, cwd)

    # ---------------------------------------------------------------- plumbing
    def submit(self, coro: Coroutine) -> concurrent.futures.Future:
        """Run a coroutine on the kernel loop -> concurrent.futures.Future."""
        if self._closed:
            coro.close()
            raise RuntimeError("the kernel pool is shut down")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, fn: Callable, *args) -> None:
        self._loop.call_soon_threadsafe(fn, *args)

    @property
    def kernels(self) -> dict[str, Kernel]:
        return dict(self._kernels)

    # ---------------------------------------------------------------- API
    def start(self, lesson_id: str, cwd: str | os.PathLike | None = None) -> Kernel:
        """Start (in the background) or return the kernel for ``lesson_id``. Idempotent."""
        k = self._kernels.get(lesson_id)
        with self._close_lock:  # cancel a delayed shutdown of this lesson's kernel
            self._close_gen[lesson_id] = self._close_gen.get(lesson_id, 0) + 1
            pending = self._pending_close.pop(lesson_id, None)
        if pending is not None:
            self._loop.call_soon_threadsafe(pending[0].cancel)
            if not pending[1].done():
                pending[1].set_result(False)
        if k is not None and not k._closing:
            return k
        entry = None
        if self.detach_idle > 0:
            try:
                entry = _reg.take(self.base_dir, lesson_id)
            except Exception:
                log.debug("start: caught and carried on", exc_info=True)
                entry = None
        if entry is not None:  # a kernel a previous app detached: connect to it, same variables
            k = Kernel(self._context, lesson_id, entry.get("cwd") or (str(cwd) if cwd else None))
            k.reattached = True
            k._pid = int(entry["pid"])
            k.connection_file = entry["connection_file"]
            self._kernels[lesson_id] = k

            async def attach():
                k._lock = asyncio.Lock()
                k._started = asyncio.Event()
                await k._attach(entry)

            self.submit(attach())
            return k
        sp = self._spare
        if sp is not None and sp.state in ("starting", "idle"):
            # adopt the warm spare: move it to the lesson's directory, then warm a new spare
            self._spare = None
            sp.name = lesson_id
            sp.cwd = str(cwd) if cwd else None
            self._kernels[lesson_id] = sp
            self.submit(sp._adopt())
            self._spawn_spare()
            return sp
        k = self._new_kernel(lesson_id, str(cwd) if cwd else None)
        self._kernels[lesson_id] = k
        self._boot(k)
        return k

    def kernel(self, lesson_id: str) -> Kernel | None:
        return self._kernels.get(lesson_id)

    def shutdown(self, lesson_id: str, delay: float | None = None, now: bool = True) -> concurrent.futures.Future:
        """Shut a lesson's kernel down after ``delay`` seconds (default: keep_alive) -> Future[bool]: True once
        closed, False if a start() of the same lesson cancelled it first (or there was no kernel)."""
        delay = self.keep_alive if delay is None else delay
        done: concurrent.futures.Future = concurrent.futures.Future()
        k = self._kernels.get(lesson_id)
        if k is None:
            done.set_result(False)
            return done
        with self._close_lock:
            gen = self._close_gen.get(lesson_id, 0)

        async def close():
            with self._close_lock:
                if self._close_gen.get(lesson_id, 0) != gen:  # start() came in between
                    return False
                self._pending_close.pop(lesson_id, None)
                if self._kernels.get(lesson_id) is k:
                    del self._kernels[lesson_id]
            self._closing_kernels.add(k)
            try:
                await k._close(now=now)  # a left lesson's state is discarded anyway: no need to wait for a graceful exit
            finally:
                self._closing_kernels.discard(k)
            return True

        def fire():
            f = self.submit(close())
            self._inflight.add(f)
            f.add_done_callback(self._inflight.discard)
            f.add_done_callback(lambda f: done.done() or (done.set_result(f.result()) if f.exception() is None
                                                          else done.set_exception(f.exception())))

        if delay and delay > 0:
            def schedule():
                with self._close_lock:
                    if self._close_gen.get(lesson_id, 0) == gen:
                        self._pending_close[lesson_id] = (self._loop.call_later(delay, fire), done)
                if not done.done() and self._close_gen.get(lesson_id, 0) != gen:
                    done.set_result(False)
            self._loop.call_soon_threadsafe(schedule)
        else:
            fire()
        return done

    def cull_detached(self, max_idle: float) -> list[str]:
        """Stop the kernels detached (in this pool's base runtime dir) longer than ``max_idle`` s -> lesson ids."""
        return _reg.cull(self.base_dir, max_idle)

    def detach_all(self, timeout: float = 10.0) -> list[str]:
        """Let go of every live kernel without stopping it, recording it in the registry for the next app, and
        stop the loop thread (blocking; safe to call twice) -> the lesson ids detached. The spare is shut down.
        A pool created with ``detach_idle == 0`` cannot detach (its kernels die with the app): this is
        shutdown_all() then."""
        if self._closed:
            return []
        if self.detach_idle <= 0:
            self.shutdown_all(timeout)
            return []
        kernels = dict(self._kernels)
        spare = self._spare
        self._kernels.clear()
        self._spare = None

        entries: dict = {}  # filled as kernels are let go: a timeout still registers those already detached

        async def detach():
            for h, _ in self._pending_close.values():
                h.cancel()
            self._pending_close.clear()
            for lesson_id, k in kernels.items():
                try:
                    e = await k._detach()
                except Exception:
                    log.debug("detach_all: caught and carried on", exc_info=True)
                    e = None
                if e is not None:
                    entries[lesson_id] = e
            if spare is not None:
                await spare._close()

        try:
            asyncio.run_coroutine_threadsafe(detach(), self._loop).result(timeout)
        except Exception:
            log.debug("detach_all: caught and carried on", exc_info=True)
        entries = dict(entries)
        if entries:
            try:
                busy = _reg.put(self.base_dir, entries)
            except Exception:
                log.debug("detach_all: caught and carried on", exc_info=True)
                busy = list(entries)
            for key in busy:  # another running tutor holds a kernel for the lesson: ours is not kept
                kill_pid(entries[key]["pid"])
                _reg.cleanup_files(entries.pop(key))
        self._stop_loop()
        if not entries:  # nothing detached from this pool: its dir goes (a detached kernel's files stay)
            import shutil

            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        return sorted(entries)

    def _stop_loop(self) -> None:
        """The pool is closed: stop its loop thread and drop its exit hook."""
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2)
        atexit.unregister(self._atexit)  # never raises (an unknown function is ignored)

    def shutdown_all(self, timeout: float = 10.0, now: bool = False) -> None:
        """Shut every kernel down and stop the loop thread (blocking; safe to call twice). ``now`` kills the
        kernels instead of asking them to shut down (what an exiting app wants: their state is discarded)."""
        if self._closed:
            return
        kernels = list(self._kernels.values()) + ([self._spare] if self._spare is not None else [])
        self._kernels.clear()
        self._spare = None
        inflight = list(self._inflight)
        if now:  # an exiting app: kill the processes first, so nothing below waits on a slow or starting kernel
            for k in kernels + list(self._closing_kernels):
                proc = kernel_process(k._km)
                try:
                    if proc is not None and proc.poll() is None:
                        proc.kill()
                except Exception:
                    log.debug("shutdown_all: caught and carried on", exc_info=True)

        async def close_all():
            for h, _ in self._pending_close.values():
                h.cancel()
            self._pending_close.clear()
            await asyncio.gather(*(k._close(now=now) for k in kernels), return_exceptions=True)
            # shutdowns already under way (a lesson just left) finish too
            await asyncio.gather(*(asyncio.wrap_future(f) for f in inflight), return_exceptions=True)
            # whatever else still runs (liveness pollers) is cancelled, so nothing is destroyed pending at exit
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout)
        except Exception:
            # whatever did not finish in time is cancelled on the loop, so no task is left pending at exit
            log.debug("shutdown_all: caught and carried on", exc_info=True)
            def cancel_all():
                for t in asyncio.all_tasks(self._loop):
                    t.cancel()

            self._loop.call_soon_threadsafe(cancel_all)
            time.sleep(0.2)
        self._stop_loop()
        try:
            import shutil

            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        except Exception:
            log.debug("shutdown_all: caught and carried on", exc_info=True)

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown_all()
