"""The kernel-related commands of ``fm-tutor``: ``run-cells``, ``export`` and ``kernels``, plus the kernel benchmark.

tutor/cli/entry.py calls :func:`add_commands` with its subparsers and :func:`run` with the parsed args
(``run`` returns None for commands that are not its own). Imports stay lazy.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

COMMANDS = ("run-cells", "export", "kernels")


def add_kernel_host(p: argparse.ArgumentParser, top: bool = False) -> None:
    p.add_argument("--kernel-host", metavar="[USER@]HOST", default=None if top else argparse.SUPPRESS,
                   help="run the lesson kernels (and the model) on HOST over SSH; this terminal keeps the tutor "
                   "(env FM_TUTOR_KERNEL_HOST; README: On a GPU box over SSH)")


def add_commands(sub) -> None:
    p = sub.add_parser(
        "run-cells",
        help="run every cell of lessons in a fresh kernel, checking exercises (stops at the first failure)",
        description="Run every non-GPU cell of the given lessons (all written lessons if none) in order, in a fresh "
        "kernel per lesson: setup cells first; for each exercise the check must reject the starter code and "
        "accept the solution. Prints per-cell times; exits 1 at the first failing cell with its traceback (with "
        "--keep-going: after all of them).",
    )
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="lesson number, title fragment, or a lesson .md file")
    p.add_argument("--gpu", action="store_true", help="also run gpu cells (needs CUDA)")
    p.add_argument("--keep-going", action="store_true",
                   help="run the cells after a failed one too (same kernel); list the failures at the end, exit 1")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="ANSI colours (default auto)")
    p.add_argument("--content", metavar="DIR", default=argparse.SUPPRESS,
                   help="a course directory to use instead of the installed one (env FM_TUTOR_CONTENT)")
    add_kernel_host(p)

    p = sub.add_parser("export", help="export a lesson as a Jupyter notebook",
                       description="Write a lesson as an nbformat v4 notebook: prose and quizzes as markdown cells, code "
                       "cells with their ids and tags (check/solution cells included, tagged and source-hidden).")
    p.add_argument("lesson", help="lesson number, title fragment, or a lesson .md file")
    p.add_argument("--ipynb", metavar="FILE", required=True, help="the notebook file to write")
    p.add_argument("--mine", action="store_true",
                   help="your version: the cells you edited in the reader (from your progress), not the lesson's code")
    p.add_argument("--content", metavar="DIR", default=argparse.SUPPRESS,
                   help="a course directory to use instead of the installed one (env FM_TUTOR_CONTENT)")

    _add_kernels(sub)


def _add_kernels(sub) -> None:
    p = sub.add_parser("kernels", help="list (or stop) the lesson kernels and the model server left running detached",
                       description="On exit or hang-up the lesson kernels and the model server keep running detached "
                       "for kernel.detach_idle seconds (FM_TUTOR_DETACH_IDLE; 0 = they stop with the app) and the next "
                       "fm-tutor reattaches to them; after that they are stopped by the next fm-tutor or `fm-tutor "
                       "kernels` (the model server also by a watcher process of its own). Without arguments: list them (kernels: lesson, pid, age, idle time, when it will be "
                       "stopped; the model server: engine, model, pid, port, resident memory, age, idle time, when it "
                       "will be stopped), after stopping what is due (each said with its age and why). `fm-tutor kernels stop LESSON...` stops "
                       "those kernels, `--server` the model server, `--all` everything detached. What a running "
                       "fm-tutor holds is listed as in use, and what another install (another venv) left running "
                       "as that install's: neither is ever stopped from here.")
    p.add_argument("action", nargs="?", choices=["list", "stop"], default="list")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="lesson ids to stop")
    p.add_argument("--all", action="store_true", help="stop every detached kernel and the detached model server")
    p.add_argument("--server", action="store_true", help="stop the detached model server")
    p.add_argument("--runtime-dir", metavar="DIR", help=argparse.SUPPRESS)


def run_agent(argv: list[str]) -> int:
    """``fm-tutor kernel-agent``: what ``--kernel-host`` runs on the remote machine over SSH (not for people)."""
    p = argparse.ArgumentParser(
        prog="fm-tutor kernel-agent",
        description="The remote end of `fm-tutor --kernel-host`, started over SSH by the tutor: runs one lesson "
        "kernel on this machine (127.0.0.1, free ports) and speaks line-JSON on stdin/stdout (tutor/kernel/agent.py).")
    p.add_argument("--lesson", required=True, help="the lesson id (FM_TUTOR_KERNEL in the kernel)")
    p.add_argument("--cwd", help="the kernel's working directory (default: the home directory)")
    p.add_argument("--start-timeout", type=float, default=60.0, help="seconds the kernel may take to start")
    args = p.parse_args(argv)
    from tutor.kernel.agent import main

    return main(args.lesson, args.cwd, args.start_timeout)


def _duration(s: float) -> str:
    s = max(0, int(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _server_name(e: dict) -> str:
    return f"{e.get('engine')}, {Path(str(e.get('model'))).name}, pid {e.get('pid')}"


def _server_dir() -> Path | None:
    """The model server's runtime dir (FM_TUTOR_RUNTIME_DIR or the default), None if it cannot be made."""
    from tutor.core.config import ConfigError, runtime_dir

    try:
        return runtime_dir()
    except ConfigError:
        return None


