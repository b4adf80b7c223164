"""The remote side of ``fm-tutor --kernel-host``: ``fm-tutor kernel-agent``, run over SSH. No Textual here.

The local tutor runs ``ssh HOST <remote_command> kernel-agent --lesson ID``. The agent starts one ipykernel on
this machine (TCP, bound to 127.0.0.1, free ports, the tutor's own Python, its output in a log file), waits
until it answers, and speaks line-JSON on its stdin/stdout (nothing else is ever written to stdout):

    agent -> {"ready": {shell_port, iopub_port, control_port, stdin_port, hb_port, key, signature_scheme, ...},
              "pid": KERNEL_PID, "agent_pid": PID, "host": HOSTNAME, "cwd": DIR}      (again after a restart)
    agent -> {"error": "why the kernel could not start"}                               (then it exits 1)
    agent -> {"event": "died", "exit_code": N}                                        (the kernel died)
    tutor -> {"cmd": "interrupt"} | {"cmd": "restart"} | {"cmd": "shutdown"}

The tutor forwards the kernel's ports over the same SSH connection and talks to it with jupyter_client as it
would to a local kernel. End of input (the tutor stopped, or the SSH connection dropped), SIGHUP or SIGTERM
shut the kernel down and end the agent; the kernel also exits by itself if the agent is killed (ipykernel
watches its parent). The kernel gets ``FM_TUTOR_KERNEL_AGENT`` = the agent's pid in its environment.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tutor.core.internals import kernel_process
from tutor.kernel.sockets import shared_context
from tutor.core.config import ENV_KERNEL_AGENT

log = logging.getLogger(__name__)

POLL = 0.5  # seconds between liveness checks of the kernel


class _Agent:
    def __init__(self, lesson: str, cwd: str | None, start_timeout: float, out) -> None:
        self.lesson = lesson
        self.cwd = cwd or os.path.expanduser("~")
        self.start_timeout = start_timeout
        self.out = out
        self.km = None
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.restarting = False
        self.died_reported = False

    def send(self, msg: dict) -> None:
        try:
            self.out.write(json.dumps(msg) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):  # the tutor is gone: the stdin EOF ends us
            pass

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except (OSError, AttributeError):
            return ""

    async def start(self) -> None:
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        from tutor.kernel.spec import KERNEL_NAME, default_runtime_dir, kernel_env, private_dir, write_kernelspec

        self.workdir = private_dir(default_runtime_dir() / f"agent-{os.getpid()}")
        km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(write_kernelspec(self.workdir))]),
                                context=shared_context())
        km.connection_file = str(self.workdir / "kernel.json")
        km.transport = "tcp"
        km.ip = "127.0.0.1"
        km.shutdown_wait_time = 2.0
        self.km = km
        self.log_path = self.workdir / "kernel.log"
        log = open(self.log_path, "ab", buffering=0)
        env = kernel_env(self.lesson, {ENV_KERNEL_AGENT: str(os.getpid())})
        await km.start_kernel(env=env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.chmod(km.connection_file, 0o600)
        await self.wait_ready()

    async def wait_ready(self) -> None:
        kc = self.km.client(context=shared_context())
        kc.start_channels(stdin=False, hb=False)
        try:
            await kc.wait_for_ready(timeout=self.start_timeout)
        finally:
            kc.stop_channels()
        info = self.km.get_connection_info(session=False)
        info = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}
        self.died_reported = False
        self.send({"ready": info, "pid": self.pid(), "agent_pid": os.getpid(), "host": socket.gethostname(),
                   "cwd": self.cwd})

    def pid(self) -> int | None:
        return getattr(kernel_process(self.km), "pid", None)

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            if self.restarting or self.died_reported:
                continue
            if not await self.km.is_alive():
                proc = kernel_process(self.km)
                self.died_reported = True
                self.send({"event": "died", "exit_code": proc.poll() if proc is not None else None})

    async def restart(self) -> None:
        self.restarting = True
        try:
            await self.km.restart_kernel(now=True)  # same ports: the tutor's forwards stay valid
            await self.wait_ready()
        finally:
            self.restarting = False

    async def serve(self) -> None:
        """Answer commands until shutdown, end of input, SIGHUP or SIGTERM."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue = asyncio.Queue()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(sig, lines.put_nowait, "")

        def read() -> None:  # a daemon thread: a blocked read never holds up the exit
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read, name="agent-stdin", daemon=True).start()
        watcher = asyncio.ensure_future(self.watch())
        try:
            while True:
                line = await lines.get()
                if not line:  # EOF (the tutor or the connection is gone) or a signal
                    return
                try:
                    cmd = json.loads(line).get("cmd")
                except (ValueError, AttributeError):
                    continue
                if cmd == "interrupt":
                    try:
                        await self.km.interrupt_kernel()
                    except Exception:
                        log.debug("serve: caught and carried on", exc_info=True)
                elif cmd == "restart":
                    try:
                        await self.restart()
                    except Exception as e:  # noqa: BLE001 - reported, the tutor shows it
                        log.debug("serve: reported, the tutor shows it", exc_info=True)
                        self.send({"error": f"the kernel could not restart: {type(e).__name__}: {e}",
                                   "log": self.log_tail()})
                elif cmd == "shutdown":
                    return
        finally:
            watcher.cancel()

    async def shutdown(self) -> None:
        if self.km is not None:
            try:
                await asyncio.wait_for(self.km.shutdown_kernel(now=True), 10)
            except Exception:
                log.debug("shutdown: caught and carried on", exc_info=True)
            try:
                await self.km.cleanup_resources()
            except Exception:
                log.debug("shutdown: caught and carried on", exc_info=True)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


async def _amain(agent: _Agent) -> int:
    try:
        await agent.start()
    except Exception as e:  # noqa: BLE001 - every start failure goes back to the tutor as a message
        log.debug("_amain: every start failure goes back to the tutor as a message", exc_info=True)
        agent.send({"error": f"{type(e).__name__}: {e}", "log": agent.log_tail()})
        await agent.shutdown()
        return 1
    try:
        await agent.serve()
    finally:
        await agent.shutdown()
    return 0


def main(lesson: str, cwd: str | None = None, start_timeout: float = 60.0) -> int:
    """Run the agent (``fm-tutor kernel-agent``): the protocol on the real stdout, anything else to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # a stray print (a library's warning) must not corrupt the protocol stream
    sys.stdout = sys.stderr
    if cwd and not os.path.isdir(cwd):
        out.write(json.dumps({"error": f"no directory {cwd} on {socket.gethostname()}"}) + "\n")
        return 1
    return asyncio.run(_amain(_Agent(lesson, cwd, start_timeout, out)))
