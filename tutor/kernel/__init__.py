"""Code-cell execution: a pool of ipykernels (one per lesson) driven by jupyter_client's async API.

No Textual here: this package runs in the TUI process and in the CLI (``fm-tutor run-cells``).

Kernel I/O runs on the pool's own asyncio loop in a daemon thread, so a flood of output never starves the
UI loop. Every public method is thread-safe and returns a ``concurrent.futures.Future`` (use
``asyncio.wrap_future`` or the ``a*`` wrappers from Textual's loop). Callbacks (``on_event``, state
listeners) run on the kernel thread: keep them short (append to an OutputBuffer, set a flag,
``app.call_from_thread``).

API::

    pool = KernelPool(runtime_dir=None, keep_alive=0.0, env=None, transport="ipc", start_timeout=60.0,
                      spare=False,                        # spare=True keeps one kernel warm: start() adopts it
                      detach_idle=0.0)                    # > 0: kernels can outlive the app (see below)
    k = pool.start(lesson_id, cwd=None) -> Kernel        # background start, idempotent; cancels a delayed shutdown;
                                                          # reattaches to a detached kernel of the lesson if any
    pool.kernel(lesson_id) -> Kernel | None
    pool.shutdown(lesson_id, delay=None) -> Future[bool]  # delay defaults to keep_alive; False if start() cancelled it
    pool.shutdown_all(timeout=10.0)                       # blocking; also registered with atexit
    pool.detach_all(timeout=10.0) -> [lesson_id]          # blocking; live kernels keep running, recorded for the
                                                          # next pool (shutdown_all() when detach_idle == 0)
    pool.cull_detached(max_idle) -> [lesson_id]           # stop kernels detached longer than max_idle s
    pool.submit(coro) -> Future                           # run a coroutine on the kernel loop

    k.state                       # "starting" | "idle" | "busy" | "dead"; k.exit_code, k.start_error, k.pid
    k.reattached                  # True: a kernel a previous app detached (variables kept; setup cells not rerun)
    k.add_state_listener(cb)      # cb(kernel, state), on the kernel thread
    k.ready                       # Future[Kernel], resolved when the first start finished; k.wait_ready(timeout)
    k.log_path, k.connection_file # the kernel's stdout/stderr log; its 0600 connection file
    k.execute(code, timeout=None, on_event=None, setup=None, store_history=True) -> Future[ExecResult]
    await k.aexecute(...)         # same, awaitable from any asyncio loop
    k.interrupt() -> Future[None];  k.restart() -> Future[None] (state cleared, setup cells re-armed)

    run_exercise(kernel, learner_code, check_code, timeout=None, on_event=None, setup=None) -> Future[Grade]

``setup`` is a sequence of code strings or Cells (their ``timeout`` is used); each runs once per kernel
life before the cell, in order; a failure returns that setup cell's result with ``setup_failed=True``.
``on_event(event)`` receives Stream(name, text), Display(data, metadata), Result(data, execution_count),
Error(ename, evalue, traceback), ClearOutput(wait). ``ExecResult.status`` is "ok" | "error" | "timeout" |
"died" | "interrupted", with ``execution_count``, ``duration``, ``error`` and a readable ``message``.

Kernels start from a private kernelspec (absolute ``sys.executable``, ``ipykernel_launcher``) written into a
0700 runtime dir (default: a subdir of platformdirs' user_runtime_dir("fm-tutor")); transport is ipc (tcp on
127.0.0.1 when the socket path would be too long); the kernel's stdout/stderr go to ``kernel-<id>.log`` and
stdin is /dev/null, so nothing is ever written over the terminal. Liveness is polled every 0.5 s: a dead
kernel resolves the running cell with status "died" within ~1 s.

Detaching (``detach_idle > 0``): kernels are launched independent (own session, no parent poller), so they
survive the app being hung up or killed. ``detach_all()`` records each live kernel in ``detached.json`` in the
base runtime dir (:mod:`tutor.kernel.detach`) and lets go of it without a shutdown. The next pool's ``start()``
connects a client from the recorded connection file (liveness by pid; interrupt by SIGINT to the pid's process
group; restart kills it and starts a fresh managed kernel). A new pool first culls kernels detached longer than
``detach_idle``. With ``detach_idle == 0`` (the default) the registry is never read or written.

Remote kernels (``KernelPool(remote=RemoteHost(...))``, :mod:`tutor.kernel.remote`): every kernel runs on another
machine, started there by ``fm-tutor kernel-agent`` (:mod:`tutor.kernel.agent`) over SSH, its ports forwarded
over the same connection; the API above is unchanged (``k.remote_pid``, ``k.remote_info`` say where it runs).
Such a pool never detaches its kernels.
"""
from __future__ import annotations

import importlib

# Names resolve lazily (PEP 562): importing tutor.kernel.outputs (the widgets do, for OutputBuffer) must not load
# the pool and jupyter_client.
_EXPORTS = {
    "ClearOutput": "events", "Display": "events", "Error": "events", "Event": "events", "ExecResult": "events",
    "Result": "events", "Stream": "events", "describe_exit": "events", "strip_ansi": "events",
    "Grade": "grading", "arun_exercise": "grading", "run_exercise": "grading",
    "OutputBuffer": "outputs", "RichSegment": "outputs", "TextSegment": "outputs",
    "Kernel": "kernel", "KernelContext": "kernel", "KernelPool": "pool", "default_runtime_dir": "spec",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'tutor.kernel' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tutor.kernel.{mod}"), name)