def _detach_idle() -> float | None:
    """kernel.detach_idle from the configuration (None when it does not load)."""
    from tutor.core.config import ConfigError, load_config

    try:
        return float(load_config().kernel.detach_idle)
    except ConfigError:
        return None


def _cull(base: Path, run_dir: Path | None, idle: float | None) -> None:
    """Stop the kernels and the model server detached longer than kernel.detach_idle, and a warm spare whose
    fm-tutor is gone (as the next fm-tutor would), and say of each what is true: its age and why it stopped."""
    from tutor.backend import detached as sd
    from tutor.kernel import detach as reg

    if idle is None or idle <= 0:
        return
    now = time.time()
    for lesson, e in reg.cull_entries(base, idle) if base.is_dir() else []:
        age = _duration(now - float(e.get("started_at") or now))
        if lesson.startswith("_spare"):
            print(f"stopped a spare kernel (pid {e.get('pid')}, started {age} ago): the fm-tutor that kept it "
                  "warm has exited, and a spare is never kept without one")
        else:
            away = _duration(now - float(e.get("detached_at") or now))
            print(f"stopped lesson {lesson}'s kernel (pid {e.get('pid')}, started {age} ago): detached {away} "
                  f"ago, longer than kernel.detach_idle ({_duration(idle)})")
    e = sd.cull(run_dir, idle) if run_dir else None
    if e:
        print(f"stopped the model server ({_server_name(e)}): idle {_duration(time.time() - e['detached_at'])} "
              f"(kernel.detach_idle is {_duration(idle)})")


def _stops(r: dict, idle: float | None) -> str:
    """When a listed kernel or server will be stopped, as the next fm-tutor or `fm-tutor kernels` culls."""
    if not r["alive"] or r.get("foreign"):
        return "-"
    if r["in_use"]:
        return "with its app"
    if idle is None or idle <= 0:  # nothing culls then (kernel.detach_idle 0): only `fm-tutor kernels stop`
        return "kernels stop"
    return f"in {_duration(max(0.0, idle - r['idle']))}"


def _state(r: dict) -> str:
    """How a listed kernel or server stands: another install's (never stopped from here), in use, gone."""
    if not r["alive"]:
        return "  (gone)"
    if r.get("foreign"):
        return f"  (another install's: {r.get('python') or '?'}; stop it with that install's fm-tutor)"
    return "  (in use by a running fm-tutor)" if r["in_use"] else ""


def _list_server(run_dir: Path | None, idle: float | None = None) -> None:
    from tutor.backend import detached as sd

    r = sd.listing(run_dir) if run_dir else None
    if r is None:
        return
    from tutor.core.procs import fmt_bytes, tree_rss

    print(f"{'model server':<14} {'engine':<12} {'model':<20} {'pid':>8} {'port':>6} {'memory':>7} {'age':>8} "
          f"{'idle':>8} {'stops':>12}")
    state = _state(r)
    mem = fmt_bytes(tree_rss(r.get("pid"))) if r["alive"] else "-"
    print(f"{'':<14} {r.get('engine')!s:<12} {Path(str(r.get('model'))).name:<20} {r.get('pid')!s:>8} "
          f"{r.get('port')!s:>6} {mem:>7} {_duration(r['age']):>8} {_duration(r['idle']):>8} "
          f"{_stops(r, idle):>12}{state}")


