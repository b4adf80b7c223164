"""`fm-tutor bench`: figures measured against a baseline in the same run (never absolute pass/fail)."""
from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from tutor.core.config import ENV_DATA_DIR, ENV_FIRST_PAINT, ENV_MODEL_SERVER, SETTINGS, env_value


async def _settled(app, pilot) -> None:
    """Wait for the app's start-up work: it begins after the first paint (``TutorApp._start_background``) and ends
    with the prebuilt reader, so waiting for the workers alone could return before it started."""
    await pilot.pause()
    for _ in range(3000):  # 30 s at most
        await app.workers.wait_for_complete()
        if app.reader_screen() is not None:
            break
        await asyncio.sleep(0.01)
    await app.workers.wait_for_complete()
    await pilot.pause()


def _largest_lesson(course):
    written = [course.lesson(i) for i in course.written_ids()]
    written = [w for w in written if w is not None]
    if not written:
        return None
    return max(written, key=lambda les: len(les.source))


def bench_reader(runs: int = 5, content: Path | None = None) -> int:
    """Open the largest lesson's first step in the reader vs Textual's Markdown widget on the whole lesson."""
    from textual.app import App
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    from tutor.course import load_course
    from tutor.progress import ProgressStore
    from tutor.ui.app import TutorApp
    from tutor.ui.screens.reader import ReaderScreen

    course = load_course(content)
    lesson = _largest_lesson(course)
    if lesson is None:
        print("no written lesson to benchmark")
        return 1
    words = lesson.word_count()
    print(f"lesson {lesson.id} ({words} words of prose, {len(lesson.steps)} steps, {len(lesson.source)} chars)")

    async def reader_once(cold: bool) -> float:
        """cold: a reader screen built for the lesson (what the first lesson of a session costs when it is
        opened before the reader is prebuilt); warm: the app's path, `open_lesson` on the reused reader."""
        with tempfile.TemporaryDirectory() as d:
            app = TutorApp(course=course, store=ProgressStore(Path(d) / "p.db"))
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                await _settled(app, pilot)  # the start-up imports (the learner is reading the home screen)
                await pilot.pause()
                if cold:
                    t0 = time.perf_counter()
                    screen = ReaderScreen(lesson, lesson.steps[0].id)
                    app.push_screen(screen)
                    before = 0
                else:
                    screen = app.reader_screen()
                    while screen is None or not screen.is_mounted:
                        await asyncio.sleep(0.005)
                        screen = app.reader_screen()
                    await pilot.pause()
                    before = screen.paints
                    t0 = time.perf_counter()
                    app.open_lesson(lesson.id, lesson.steps[0].id)
                while getattr(screen, "paints", 0) <= before:
                    await asyncio.sleep(0.002)
                dt = screen.first_paint_at - t0
                await pilot.pause()
            return dt

    waits: list[float] = []  # after a step's paint (and 50 ms), until the next step is prepared

    async def next_steps_once() -> list[float]:
        """`n` through the lesson's steps in the reused reader: from the key's action to the step's first paint.
        Between two steps it waits, as a learner reading the step would, until the reader has prepared the next
        step off screen (``ReaderScreen.next_prepared``; 2 s at most)."""
        with tempfile.TemporaryDirectory() as d:
            app = TutorApp(course=course, store=ProgressStore(Path(d) / "p.db"))
            async with app.run_test(size=(120, 40)) as pilot:
                await _settled(app, pilot)
                app.open_lesson(lesson.id, lesson.steps[0].id)
                screen = None
                while screen is None or getattr(screen, "paints", 0) < 1:
                    await asyncio.sleep(0.005)
                    screen = app.reader_screen()
                await pilot.pause(0.2)
                out = []
                for _ in range(min(8, len(lesson.steps) - 1)):
                    t1 = time.perf_counter()
                    while not screen.next_prepared() and time.perf_counter() - t1 < 2:
                        await asyncio.sleep(0.005)
                    if out:
                        waits.append(time.perf_counter() - t1)
                    before = screen.paints
                    t0 = time.perf_counter()
                    screen.action_next_step()
                    while screen.paints <= before:
                        await asyncio.sleep(0.002)
                    out.append(screen.first_paint_at - t0)
                    await pilot.pause(0.05)
            return out

    class MdApp(App):
        def compose(self):
            yield VerticalScroll(id="s")

    async def markdown_paint(text: str) -> float:
        """Textual's Markdown widget on ``text``: mount to first paint."""
        app = MdApp()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            t0 = time.perf_counter()
            md = Markdown(text)
            done: list[float] = []
            await app.query_one("#s").mount(md)
            app.call_after_refresh(lambda: done.append(time.perf_counter()))
            while not done:
                await asyncio.sleep(0.002)
            return done[0] - t0

    def markdown_section_once():
        """Baseline for one step: the lesson's longest H2 section alone."""
        return markdown_paint("## " + max((s for s in lesson.source.split("\n## ")[1:]), key=len))

    def markdown_once():
        """Baseline for a lesson: the whole lesson."""
        return markdown_paint(lesson.source.split("---", 2)[-1])

    from tutor.cli.progress import Progress

    r, c, m, n, ms = [], [], [], [], []
    bar = Progress(5 * runs, "bench reader")  # on stderr: a bar in a terminal, a line per phase otherwise
    for i in range(runs):
        bar.step(f"run {i + 1}/{runs}: reader, reused screen")
        r.append(asyncio.run(reader_once(cold=False)))
        bar.step(f"run {i + 1}/{runs}: reader, new screen")
        c.append(asyncio.run(reader_once(cold=True)))
        bar.step(f"run {i + 1}/{runs}: Markdown baseline, whole lesson")
        m.append(asyncio.run(markdown_once()))
        bar.step(f"run {i + 1}/{runs}: next step (n) through the lesson")
        n.extend(asyncio.run(next_steps_once()))
        bar.step(f"run {i + 1}/{runs}: Markdown baseline, longest step")
        ms.append(asyncio.run(markdown_section_once()))
    bar.done()
    rp, cp, mp = statistics.median(r), statistics.median(c), statistics.median(m)
    np_, msp = statistics.median(n), statistics.median(ms)

    def fmt(xs):
        return ", ".join(f"{x * 1000:.0f}" for x in xs)

    print(f"reader: open lesson {lesson.id} at its first step, first paint   p50 {rp * 1000:7.1f} ms  (runs: {fmt(r)})")
    print(f"  cold (a reader screen built for it, as before the prebuild)  p50 {cp * 1000:7.1f} ms  (runs: {fmt(c)})")
    print(f"baseline: Textual Markdown widget, whole lesson, first paint  p50 {mp * 1000:7.1f} ms  (runs: {fmt(m)})")
    print(f"ratio reader/baseline: {rp / mp:.3f}x (cold {cp / mp:.2f}x)   goal: first step <= 100 ms p50")
    print(f"next step (n), action to first paint  p50 {np_ * 1000:7.1f} ms  p90 "
          f"{sorted(n)[int(0.9 * (len(n) - 1))] * 1000:.1f} ms over {len(n)} steps")
    print(f"  (the next step is prepared off screen while the learner reads: ready "
          f"{statistics.median(waits) * 1000 + 50:.0f} ms p50 after the step's paint)" if waits else "")
    print(f"baseline: Textual Markdown widget, the longest step alone  p50 {msp * 1000:7.1f} ms")
    print(f"ratio next-step/baseline: {np_ / msp:.2f}x   goal: next step <= 50 ms p50")
    return 0


