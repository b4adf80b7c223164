"""Grading an exercise: the learner's code, then (only if it ran cleanly) the hidden check, in one kernel.

The check grades by raising ``AssertionError("message for the learner")``. Outcomes (``Grade.status``):

- ``passed``  — both ran without error; ``message`` is what the check printed (or "passed").
- ``failed``  — the check raised AssertionError; ``message`` is its message.
- ``error``   — the learner's code raised (``message`` = "ExcName: value", ``in_check`` False), or the check
  raised something other than AssertionError while calling into the learner's code (``in_check`` True).
- ``timeout`` — either part ran past ``timeout`` seconds (it was interrupted).
- ``died``    — the kernel died; ``message`` says how and that R restarts it.

Learner and check run back to back under the kernel's lock, so no other cell can run in between.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tutor.kernel.events import Error, Event, ExecResult, strip_ansi
from tutor.kernel.kernel import Kernel

GRADES = ("passed", "failed", "error", "timeout", "died")


@dataclass
class Grade:
    status: str
    message: str
    learner: ExecResult | None = None
    check: ExecResult | None = None
    in_check: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def traceback(self) -> str:
        """The relevant traceback (ANSI stripped), or ''."""
        r = self.check if self.in_check else self.learner
        return r.error.text if r is not None and r.error is not None else ""


def grade_result(r: ExecResult, in_check: bool) -> Grade | None:
    """The grade an unsuccessful run gives (None when it ran cleanly): ``in_check`` says whether it was the check."""
    if r.status == "ok":
        return None
    if r.status in ("timeout", "died"):
        return Grade(r.status, r.message, in_check=in_check)
    if r.status == "interrupted":
        return Grade("error", r.message or "interrupted", in_check=in_check)
    err = r.error or Error("Error", r.message)
    if in_check and err.ename == "AssertionError":
        msg = strip_ansi(err.evalue).strip() or "the check failed (an assertion did not hold)"
        return Grade("failed", msg, in_check=True)
    where = "the check raised" if in_check else "your code raised"
    return Grade("error", f"{where} {err.ename}: {strip_ansi(err.evalue)}".rstrip(": "), in_check=in_check)


async def _grade(kernel: Kernel, learner_code: str, check_code: str, timeout: float | None,
                 on_event: Callable[[Event], None] | None, setup: Sequence[Any] | None) -> Grade:
    async with kernel.locked():
        gen = kernel.generation
        failed = await kernel.run_setup(setup)
        if failed is not None:
            g = grade_result(failed, in_check=False) or Grade("error", failed.message)
            g.learner = failed
            return g
        learner = await kernel.run(learner_code, timeout, on_event, store_history=True)
        g = grade_result(learner, in_check=False)
        if g is not None:
            g.learner = learner
            return g
        if gen != kernel.generation:
            return Grade("error", "the kernel was restarted", learner=learner)
        check = await kernel.run(check_code, timeout, None, store_history=False)
        g = grade_result(check, in_check=True)
        if g is not None:
            g.learner, g.check = learner, check
            return g
        msg = strip_ansi(check.stdout).strip() or "passed"
        return Grade("passed", msg, learner=learner, check=check)


def run_exercise(kernel: Kernel, learner_code: str, check_code: str, timeout: float | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 setup: Sequence[Any] | None = None) -> concurrent.futures.Future:
    """Run the learner's code then the hidden check -> Future[Grade] (thread-safe, non-blocking).

    ``on_event`` receives the learner's outputs only (the check's output goes into ``Grade.message``).
    """
    return kernel.ctx.submit(_grade(kernel, learner_code, check_code, timeout, on_event, setup))


async def arun_exercise(*args, **kwargs) -> Grade:
    return await asyncio.wrap_future(run_exercise(*args, **kwargs))