def _kernels(args) -> int:
    from tutor.backend import detached as sd
    from tutor.kernel import default_runtime_dir
    from tutor.kernel import detach as reg

    base = Path(args.runtime_dir) if args.runtime_dir else default_runtime_dir()
    server_dir = _server_dir()
    if args.action == "list":
        if args.lessons or args.all or args.server:
            print("fm-tutor kernels: LESSON, --all and --server go with `stop`", file=sys.stderr)
            return 2
        idle = _detach_idle()
        _cull(base, server_dir, idle)
        rows = reg.listing(base) if base.is_dir() else []
        if not rows:
            print("no detached kernels")
        else:
            print(f"{'lesson':<24} {'pid':>8} {'age':>8} {'idle':>8} {'stops':>12}")
        for r in rows:
            state = _state(r)
            print(f"{r['lesson']:<24} {r['pid']:>8} {_duration(r['age']):>8} {_duration(r['idle']):>8} "
                  f"{_stops(r, idle):>12}{state}")
        _list_server(server_dir, idle)
        return 0
    if not args.all and not args.lessons and not args.server:
        print("fm-tutor kernels stop: name a LESSON or give --server or --all", file=sys.stderr)
        return 2
    if args.all or args.server:
        e = sd.stop(server_dir) if server_dir else None
        if e:
            print(f"stopped the model server ({_server_name(e)})")
        elif args.server and not args.all:
            held = sd.listing(server_dir) if server_dir else None
            print("the model server is in use by a running fm-tutor" if held and held["in_use"]
                  else "no detached model server was running")
        if not args.all and not args.lessons:
            return 0
    if not base.is_dir():
        print("no detached kernels")
        return 0
    known = {r["lesson"] for r in reg.listing(base)}
    wanted = None if args.all else []
    bad = []
    for name in args.lessons:
        # a lesson id, or its number: "3" matches "03" and "03-tokenizers"
        hits = [k for k in known if k == name or k.split("-")[0].lstrip("0") == name.lstrip("0")] or \
            [k for k in known if k.startswith(name)]
        if len(hits) == 1 and wanted is not None:
            wanted.append(hits[0])
        elif len(hits) != 1:
            bad.append(name)
    if bad:
        print(f"fm-tutor kernels stop: no detached kernel for {', '.join(bad)}", file=sys.stderr)
        if wanted is not None and not wanted:
            return 1
    stopped = reg.stop(base, wanted)
    for lesson in stopped:
        print(f"stopped lesson {lesson}'s kernel")
    if not stopped:
        print("no detached kernel was running")
    return 1 if bad else 0


def remote_host(args: argparse.Namespace):
    """The configured kernel host (``--kernel-host``, FM_TUTOR_KERNEL_HOST, kernel.host) as a RemoteHost, or None.
    Raises ValueError (a ConfigError) when the configuration is not usable."""
    from tutor.cli.context import from_args
    from tutor.kernel.remote import RemoteHost

    ctx = getattr(args, "ctx", None) or from_args(args)
    return RemoteHost.from_config(ctx.config())


def _learner_edits(args, les) -> dict[str, str]:
    """{cell id: code} of the cells of ``les`` the learner edited (the progress store of --data-dir)."""
    from tutor.cli.context import from_args
    from tutor.progress import ProgressStore

    db = (getattr(args, "ctx", None) or from_args(args)).db_path()
    if db is None or not Path(db).is_file():
        return {}
    store = ProgressStore(db)
    try:
        return {c.id: code for c in les.cells if (code := store.cell_edit(les.id, c.id)) is not None}
    finally:
        store.close()


def _content(args) -> Path | None:
    from tutor.cli.context import from_args

    return (getattr(args, "ctx", None) or from_args(args)).content


def run(args: argparse.Namespace) -> int | None:
    cmd = getattr(args, "cmd", None)
    if cmd == "kernels":
        return _kernels(args)
    if cmd == "run-cells":
        from tutor.kernel.headless import load_lessons, run_lessons

        try:
            lessons = load_lessons(list(args.lessons), _content(args))
        except Exception as e:
            log.debug("run: caught and carried on", exc_info=True)
            print(f"fm-tutor run-cells: {e}", file=sys.stderr)
            return 2
        if not lessons:
            print("fm-tutor run-cells: no written lessons", file=sys.stderr)
            return 0
        color = {"auto": None, "always": True, "never": False}[args.color]
        try:
            remote = remote_host(args)
        except ValueError as e:
            print(f"fm-tutor run-cells: {e}", file=sys.stderr)
            return 2
        if remote is not None:
            print(f"kernels on {remote.host} over SSH", flush=True)
        return run_lessons(lessons, gpu=args.gpu, color=color, remote=remote, keep_going=args.keep_going)
    if cmd == "export":
        from tutor.course.export import export_notebook
        from tutor.kernel.headless import load_lessons

        try:
            (les,) = load_lessons([args.lesson], _content(args))
            edits = _learner_edits(args, les) if args.mine else None
            path = export_notebook(les, args.ipynb, edits)
        except Exception as e:
            log.debug("run: caught and carried on", exc_info=True)
            print(f"fm-tutor export: {e}", file=sys.stderr)
            return 1
        mine = f", {len(edits)} cell(s) in your version" if edits is not None else ""
        print(f"wrote {path} ({les.title}{mine})")
        return 0
    return None


