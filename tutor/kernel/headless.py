"""Headless lesson running and notebook export (``fm-tutor run-cells``, ``fm-tutor export``). No Textual.

``run_lessons`` runs every non-GPU cell of each lesson, in order, in a fresh kernel per lesson: setup cells
first, then demo cells; for each exercise it runs the untouched starter code then the check (which must
*reject* it: "failed", or "error" when the check hits a ``NotImplementedError`` starter), then the solution
then the check (which must pass). It stops at the first failing cell and prints its traceback.
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from tutor.course.model import Lesson, missing_modules, requires_reason
from tutor.kernel.events import strip_ansi

log = logging.getLogger(__name__)


class _Printer:
    def __init__(self, out: TextIO, color: bool | None = None):
        self.out = out
        self.color = out.isatty() if color is None else color

    def __call__(self, text: str = "") -> None:
        if not self.color:
            text = strip_ansi(text)
        print(text, file=self.out, flush=True)

    def c(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


def load_lessons(specs: list[str], content: Path | None = None) -> list[Lesson]:
    """Lesson ids / titles via the course, or paths to lesson .md files. Empty: all written lessons."""
    from tutor.course import load_course, parse_lesson_file

    lessons: list[Lesson] = []
    course = None

    def get_course():
        nonlocal course
        if course is None:
            course = load_course(content)
        return course

    def accepted(les: Lesson) -> Lesson:
        # the one acceptance policy (tutor.course.lessons): a lesson with errors is refused with check's lines
        if les.errors:
            raise ValueError("\n".join(str(x) for x in les.errors))
        return les

    if not specs:
        c = get_course()
        return [accepted(les) for les in (c.lesson(i) for i in c.written_ids()) if les is not None]
    for spec in specs:
        p = Path(spec)
        if p.suffix == ".md" and p.is_file():
            les, problems = parse_lesson_file(p)
            errors = [x for x in problems if x.severity == "error"]
            if les is None or errors:
                raise ValueError("\n".join(str(x) for x in errors) or f"{spec}: cannot parse lesson")
            lessons.append(les)
            continue
        c = get_course()
        lid = c.resolve_lesson_id(spec)
        if lid is None:
            raise ValueError(f"no lesson matches {spec!r}")
        les = c.lesson(lid)
        if les is None:
            raise ValueError(f"lesson {lid} is not written yet")
        lessons.append(accepted(les))
    return lessons


def _fmt_t(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def kernel_missing_modules(kernel, names: list[str]) -> set[str]:
    """The module names the kernel's interpreter cannot find (importlib's find_spec on the top-level package, run in
    the kernel: it may be another environment than ours). Nothing is imported."""
    names = sorted(set(names))
    if not names:
        return set()
    code = ("import importlib.util as _fm_u, json as _fm_j\n"
            f"print(_fm_j.dumps([m for m in {names!r} if _fm_u.find_spec(m.split('.')[0]) is None]))\n"
            "del _fm_u, _fm_j")
    r = kernel.execute(code, timeout=30).result()
    try:
        return set(json.loads((r.stdout or "").strip().splitlines()[-1]))
    except (ValueError, IndexError) as e:  # the probe failed: check here instead
        log.warning("kernel_missing_modules: the probe in the kernel failed (%s: %s); checking in this process",
                    r.status, e)
        return set(missing_modules(names))


def run_lessons(lessons: list[Lesson], out: TextIO | None = None, gpu: bool = False, color: bool | None = None,
                runtime_dir: str | None = None, cwd: str | None = None, remote=None, keep_going: bool = False) -> int:
    """Run the lessons' cells; print a summary per lesson. Returns 0 if all passed, else 1. ``remote``: a
    :class:`tutor.kernel.remote.RemoteHost` to run the kernels on (over SSH). ``keep_going``: a failed cell does not
    stop the run: the next cells run in the same kernel, and the failures are counted at the end."""
    from tutor.kernel import KernelPool
    from tutor.kernel.grading import run_exercise

    pr = _Printer(out or sys.stdout, color)
    total_cells = 0
    failed: list[str] = []
    t_all = time.perf_counter()
    pool = KernelPool(runtime_dir=runtime_dir, remote=remote)
    workdir = cwd or tempfile.mkdtemp(prefix="fm-tutor-run-")
    try:
        for les in lessons:
            pr(pr.c(f"lesson {les.id} · {les.title}", "1"))
            k = pool.start(les.id, cwd=workdir)
            try:
                k.ready.result(pool.start_timeout + 5)
            except Exception as e:
                log.debug("run_lessons: caught and carried on", exc_info=True)
                pr(pr.c(f"  kernel failed to start: {k.start_error or e}", "31"))
                return 1
            setup = [c for c in les.cells if c.is_setup]
            order = setup + [c for c in les.cells if not c.is_setup and not c.is_hidden]
            t_lesson = time.perf_counter()
            n = 0
            missing = kernel_missing_modules(k, [m for c in order for m in c.requires])
            for cell in order:
                if cell.is_gpu and not gpu:
                    pr(f"  {cell.id:<34} {pr.c('skipped', '33')} (gpu; cpu twin: {cell.cpu_twin or '-'})")
                    continue
                absent = tuple(m for m in cell.requires if m in missing)
                if absent:
                    pr(f"  {cell.id:<34} {pr.c('skipped', '33')} ({requires_reason(absent)})")
                    continue
                if cell.is_exercise:
                    check, sol = les.exercise_parts(cell.id)
                    if check is None or sol is None:
                        pr(pr.c(f"  {cell.id}: exercise without check or solution", "31"))
                        return 1
                    steps = [("starter", cell.code, ("failed",)), ("solution", sol.code, ("passed",))]
                    for label, code, want in steps:
                        t0 = time.perf_counter()
                        # the same engine as the reader's exercise cells: learner code, then the hidden check
                        g = run_exercise(k, code, check.code, timeout=cell.timeout).result()
                        res = (g.check if g.in_check else g.learner) or g.learner
                        status = g.status
                        dt = time.perf_counter() - t0
                        ok = status in want or (label == "starter" and status == "error" and g.in_check
                                                and res is not None and res.error is not None
                                                and res.error.ename == "NotImplementedError")
                        name = f"{cell.id} [{label}+check]"
                        if not ok:
                            pr(f"  {name:<34} {pr.c('FAIL', '31')} {_fmt_t(dt)}")
                            if label == "starter" and status == "passed":
                                pr(f"  the check {check.id} accepts the untouched starter code of {cell.id}")
                            else:
                                pr(f"  expected {want[0]}, got {status}: {g.message}")
                            if res is not None and res.error is not None:
                                pr("\n".join(res.error.traceback))
                            failed.append(f"{les.id}/{cell.id}")
                            if not keep_going:
                                return 1
                            break
                        what = ("the check rejected the starter, as expected" if label == "starter"
                                else "the check accepts the solution")
                        pr(f"  {name:<34} {pr.c('ok', '32')} {_fmt_t(dt)}  ({what})")
                        n += 1
                    continue
                r = k.execute(cell.code, timeout=cell.timeout).result()
                if r.status != "ok":
                    pr(f"  {cell.id:<34} {pr.c('FAIL', '31')} {_fmt_t(r.duration)}  {r.status}: {r.message}")
                    pr(f"  at {les.path}:{cell.line}")
                    if r.error is not None and r.error.traceback:
                        pr("\n".join(r.error.traceback))
                    elif r.stdout:
                        pr(r.stdout[-4000:])
                    failed.append(f"{les.id}/{cell.id}")
                    if not keep_going:
                        return 1
                    continue
                pr(f"  {cell.id:<34} {pr.c('ok', '32')} {_fmt_t(r.duration)}")
                n += 1
            total_cells += n
            pr(f"  {n} cell(s) passed in {_fmt_t(time.perf_counter() - t_lesson)}")
            pool.shutdown(les.id, delay=0).result(15)
        if failed:
            pr(pr.c(f"{len(failed)} cell(s) failed: {', '.join(failed)}; {total_cells} cell(s) passed in "
                    f"{_fmt_t(time.perf_counter() - t_all)}", "1;31"))
            return 1
        pr(pr.c(f"all {len(lessons)} lesson(s) passed: {total_cells} cell(s) in "
                f"{_fmt_t(time.perf_counter() - t_all)}", "1;32"))
        return 0
    finally:
        pool.shutdown_all()


