"""Output events and execution results (plain dataclasses, no Textual, no jupyter_client)."""
from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field
from typing import Any, Union

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


@dataclass
class Stream:
    name: str  # "stdout" | "stderr"
    text: str


@dataclass
class Display:
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    data: dict[str, Any]
    execution_count: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Error:
    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The traceback without ANSI codes (or ``ename: evalue``)."""
        return strip_ansi("\n".join(self.traceback)) if self.traceback else f"{self.ename}: {self.evalue}"


_HUB_MISSING = re.compile(r"couldn't connect to 'https://huggingface\.co'|Cannot find the requested files in the disk "
                         r"cache|outgoing traffic has been disabled|HF_HUB_OFFLINE|offline mode is enabled|"
                         r"in the local hub cache|LocalEntryNotFoundError", re.I)
# transformers' and diffusers' words for a checkpoint they could not load: with the hub switched off, a missing download
_CANNOT_LOAD = re.compile(r"^Can't load|does not appear to have a file named")
# what a cell's message says under the exception when its checkpoint cannot be had here (tests/gpu/cells.py reads it)
HUB_UNREACHABLE = "in this machine's Hugging Face cache, and the hub cannot be reached from here"
_REPO_ID = re.compile(r"""["']([A-Za-z0-9][\w.-]*/[\w.-]+)["']""")


def error_message(err: Error) -> str:
    """The line a learner reads for a cell that raised: ``Name: value``, with what to do for the failures a GPU box
    without network or with a full GPU brings (found by the GPU check: the exceptions themselves do not say)."""
    value = strip_ansi(err.evalue)
    head = f"{err.ename}: {value}".strip()
    first = head.splitlines()[0] if head else err.ename
    text = strip_ansi(err.text)
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")  # the kernels' too
    if _HUB_MISSING.search(head) or (err.ename in ("OSError", "LocalEntryNotFoundError") and _HUB_MISSING.search(text)) \
            or (offline and err.ename == "OSError" and _CANNOT_LOAD.search(value)):
        repos = list(dict.fromkeys(_REPO_ID.findall(value))) or next(
            ([m.group(1)] for line in text.splitlines() if "from_pretrained" in line
             for m in [_REPO_ID.search(line)] if m), [])
        who = (f"None of the checkpoints {', '.join(repos)} is" if len(repos) > 1
               else f"The checkpoint {repos[0]} is not" if repos else "A checkpoint or dataset this cell loads is not")
        return (f"{first}\n{who} {HUB_UNREACHABLE} (no network, or HF_HUB_OFFLINE=1). Run the cell once where the hub "
                "is reachable (or `hf download` it there and copy ~/.cache/huggingface over): then it runs offline.")
    if err.ename == "OutOfMemoryError" or "CUDA out of memory" in value:
        return (f"{first}\nThe GPU ran out of memory. What earlier cells keep on it stays allocated: restart the "
                "kernel (R) to free it, or make the cell's batch or sequence length smaller.")
    return f"{err.ename}: {err.evalue}"


@dataclass
class ClearOutput:
    wait: bool = False


Event = Union[Stream, Display, Result, Error, ClearOutput]

STATUSES = ("ok", "error", "timeout", "died", "interrupted")


@dataclass
class ExecResult:
    """The outcome of one execution.

    status: "ok" | "error" | "timeout" | "died" | "interrupted". ``message`` is a human-readable line for
    anything but "ok" (empty for ok). ``error`` holds the exception for "error"/"interrupted"/"timeout"
    when the kernel reported one. ``setup_failed`` is True when a setup cell (not the cell itself) failed.
    """

    status: str
    execution_count: int | None = None
    duration: float = 0.0
    error: Error | None = None
    message: str = ""
    setup_failed: bool = False
    stdout: str = ""  # collected stdout/stderr text (also delivered as events)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def describe_exit(code: int | None) -> str:
    """'exit code -9, killed by signal SIGKILL: possibly out of memory' and the like."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGKILL": ": possibly out of memory",
            "SIGSEGV": ": a segmentation fault in native code",
            "SIGABRT": ": aborted by native code",
            "SIGBUS": ": a bus error in native code",
        }.get(name, "")
        return f"exit code {code}, killed by signal {name}{why}"
    return f"exit code {code}"


def died_message(code: int | None, while_running: bool = True) -> str:
    where = " while running this cell" if while_running else ""
    return f"the kernel died ({describe_exit(code)}){where}; press R to restart it"