# ---------------------------------------------------------------------------- benchmark
def bench_kernel(runs: int = 5) -> int:
    """Print kernel figures (pool vs raw jupyter_client, first output, interrupt, RSS, UI under flood)."""
    import textual.app  # noqa: F401  (the TUI process has Textual loaded: count it in the RSS)

    from tutor.kernel.bench import bench_pool

    figs = bench_pool(runs)
    ui = bench_ui_flood(lines=1_000_000)
    figs.update(ui)
    print()
    print(f"{'first output after 1 s (cold)':<32} {figs['first_output_ms']:10.3f} ms  (info: bounded by the "
          f"kernel's own start, raw jupyter_client {figs['raw_start_s']:.2f} s here; the TUI uses a spare)")
    goals = [
        ("round trip ratio", figs["roundtrip_ratio"], 1.2, "x"),
        ("first output after 1 s (spare)", figs["first_output_spare_ms"], 150, "ms"),
        ("interrupt latency", figs["interrupt_s"], 0.5, "s"),
        ("TUI-side RSS", figs["rss_mb"], 120, "MB"),
        ("key latency under flood (max)", figs["key_latency_max_ms"], 200, "ms"),
    ]
    bad = 0
    for name, val, goal, unit in goals:
        ok = val <= goal
        bad += not ok
        print(f"{name:<32} {val:10.3f} {unit:<3} goal <= {goal} {unit}  {'ok' if ok else 'MISSED'}")
    return 1 if bad else 0


def bench_ui_flood(lines: int = 1_000_000) -> dict:
    """A Textual app with an OutputView fed ``lines`` lines from another thread (as the kernel thread does).

    Every 20 ms a key event is posted to the app and the time until its binding's action runs is recorded
    (Pilot.press is not used for timing: it waits until the *process* is idle, which a flood never is).
    The event-loop lag (how late a 10 ms sleep wakes up) is recorded too.
    """
    import asyncio
    import threading
    import time

    from textual import events
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from tutor.kernel import OutputBuffer, Stream
    from tutor.widgets.output_view import OutputView

    lat: list[float] = []
    lags: list[float] = []
    info: dict = {}

    class FloodApp(App):
        BINDINGS = [("x", "ping", "ping")]

        def __init__(self):
            super().__init__()
            self.buf = OutputBuffer()
            self.sent: list[float] = []

        def compose(self) -> ComposeResult:
            yield Static("flood", id="label")
            yield OutputView(self.buf, id="out")

        def action_ping(self) -> None:
            lat.append(time.perf_counter() - self.sent.pop(0))

    async def main():
        app = FloodApp()
        async with app.run_test(size=(80, 30)) as pilot:
            await pilot.pause(0.3)
            done = threading.Event()

            def feed():
                chunk = "".join(f"line {i}\n" for i in range(1000))
                for _ in range(lines // 1000):
                    app.buf.add(Stream("stdout", chunk))
                done.set()

            async def lag_probe():
                while not done.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append(time.perf_counter() - t - 0.01)

            t0 = time.perf_counter()
            threading.Thread(target=feed, daemon=True).start()
            probe = asyncio.ensure_future(lag_probe())
            while not done.is_set():
                app.sent.append(time.perf_counter())
                app.post_message(events.Key("x", "x"))
                await asyncio.sleep(0.02)
            info["feed_s"] = time.perf_counter() - t0
            await probe
            await pilot.pause(0.3)
            info["hidden"] = app.buf.hidden_lines
            info["unanswered"] = len(app.sent)

    asyncio.run(main())
    lat_ms = sorted(x * 1000 for x in lat)
    lag_ms = sorted(x * 1000 for x in lags) or [0.0]
    print(f"UI flood: {lines} lines fed in {info['feed_s']:.2f} s; hidden {info['hidden']}; "
          f"{len(lat_ms)} keys answered ({info['unanswered']} not): latency median {lat_ms[len(lat_ms) // 2]:.1f} ms, "
          f"max {lat_ms[-1]:.1f} ms; loop lag max {lag_ms[-1]:.1f} ms")
    return {"key_latency_max_ms": lat_ms[-1], "key_latency_median_ms": lat_ms[len(lat_ms) // 2],
            "loop_lag_max_ms": lag_ms[-1], "flood_feed_s": info["feed_s"]}
