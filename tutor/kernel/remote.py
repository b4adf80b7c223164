"""Lesson kernels on another machine over SSH (``fm-tutor --kernel-host [user@]host``). No Textual here.

A :class:`KernelPool` created with ``remote=RemoteHost(...)`` makes :class:`RemoteKernel` s. Each one runs::

    ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o ControlMaster=yes -o ControlPath=<local socket> [-p PORT]
        [-i KEY] [ssh_options] [user@]host '<remote_command> kernel-agent --lesson ID'

The agent (:mod:`tutor.kernel.agent`) starts an ipykernel on the remote machine bound to 127.0.0.1 and prints its
ports and key; the kernel's shell, iopub and control ports are then forwarded to free local ports through the
same SSH connection (``ssh -O forward -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE``), and jupyter_client talks to them
as to a local kernel: cells, output, grading and the reader are unchanged. One SSH authentication per kernel.

- liveness: the agent reports ``{"event": "died"}`` when the kernel dies; the SSH process ending means the
  connection was lost. Either resolves a running cell with "died" within a second.
- interrupt / restart: commands to the agent (SIGINT to the kernel; a restart on the same ports, so the
  forwards stay). If the agent is gone, a restart reconnects: a new SSH connection and a fresh kernel.
- stop: ``{"cmd": "shutdown"}`` then end of input; the agent shuts the kernel down, and also does so when
  the connection drops. Remote kernels are never detached (``detach_idle`` does not apply).
- the local working directory means nothing there: remote kernels run in the remote user's home directory.
- failures become the kernel's ``start_error`` (what a cell shows), in words: host unreachable, authentication
  refused (BatchMode: never a password prompt, the TUI owns the terminal), unknown host key, fm-tutor missing.

ssh's own output goes to ``kernel-<id>.log`` in the pool's runtime dir, never to the terminal.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shlex
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tutor.core.config import check_host
from tutor.core.errors import TutorError
from tutor.kernel.events import died_message
from tutor.kernel.kernel import Kernel, KernelContext
from tutor.kernel.sockets import shared_context
from tutor.core.config import ENV_KERNEL

log = logging.getLogger(__name__)

CHANNELS = ("shell", "iopub", "control")  # what the pool's client uses (no stdin, no heartbeat)


class RemoteError(TutorError, RuntimeError):
    """A remote kernel could not be started or reached; the message says why in words."""


@dataclass(frozen=True)
class RemoteHost:
    """Where and how to run remote kernels (see :meth:`from_config` for the settings)."""

    host: str  # [user@]host, or an alias from ~/.ssh/config
    remote_command: str = "fm-tutor"  # how to run fm-tutor there (a shell word: "~/venv/bin/fm-tutor" works)
    port: int = 0  # 0: ssh's default (or the ssh config's)
    identity: str = ""  # a private key file for -i (with IdentitiesOnly=yes)
    ssh_options: tuple[str, ...] = ()  # more ssh arguments, e.g. ("-o", "StrictHostKeyChecking=accept-new")
    connect_timeout: int = 10
    ssh: str = "ssh"

    def __post_init__(self) -> None:
        check_host(self.host)

    @classmethod
    def from_config(cls, cfg) -> RemoteHost | None:
        """The remote host of a :class:`tutor.core.config.Config` (kernel.host, kernel.remote_command,
        kernel.ssh_port, kernel.ssh_identity, kernel.ssh_options); None when kernels run locally."""
        k = cfg.kernel
        if not k.host.strip():
            return None
        return cls(k.host.strip(), k.remote_command.strip() or "fm-tutor", int(k.ssh_port), k.ssh_identity.strip(),
                   tuple(shlex.split(k.ssh_options)))

    def ssh_argv(self, control: str) -> list[str]:
        """ssh and the options every call shares (the control socket names the connection)."""
        argv = [self.ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3",
                "-o", "ControlPath=" + control.replace("%", "%%")]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity:
            argv += ["-i", os.path.expanduser(self.identity), "-o", "IdentitiesOnly=yes"]
        return argv + list(self.ssh_options)

    def agent_command(self, lesson: str, start_timeout: float) -> str:
        return f"{self.remote_command} kernel-agent --lesson {shlex.quote(lesson)} --start-timeout {start_timeout:g}"

    def agent_argv(self, control: str, lesson: str, start_timeout: float) -> list[str]:
        return self.ssh_argv(control) + ["-o", "ControlMaster=yes", "-o", "ControlPersist=no", self.host,
                                         self.agent_command(lesson, start_timeout)]

    def forward_argv(self, control: str, pairs: dict[int, int]) -> list[str]:
        """Add ``local port -> remote port`` forwards (both on 127.0.0.1) to the running connection."""
        argv = self.ssh_argv(control) + ["-O", "forward"]
        for lport, rport in pairs.items():
            argv += ["-L", f"127.0.0.1:{lport}:127.0.0.1:{rport}"]
        return argv + [self.host]


def explain_failure(remote: RemoteHost, returncode: int | None, stderr: str) -> str:
    """Why ``ssh HOST agent`` ended before the kernel was ready, in words (ssh exits 255 on its own errors)."""
    host = remote.host
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not ln.startswith(("Warning: Permanently added", "**"))]
    last = lines[-1] if lines else ""
    if "Permission denied" in stderr:
        return (f"SSH authentication to {host} failed ({last}). fm-tutor runs ssh with BatchMode=yes, so it can "
                f"never ask for a password or passphrase: load your key into ssh-agent (ssh-add), or set "
                f"kernel.ssh_identity (FM_TUTOR_SSH_IDENTITY) to a key without a passphrase, and check that "
                f"`ssh {host} true` works without a prompt")
    if "Host key verification failed" in stderr or "IDENTIFICATION HAS CHANGED" in stderr:
        return (f"the SSH host key of {host} is not known (or changed): connect once with `ssh {host}` to check and "
                f"accept it, then try again")
    if returncode == 255:
        reason = re.sub(r"^ssh:\s*", "", last) or "ssh exited with code 255"
        return f"Cannot reach {host} over SSH: {reason}"
    if returncode in (126, 127) or "command not found" in stderr or "No such file or directory" in stderr:
        return (f"fm-tutor is not installed on {host} (or not on PATH for non-interactive shells): "
                f"`{remote.remote_command}` was not found there ({last or f'exit code {returncode}'}); install it "
                f"there or set kernel.remote_command (FM_TUTOR_REMOTE_COMMAND) to its full path")
    if "invalid choice: 'kernel-agent'" in stderr:
        return f"the fm-tutor on {host} is too old to run remote kernels (no kernel-agent command); upgrade it there"
    return f"the kernel agent on {host} exited with code {returncode}" + (f": {last}" if last else " and no message")


def _control_path(runtime_dir: Path) -> str:
    """A short path for ssh's control socket (unix socket paths are limited to ~100 bytes)."""
    name = f"ssh-{uuid.uuid4().hex[:10]}"
    path = str(runtime_dir / name)
    if len(path) > 90:  # one private directory per user, kept (ssh removes its sockets when it exits)
        short = Path(tempfile.gettempdir()) / f"fmssh-{os.getuid()}"
        short.mkdir(mode=0o700, exist_ok=True)
        if short.stat().st_uid != os.getuid() or short.stat().st_mode & 0o077:
            raise RemoteError(f"{short} is not a private directory of this user: remove it")
        path = str(short / name)
    return path


