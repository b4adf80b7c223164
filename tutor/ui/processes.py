"""The processes beside the UI, mixed into :class:`tutor.ui.app.TutorApp`: the model server (started a second after
the first paint, its state in the key bar, detached or stopped at the end), the GPU probe, the lesson kernels' end
(detached for the next fm-tutor or shut down, on exit and on hang-up: SIGHUP), and the signals that look into a
frozen screen (``kill -USR2``).

The app keeps what it is built with (``services``, ``config``, ``store``, ``_server``, ``_kernels``,
``kernel_detach_idle``, ``exit_notes``, ``model_status``); these methods work on those.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _idle_words(seconds: float) -> str:
    """1800 -> "30 min", 90 -> "90 s", 7200 -> "2 h"."""
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s / 3600:g} h"


class ProcessLifecycle:
    """The model server, the GPU probe, the kernels' end and the state dumps of the app (a mixin of ``TutorApp``)."""

    # ------------------------------------------------------------------ model server
    def start_model_server(self) -> None:
        """Start the local OpenAI-compatible server (transformers serve, or vLLM on a CUDA GPU) in the background."""
        from tutor.backend.endpoint import ServerError

        if self.model_server is not None or self._server is None:
            return
        try:
            # detach_idle > 0: the server outlives the app (exit, hang-up) and the next app adopts it
            self.model_server = self._server()
            self.model_server.add_listener(self._server_state)
            self.model_server.start(wait=False)
        except (ServerError, LookupError, OSError) as e:
            self.model_status = f"model: failed ({e})"
            self.notify(f"The model server could not start: {e}", severity="error", timeout=15)
            self._refresh_status()
            return
        message = self.model_server.reattached_message()
        if message:
            self.notify(message, timeout=10)

    def _release_model_server(self) -> None:
        """Detach the model server (detach_idle > 0: it keeps running for the next app) or stop it."""
        if self.model_server is None:
            return
        try:
            if self.kernel_detach_idle > 0:
                srv = self.model_server
                pid, rss = srv.pid, srv.rss()
                if srv.detach():
                    from tutor.core.procs import fmt_bytes

                    mem = f", {fmt_bytes(rss)}" if rss else ""
                    self.exit_notes.append(
                        f"The model server ({Path(str(srv.model_name)).name}, {srv.engine}, pid {pid}{mem}) keeps "
                        f"running detached for {_idle_words(self.kernel_detach_idle)} idle, for the next fm-tutor; "
                        f"stop it now with `fm-tutor kernels stop --server`.")
            else:
                self.model_server.stop()
        except Exception:  # its atexit hook stops it
            log.debug("_release_model_server: its atexit hook stops it", exc_info=True)

    def _server_state(self, st) -> None:  # on the server's monitor thread
        engine = st.engine or "?"
        device = "cuda" if engine == "vllm" else "cpu"
        name = Path(str(self.config.model)).name
        label = {"starting": f"starting {st.elapsed:.0f}s", "loading": f"loading {st.elapsed:.0f}s"}.get(st.state.value, st.state.value)
        if st.rss and st.state.value == "ready":  # the server's resident memory (its KV cache is bounded)
            from tutor.core.procs import fmt_bytes

            label += f" · {fmt_bytes(st.rss)}"
        text = f"model {label} · {name} · {engine} · {device}"  # state and memory first: they survive truncation
        try:
            self.call_from_thread(self._set_model_status, text, st.state.value, st.reason)
        except RuntimeError:  # the app is gone (exit in progress)
            pass

    def _set_model_status(self, text: str, state: str, reason: str | None) -> None:
        changed_to_failed = state == "failed" and "failed" not in self.model_status
        self.model_status = text
        self._refresh_status()
        if changed_to_failed:
            self.notify(f"The model server failed: {reason}. `fm-tutor doctor` says more.", severity="error", timeout=15)

    def _refresh_status(self) -> None:
        from tutor.widgets.key_bar import KeyBar

        for bar in self.screen.query(KeyBar):
            bar.redraw()

    # ------------------------------------------------------------------ GPU probe
    def _probe_gpu(self) -> None:
        import shutil
        import subprocess

        exe = shutil.which("nvidia-smi")
        if not exe:
            return
        try:
            out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return
        if out.returncode == 0 and "GPU" in out.stdout:
            self.call_from_thread(setattr, self, "gpu_available", True)


    # ------------------------------------------------------------------ kernels and the app's end
    def _cull_detached(self, kernels: bool = True) -> None:
        from tutor.backend import detached as server_detach
        from tutor.core.config import runtime_dir
        from tutor.kernel import default_runtime_dir
        from tutor.kernel.detach import cull

        if kernels:
            cull(default_runtime_dir(), self.kernel_detach_idle)
        server_detach.cull(runtime_dir(), self.kernel_detach_idle)

    def _install_hangup(self) -> None:
        """On SIGHUP (the terminal went away) detach the lesson kernels and the model server, then exit (Textual
        leaves SIGHUP alone)."""
        import asyncio
        import signal

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)
            self._hangup_installed = True
        except (RuntimeError, ValueError, NotImplementedError, AttributeError):  # not the main thread / no SIGHUP
            pass

    def _hangup(self) -> None:
        # first: nothing below may write to the gone terminal before the kernels and the server are safe
        self._release_model_server()
        self._stop_kernels()
        if not self.is_headless:
            self._after_hangup()
        try:
            self.store.flush()
        except Exception:
            log.debug("_hangup: caught and carried on", exc_info=True)
        self.exit(return_code=129)

    @staticmethod
    def _after_hangup() -> None:
        """The terminal is gone: what Textual still writes while it shuts down goes to /dev/null (a write to the
        hung-up terminal fails, kills Textual's writer thread and leaves its shutdown waiting on it for good), and
        should the shutdown block anyway, the process exits after 15 s (kernels and server are safe by then)."""
        import threading

        try:
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(null, fd)
            os.close(null)
        except OSError:
            pass
        timer = threading.Timer(15.0, os._exit, args=(129,))
        timer.daemon = True
        timer.start()

    def detaching_on_exit(self) -> bool:
        """True while the app shuts down with detach_idle > 0: screens leave their kernels to on_unmount."""
        return self.kernel_detach_idle > 0 and not self.is_running

    def _stop_kernels(self) -> None:
        """Detach the lesson kernels (detach_idle > 0) or shut them down."""
        if self._kernels is None:
            return
        try:
            if self.kernel_detach_idle > 0:
                lessons = self._kernels.detach_all(timeout=5)
                if lessons:
                    self.exit_notes.append(
                        f"{len(lessons)} lesson kernel{'s' if len(lessons) > 1 else ''} ({', '.join(sorted(lessons))}) "
                        f"{'keep' if len(lessons) > 1 else 'keeps'} running detached for "
                        f"{_idle_words(self.kernel_detach_idle)} idle, with {'their' if len(lessons) > 1 else 'its'} "
                        f"variables; `fm-tutor kernels` lists them, `fm-tutor kernels stop --all` stops everything.")
            else:
                self._kernels.shutdown_all(timeout=2, now=True)
        except Exception:  # the atexit hook of the pool tries again
            log.debug("_stop_kernels: the atexit hook of the pool tries again", exc_info=True)

    # ------------------------------------------------------------------ looking into a frozen screen
    def _dump_state_on_usr2(self) -> None:
        """``kill -USR2 PID``: the UI's state and every asyncio task's stack, appended to the stacks file beside the
        log (``kill -USR1`` gives the threads' stacks): what a frozen screen waits for."""
        import signal

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, self._dump_state)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):  # not on this platform/thread
            log.debug("no UI state dump on SIGUSR2", exc_info=True)

    def _dump_state(self) -> None:
        from tutor.core.internals import ui_state
        from tutor.core.logs import stacks_path

        try:
            with open(stacks_path(), "a", encoding="utf-8") as f:
                f.write(f"--- UI state at {time.strftime('%H:%M:%S')}\n")
                for k, v in ui_state(self).items():
                    f.write(f"{k}: {v}\n")
                for task in asyncio.all_tasks():
                    f.write(f"task {task.get_name()}: {task.get_coro()!r}\n")
                    task.print_stack(limit=12, file=f)
        except OSError:
            log.warning("could not write the UI state dump", exc_info=True)