def _compile_bytecode() -> str:
    """Write the .pyc files of fm-tutor's own packages where they are missing.

    An installed fm-tutor has them (pip compiles on install) and so does Textual; a source checkout run with
    PYTHONDONTWRITEBYTECODE=1 would compile every module of fm-tutor on each start, which is not what a learner
    waits for. Returns the folders compiled ("" when none could be)."""
    import compileall
    import importlib.util

    done = []
    for name in ("tutor", "tutor.widgets", "tutor.progress"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if os.access(folder, os.W_OK) and compileall.compile_dir(folder, quiet=2, workers=1):
                done.append(Path(folder).name + "/")
    return ", ".join(done)


STARTUP_RUNS = 15  # alternating pairs: the ratio of two medians of 5 moved by 0.1x between runs on a shared box


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    """Lower quartile, median, upper quartile (the median itself for fewer than 4 values)."""
    if len(xs) < 4:
        m = statistics.median(xs)
        return m, m, m
    q1, q2, q3 = statistics.quantiles(xs, n=4)
    return q1, q2, q3


def bench_startup(runs: int | None = None) -> int:
    """Cold start to first screen in a real terminal (tmux), vs a minimal Textual app, in the same run.

    The two apps take turns (minimal, fm-tutor, minimal, ...) in a 120x40 pane, timed from the pane's start until
    its text shows the app's marker, after one untimed start of each (page cache, the new database's migrations).
    Printed: each app's p50, the ratio of the two p50s (the goal's figure) and the ratios of the pairs (each
    fm-tutor start over the minimal app's start just before it): their quartiles say how much the machine's load
    moved the figure."""
    runs = runs or STARTUP_RUNS
    tool = Path(__file__).resolve().parents[3] / "shared" / "tools" / "tui_first_paint.py"  # ../shared of the repo
    if not tool.exists():
        tool = Path(env_value(ENV_FIRST_PAINT) or "/work/shared/tools/tui_first_paint.py")
    if not shutil.which("tmux") or not tool.exists():
        print("needs tmux and shared/tools/tui_first_paint.py")
        return 1
    exe = shutil.which("fm-tutor") or f"{sys.executable} -m tutor"
    compiled = _compile_bytecode()
    if compiled:
        print(f"compiled the bytecode of {compiled} (as pip does on install: the minimal app's Textual has it)")
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "hello.py"
        base.write_text(
            "from textual.app import App\nfrom textual.widgets import Static\n"
            "class H(App):\n    def compose(self):\n        yield Static('HELLO-READY')\nH().run()\n"
        )
        # the model server starts a second after the first paint and a hung-up app detaches it: both would keep
        # loading torch while the next run starts, so the runs are measured without them (the paint is the same)
        env_prefix = ["env", f"{ENV_DATA_DIR}={d}/data", f"{ENV_MODEL_SERVER}=off",
                      f"{SETTINGS['kernel.detach_idle'][0]}=0"]
        apps = (
            ("minimal Textual app", [sys.executable, str(base)], "HELLO-READY"),
            ("fm-tutor home", env_prefix + exe.split(), "Foundation Model Paradigm"),
        )

        def start(i: int) -> float | None:
            name, cmd, marker = apps[i]
            out = subprocess.run(
                [sys.executable, str(tool), "--marker", marker, "--runs", "1", "--size", "120x40", "--", *cmd],
                capture_output=True, text=True,
            )
            got = [float(ln.split()[-1].rstrip("s")) for ln in out.stdout.splitlines() if ln.startswith("run ")]
            if not got:
                print(f"{name:<22} did not reach its marker: {out.stdout.strip()[-300:]}")
            return got[0] if got else None

        for i in range(len(apps)):  # warm-up, not timed
            if start(i) is None:
                return 1
        times: list[list[float]] = [[], []]
        pairs: list[float] = []
        for _ in range(runs):
            t = [start(i) for i in range(len(apps))]
            for i, x in enumerate(t):
                if x is not None:
                    times[i].append(x)
            if None not in t:
                pairs.append(t[1] / t[0])
        if not all(times):
            return 1
        rows = []
        for (name, _cmd, _marker), ts in zip(apps, times):
            missed = runs - len(ts)
            q1, q2, q3 = _quartiles(ts)
            rows.append(q2)
            print(f"{name:<22} p50 {q2 * 1000:7.1f} ms  (p25 {q1 * 1000:.0f}, p75 {q3 * 1000:.0f}, {len(ts)} run{'s' if len(ts) != 1 else ''}: "
                  f"{', '.join(f'{x * 1000:.0f}' for x in ts)})"
                  + (f"  {missed} run(s) never showed the marker" if missed else ""))
        q1, q2, q3 = _quartiles(pairs)
        print(f"ratio fm-tutor/minimal: {rows[1] / rows[0]:.2f}x   goal: <= 1.5x   "
              f"(pairs, one start of each back to back: p50 {q2:.2f}x, p25 {q1:.2f}x, p75 {q3:.2f}x)")
    return 0


def bench_dashboard(runs: int = 5, events: int = 10_000) -> int:
    """Open the dashboard with 10,000 recorded events vs the same screen on an empty database."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo: tests/dashboard_fixture.py
    try:
        from tests.dashboard_fixture import make_export
    except ImportError:
        print("needs the source tree (tests/dashboard_fixture.py)")
        return 1
    from tutor.course import load_course
    from tutor.progress import ProgressStore
    from tutor.ui.app import TutorApp
    from tutor.ui.screens.dashboard import DashboardScreen

    course = load_course()

    async def once(path) -> float:
        app = TutorApp(course=course, store=ProgressStore(path))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await _settled(app, pilot)  # start-up parsing (the learner is on the home screen)
            t0 = time.perf_counter()
            screen = DashboardScreen()
            app.push_screen(screen)
            while not hasattr(screen, "first_paint_at"):
                await asyncio.sleep(0.002)
            dt = screen.first_paint_at - t0
            await pilot.pause()
            return dt

    with tempfile.TemporaryDirectory() as d:
        full = ProgressStore(Path(d) / "full.db")
        full.import_json(make_export(events))
        full.flush(60)
        full.close()
        f, e = [], []
        for _ in range(runs):
            f.append(asyncio.run(once(Path(d) / "full.db")))
            e.append(asyncio.run(once(Path(d) / "empty.db")))
        fp, ep = statistics.median(f), statistics.median(e)
        print(f"dashboard first paint, {events} events  p50 {fp * 1000:7.1f} ms  (runs: {', '.join(f'{x*1000:.0f}' for x in f)})")
        print(f"dashboard first paint, empty database  p50 {ep * 1000:7.1f} ms")
        print(f"ratio: {fp / ep:.2f}x   goal: <= 150 ms with {events} events")
    return 0


def _quiet_app_env() -> None:
    """The UI benchmarks measure screens: no model server starting behind them, no kernels left detached."""
    os.environ.setdefault(ENV_MODEL_SERVER, "off")
    os.environ[SETTINGS["kernel.detach_idle"][0]] = "0"


def bench_search(runs: int = 5, content: Path | None = None) -> int:
    """Per-query latency of the FTS5 index vs a LIKE scan of the same rows; recall@5 on the quiz questions."""
    from tutor.course import load_course
    from tutor.search import SearchIndex
    from tutor.search.quality import bench_queries, latencies, quiz_questions, recall_at, summary

    course = load_course(content)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        index = SearchIndex(course, directory=Path(d)).open()
        build = time.perf_counter() - t
        written = course.written_ids()
        print(f"course: {len(written)} written lesson(s) of {len(course.entries)}, {index.step_count()} steps; "
              f"index built in {build * 1000:.0f} ms")
        questions = quiz_questions(course)
        queries = bench_queries(course, questions)
        fts = latencies(lambda q: index.search(q, limit=20), queries, runs)
        like = latencies(lambda q: index.like_scan(q, limit=20), queries, runs)
        print(f"{len(queries)} queries x {runs} runs")
        print(f"  fts5 bm25 : {summary(fts)}")
        print(f"  LIKE scan : {summary(like)}")
        print(f"  fts5 / LIKE p95: {statistics.quantiles(fts, n=20)[-1] / statistics.quantiles(like, n=20)[-1]:.2f}x"
              if len(fts) > 1 else "")
        recall, missed = recall_at(index, questions, k=5)
        print(f"recall@5 of the source step on {len(questions)} quiz questions (prose, code, titles only): "
              f"{recall:.2f}")
        for q in missed[:5]:
            print(f"  missed: {q.lesson_id}/{q.step_id}: {q.text[:70]}")
        index.close()
    return 0


def run_bench(what: str, runs: int | None = None, content: Path | None = None) -> int:
    if runs is not None and runs < 1:
        print(f"fm-tutor bench: --runs must be at least 1 (got {runs})", file=sys.stderr)
        return 2
    if what == "startup":
        return bench_startup(runs)
    runs = runs or 5
    if what == "search":
        return bench_search(runs, content)
    if what == "reader":
        _quiet_app_env()
        return bench_reader(runs, content)
    if what == "kernel":
        from tutor.cli.kernel import bench_kernel

        return bench_kernel(runs)
    if what == "model":
        from tutor.cli.backend import bench_model

        return bench_model(runs)
    if what == "dashboard":
        _quiet_app_env()
        return bench_dashboard(runs)
    if what == "progress":
        script = bench_script("bench_progress.py")
        return subprocess.call([sys.executable, str(script)]) if script else 1
    print(f"unknown benchmark {what!r}")
    return 2


def bench_script(name: str) -> Path | None:
    """tests/benchmarks/NAME of the source tree (tutor/cli/ is two levels below it), or None, said, when this
    install has no source tree (a wheel)."""
    script = Path(__file__).resolve().parents[2] / "tests" / "benchmarks" / name
    if not script.is_file():
        print(f"benchmark script not found: {script} (it ships with the source tree, not the wheel)")
        return None
    return script