class RemoteKernel(Kernel):
    """A lesson kernel on :attr:`KernelPool.remote`, reached over SSH (see the module docstring)."""

    def __init__(self, ctx: KernelContext, name: str, cwd: str | None):
        super().__init__(ctx, name, cwd)
        self.remote: RemoteHost = ctx.remote
        self.remote_pid: int | None = None  # the kernel's pid on the remote machine
        self.remote_info: dict = {}  # host name, agent pid, cwd as the agent reported them
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._msgs: asyncio.Queue | None = None
        self._control: str | None = None
        self._log_offset = 0
        self._forwards: dict[str, tuple[int, int]] = {}  # channel -> (remote port, local port)
        self._remote_exit: int | None = None
        self._remote_dead = False
        self._lost: str | None = None  # why the SSH connection ended, once it did

    @property
    def host(self) -> str:
        return self.remote.host

    # ---------------------------------------------------------------- start
    async def _start(self) -> None:
        self._begin_start()
        try:
            await self._launch()
        except Exception as e:  # noqa: BLE001 - ssh itself could not be run
            log.debug("_start: ssh itself could not be run", exc_info=True)
            await self._start_failed(str(e) if isinstance(e, RemoteError) else f"cannot run {self.remote.ssh}: {e}")
            return
        await self._bring_up()

    async def _launch(self) -> None:
        ctx = self.ctx
        self.log_path = ctx.runtime_dir / f"kernel-{self.name}.log"
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab", buffering=0)
        self._log_offset = self._log_file.tell()
        self._control = _control_path(ctx.runtime_dir)
        self._remote_dead, self._remote_exit, self._lost = False, None, None
        self._forwards = {}
        argv = self.remote.agent_argv(self._control, self.name, ctx.start_timeout)
        # its own session: the terminal's signals (ctrl+c in run-cells, SIGHUP) do not cut the connection by surprise
        self._proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._log_file,
            start_new_session=True, limit=1 << 20)
        self._msgs = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read_agent(self._proc, self._msgs))

    async def _bring_up(self) -> None:
        """Wait for the agent's "ready", connect a client through forwarded ports; or fail with a reason."""
        try:
            await self._connect(await self._next_msg(self.ctx.start_timeout + self.remote.connect_timeout))
        except Exception as e:  # noqa: BLE001 - every failure becomes a dead kernel with a reason
            log.debug("_bring_up: every failure becomes a dead kernel with a reason", exc_info=True)
            await self._stop_agent(now=True)
            await self._start_failed(str(e) if isinstance(e, RemoteError) else f"{type(e).__name__}: {e}")
            return
        self.started_at = time.time()
        self._tasks.append(asyncio.ensure_future(self._watch(self._agent_alive)))
        self._started_ok()

    async def _read_agent(self, proc, msgs: asyncio.Queue) -> None:
        """The agent's stdout: "died" events are noted, everything else queued; None once it has ended."""
        try:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:  # a remote login script that prints something: not ours
                    continue
                if not isinstance(msg, dict):
                    continue
                if msg.get("event") == "died":
                    self._remote_exit = msg.get("exit_code")
                    self._remote_dead = True
                    continue
                msgs.put_nowait(msg)
            await proc.wait()
        finally:
            msgs.put_nowait(None)

    def _stderr(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")[-4000:]
        except (OSError, TypeError):
            return ""

    async def _next_msg(self, timeout: float) -> dict:
        """The agent's next message, or RemoteError saying why there is none."""
        try:
            msg = await asyncio.wait_for(self._msgs.get(), timeout)
        except asyncio.TimeoutError:
            raise RemoteError(f"no answer from fm-tutor on {self.host} within {timeout:g} s") from None
        if msg is None:
            rc = await self._proc.wait()
            raise RemoteError(explain_failure(self.remote, rc, self._stderr()))
        if "error" in msg:
            log = f"\n{msg['log']}" if msg.get("log") else ""
            raise RemoteError(f"the kernel could not start on {self.host}: {msg['error']}{log}")
        if "ready" not in msg:
            raise RemoteError(f"unexpected answer from fm-tutor on {self.host}: {msg}")
        return msg

    async def _connect(self, msg: dict) -> None:
        from jupyter_client.asynchronous import AsyncKernelClient

        info = msg["ready"]
        self.remote_pid = msg.get("pid")
        self.remote_info = {k: msg.get(k) for k in ("host", "agent_pid", "cwd")}
        wanted = {ch: int(info[f"{ch}_port"]) for ch in CHANNELS}
        if any(self._forwards.get(ch, (None,))[0] != rport for ch, rport in wanted.items()):
            self._forwards = await self._forward(wanted)
        conn = {"transport": "tcp", "ip": "127.0.0.1", "key": info["key"],
                "signature_scheme": info.get("signature_scheme", "hmac-sha256")}
        conn.update({f"{ch}_port": lport for ch, (_r, lport) in self._forwards.items()})
        kc = AsyncKernelClient(context=shared_context())
        kc.load_connection_info(conn)
        kc.allow_stdin = False
        kc.start_channels(stdin=False, hb=False, control=True)
        self._kc = kc
        await kc.wait_for_ready(timeout=self.ctx.start_timeout)
        self._tasks = [asyncio.ensure_future(self._read_iopub(kc)), asyncio.ensure_future(self._read_shell(kc))]

    async def _forward(self, ports: dict[str, int]) -> dict[str, tuple[int, int]]:
        """Forward the remote ports to free local ones over the agent's connection (a taken port: try again)."""
        from tutor.core.procs import free_port

        err = b""
        for _ in range(3):
            local = {ch: free_port() for ch in ports}
            pairs = {local[ch]: rport for ch, rport in ports.items()}
            p = await asyncio.create_subprocess_exec(
                *self.remote.forward_argv(self._control, pairs), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
            _, err = await p.communicate()
            if p.returncode == 0:
                return {ch: (ports[ch], local[ch]) for ch in ports}
        raise RemoteError(f"cannot forward the kernel's ports from {self.host} over SSH: "
                          f"{err.decode(errors='replace').strip() or 'ssh -O forward failed'}")

    # ---------------------------------------------------------------- liveness, interrupt, restart, stop
    async def _agent_alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None and not self._remote_dead

    async def _poll_exit(self) -> int | None:
        if self._remote_dead:
            return self._remote_exit
        proc = self._proc
        if proc is not None and proc.returncode is not None and self._lost is None:
            lines = [ln for ln in self._stderr().splitlines() if ln.strip()]
            self._lost = f"ssh exited with code {proc.returncode}" + (f": {lines[-1].strip()}" if lines else "")
        return None

    def _died_message(self, while_running: bool = True) -> str:
        if self._lost and not self._remote_dead:
            where = " while running this cell" if while_running else ""
            return (f"the SSH connection to {self.host} was lost{where} ({self._lost}); press R to reconnect "
                    f"(a fresh kernel)")
        return died_message(self.exit_code, while_running).replace("the kernel died", f"the kernel on {self.host} died")

    async def _send(self, cmd: str, proc=None) -> bool:
        proc = proc or self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return False
        try:
            proc.stdin.write(json.dumps({"cmd": cmd}).encode() + b"\n")
            await proc.stdin.drain()
            return True
        except (OSError, RuntimeError):  # the pipe broke: the connection is going
            return False

    async def _send_interrupt(self) -> None:
        if self._state != "dead":
            await self._send("interrupt")

    async def _relaunch(self) -> None:
        """Restart: the agent restarts the kernel on the same ports; without a live agent, reconnect."""
        self._drop_client()
        self._started.clear()
        self._remote_dead, self._remote_exit = False, None
        if not await self._send("restart"):  # the connection is gone
            await super()._relaunch()
            return
        await self._bring_up()

    def _drop_client(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        kc, self._kc = self._kc, None
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:
                log.debug("_drop_client: caught and carried on", exc_info=True)

    async def _teardown(self, now: bool = True) -> None:
        self._drop_client()
        await self._stop_agent(now)
        self.remote_pid = None

    async def _stop_agent(self, now: bool) -> None:
        """Ask the agent to shut the kernel down and end; end the SSH process if it lingers."""
        proc, self._proc = self._proc, None
        reader, self._reader = self._reader, None
        self._forwards = {}
        if proc is not None and proc.returncode is None:
            await self._send("shutdown", proc)
            try:
                proc.stdin.close()
            except Exception:
                log.debug("_stop_agent: caught and carried on", exc_info=True)
            try:
                await asyncio.wait_for(proc.wait(), 3.0 if now else 10.0)
            except asyncio.TimeoutError:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(proc.pid, sig)
                    except OSError:
                        break
                    try:
                        await asyncio.wait_for(proc.wait(), 2.0)
                        break
                    except asyncio.TimeoutError:
                        continue
        if reader is not None:
            reader.cancel()
        if self._control:
            try:
                os.unlink(self._control)
            except OSError:
                pass

    def _adopt_code(self) -> str:  # a warm spare becomes the lesson's: the local cwd means nothing there
        return f"import os as _o; _o.environ[{ENV_KERNEL!r}] = {self.name!r}; del _o"
