"""The `fm-tutor` command line. Imports stay lazy so `--help` and `check` never load Textual or torch."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tutor import __version__
from tutor.core.config import ENV_IMAGES, env_value


def _add_common(p: argparse.ArgumentParser, top: bool = False) -> None:
    # a command's copy has no default: argparse would let its None override the same option given before the
    # command (`fm-tutor --content DIR lesson 01` read the installed course)
    default = None if top else argparse.SUPPRESS
    p.add_argument("--data-dir", metavar="DIR", default=default,
                   help="where progress.db lives (default: the user data dir; env FM_TUTOR_DATA_DIR)")
    p.add_argument("--content", metavar="DIR", default=default,
                   help="a course directory to use instead of the installed one (env FM_TUTOR_CONTENT)")


def build_parser(commands: bool = True) -> argparse.ArgumentParser:
    """The command line's parser; ``commands=False``: only the global options (what a bare `fm-tutor` is parsed
    with: the twenty subcommands' parsers cost more than the rest of the command line's start)."""
    ap = argparse.ArgumentParser(
        prog="fm-tutor",
        description="A terminal tutor for the Foundation Models course: lessons, runnable cells, quizzes, review, progress.",
        epilog="Run without a command to open the tutor where you left off. Keys inside the app: press ? for help.",
    )
    ap.add_argument("--version", action="version", version=f"fm-tutor {__version__}")
    ap.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                    help="what goes to the log file (default warning; env FM_TUTOR_LOG_LEVEL); "
                         "`fm-tutor doctor` prints where the file is")
    _add_common(ap, top=True)
    from tutor.cli.kernel import add_kernel_host as _add_kernel_host

    _add_kernel_host(ap, top=True)
    if not commands:
        ap.set_defaults(cmd=None)
        return ap
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")

    p = sub.add_parser("lesson", help="open a lesson (e.g. `fm-tutor lesson 08`)", description="Open the tutor at a lesson, at the step where you stopped.")
    p.add_argument("lesson", help="lesson number, file name or a unique part of its title")
    p.add_argument("--step", help="step id to open at")
    _add_common(p)
    _add_kernel_host(p)

    p = sub.add_parser("path", help="make a learning path active and open it (quick, vision, multimodal, complete)", description="Make a recommended learning path active and open the tutor at its next lesson.")
    p.add_argument("path", nargs="?", help="path id or title; omit to list the paths")
    _add_common(p)
    _add_kernel_host(p)

    p = sub.add_parser("review", help="open the spaced-review screen with the questions due today", description="Open the tutor on the review screen: every question due today, across all lessons.")
    _add_common(p)

    p = sub.add_parser("dashboard", help="open the progress dashboard", description="Open the tutor on the progress dashboard.")
    _add_common(p)

    p = sub.add_parser(
        "progress",
        help="print, export, import or reset your progress",
        description="Print the progress summary (as the dashboard shows it), export every table as JSON or CSV, "
        "import an export, or reset progress. The database is a plain SQLite file (see README).",
    )
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print every table as JSON (a file `progress import` reads back)")
    p.add_argument("--csv", metavar="DIR", help="write one CSV file per table into DIR")
    p.add_argument("-o", "--output", metavar="FILE", help="write the JSON to FILE instead of standard output")
    psub = p.add_subparsers(dest="progress_cmd", metavar="ACTION")
    pi = psub.add_parser("import", help="replace all progress with an export made by --json", description="Replace all progress with a JSON export (a backup of the current database is written first).")
    pi.add_argument("file", help="the JSON file")
    pi.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    pr = psub.add_parser("reset", help="forget progress (everything, or one lesson)", description="Forget all progress, or one lesson's with --lesson. Asks for confirmation unless --yes.")
    pr.add_argument("--lesson", metavar="ID", help="only this lesson")
    pr.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    from tutor.cli import backend as cli_backend
    from tutor.cli import kernel as cli_kernel

    cli_kernel.add_commands(sub)
    cli_backend.add_commands(sub)

    p = sub.add_parser(
        "serve",
        help="serve the tutor in a web browser (textual-serve), on 127.0.0.1 by default",
        description="Run the same app in a browser through textual-serve. It binds to 127.0.0.1 unless --host says "
        "otherwise: anyone who can reach the page can run code on this machine through the lesson cells.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--public-url", help="the URL the browser uses, if it differs (e.g. behind an SSH tunnel)")
    _add_common(p)

    p = sub.add_parser(
        "search",
        help="search the whole course (prose, code, quizzes) and your notes",
        description="Search every written lesson's prose, code cells and quiz text, and your notes (SQLite FTS5, "
        "porter stemming, bm25 ranking). Every word must match; the last may be a prefix. Open a hit with "
        "`fm-tutor lesson ID --step STEP`. The index lives in the user cache dir (env FM_TUTOR_CACHE_DIR) and is "
        "rebuilt when the course files change.",
    )
    p.add_argument("query", nargs="+", help="the words to look for")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.add_argument("-n", "--limit", type=int, default=10, help="how many hits (default 10)")
    _add_common(p)

    p = sub.add_parser("check", help="validate a course directory (lesson format, quizzes, references)", description="Validate the lessons and course.toml of a course directory. Prints file:line: message for every problem; exits 1 on any error.")
    p.add_argument("dir", nargs="?", help="course directory holding course.toml (default: the installed course)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary")

    p = sub.add_parser("stats", help="words, cells, exercises and questions per written lesson", description="Print per-lesson content statistics.")
    p.add_argument("dir", nargs="?", help="course directory (default: the installed course)")

    p = sub.add_parser("bench", help="benchmarks against a baseline in the same run (reader, startup, kernel, model, ...)", description="Run a benchmark and print its figures against a baseline measured in the same run (reader: its progress on stderr, a bar in a terminal).")
    p.add_argument("what", nargs="?", default="reader", choices=["reader", "startup", "kernel", "model", "progress", "dashboard", "search"],
                   help="reader: first step vs Textual's Markdown on the whole lesson; startup: first screen in tmux vs a "
                   "minimal Textual app; kernel: round trip, first output, interrupt, RSS, key latency under output; "
                   "model: raw generate vs transformers serve vs vLLM (when installed) tok/s at batch 1/8/32, RSS, time to ready; progress: event writes; dashboard: 10k events; "
                   "search: query latency p50/p95 vs a LIKE scan, and recall@5 on the course's quiz questions")
    p.add_argument("--runs", type=int, default=None,
                   help="repetitions (default 5; startup: 15 starts of each app, taking turns)")
    _add_common(p)
    return ap


def main(argv: list[str] | None = None) -> int:
    import gc

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["kernel-agent"]:  # the remote end of --kernel-host: kept out of --help (README documents it)
        gc.enable()
        from tutor.cli.kernel import run_agent

        return run_agent(argv[1:])
    ap = build_parser(commands=bool(argv))  # a bare `fm-tutor` opens the app: no subcommand to parse
    args = ap.parse_args(argv)
    if not _opens_the_app(args):  # only the TUI's start-up runs without garbage collection (tutor.cli.main)
        gc.enable()
    from tutor.core.logs import setup_logging

    setup_logging(getattr(args, "log_level", None))
    from tutor.cli.context import from_args

    args.ctx = from_args(args)  # the global options, handed to each command explicitly
    cmd = args.cmd
    if cmd == "check":
        return cmd_check(args)
    if cmd == "stats":
        return cmd_stats(args)
    if cmd == "bench":
        from tutor.cli.bench import run_bench

        return run_bench(args.what, runs=args.runs, content=args.ctx.content)
    if cmd == "path" and not args.path:
        return cmd_list_paths(args)
    if cmd == "progress":
        return cmd_progress(args)
    if cmd == "search":
        return cmd_search(args)
    if cmd == "serve":
        return cmd_serve(args)
    from tutor.cli import backend as cli_backend
    from tutor.cli import kernel as cli_kernel

    for module in (cli_kernel, cli_backend):
        r = module.run(args)
        if r is not None:
            return r
    return cmd_launch(args)




def _opens_the_app(args) -> bool:
    """True when this command line opens the TUI (:func:`cmd_launch`)."""
    return args.cmd in (None, "lesson", "review", "dashboard") or (args.cmd == "path" and bool(args.path))


def cmd_check(args) -> int:
    from tutor.course import validate_course

    root = Path(args.dir) if args.dir else args.ctx.content
    course, problems = validate_course(root)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    for p in problems:
        if p.severity == "error" or not args.quiet:
            print(p)
    if course is not None:
        written = course.written_ids()
        n_cells = sum(len(course.lesson(i).cells) for i in written if course.lesson(i))
        n_q = sum(len(course.lesson(i).quizzes) for i in written if course.lesson(i))
        print(
            f"checked {len(written)} written lesson(s) of {len(course.entries)}, {n_cells} cells, {n_q} questions: "
            f"{len(errors)} error(s), {len(warnings)} warning(s)"
        )
    else:
        print(f"{len(errors)} error(s)")
    return 1 if errors else 0


def cmd_stats(args) -> int:
    from tutor.course import load_course

    course = load_course(Path(args.dir) if args.dir else args.ctx.content)
    print(f"{'lesson':<7}{'words':>7}{'steps':>7}{'cells':>7}{'gpu':>5}{'exer':>6}{'quiz':>6}  types")
    refused = []
    for lid in course.written_ids():
        les = course.lesson(lid)
        if les is None:
            continue
        if les.errors:  # the one acceptance policy: check's lines, and no figures for a broken lesson
            refused.append(les)
            print(f"{lid:<7}not counted: {len(les.errors)} error(s), see below")
            continue
        cells = [c for c in les.cells if not c.is_hidden]
        types = sorted({q.type for q in les.quizzes})
        print(
            f"{lid:<7}{les.word_count():>7}{len(les.steps):>7}{len(cells):>7}{sum(c.is_gpu for c in cells):>5}"
            f"{sum(c.is_exercise for c in cells):>6}{len(les.quizzes):>6}  {','.join(types)}"
        )
    for les in refused:
        for p in les.errors:
            print(p, file=sys.stderr)
    return 1 if refused else 0


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print(f"{question} Refusing without a terminal to ask on; pass --yes.", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_progress(args) -> int:
    import csv
    import json

    from tutor.course import load_course
    from tutor.learning.summaries import render_text, summarize
    from tutor.progress import ProgressStore

    store = ProgressStore(args.ctx.db_path())
    try:
        if store.status.message:
            print(f"fm-tutor: {store.status.message}", file=sys.stderr)
        action = getattr(args, "progress_cmd", None)
        if action == "import":
            try:
                data = json.loads(Path(args.file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                print(f"fm-tutor: cannot read {args.file}: {e}", file=sys.stderr)
                return 1
            if not _confirm(f"Replace all progress in {store.path} with {args.file}?", args.yes):
                return 1
            if store.path and Path(store.path).exists():
                backup = Path(str(store.path) + ".before-import.json")
                backup.write_text(json.dumps(store.export_json()), encoding="utf-8")
                print(f"previous progress saved to {backup}")
            try:
                store.import_json(data)
                store.flush()
            except ValueError as e:
                print(f"fm-tutor: {e}", file=sys.stderr)
                return 1
            n = sum(len(v) for v in data.get("tables", {}).values())
            print(f"imported {n} rows into {store.path}")
            return 0
        if action == "reset":
            what = f"lesson {args.lesson}'s progress" if args.lesson else "ALL progress"
            if not _confirm(f"Forget {what} in {store.path}?", args.yes):
                return 1
            store.reset(args.lesson)
            store.flush()
            print(f"forgot {what}")
            return 0
        if args.json:
            text = json.dumps(store.export_json(), indent=1, ensure_ascii=False)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
                print(f"wrote {args.output}")
            else:
                print(text)
            return 0
        if args.csv:
            out = Path(args.csv)
            out.mkdir(parents=True, exist_ok=True)
            for name, rows in store.export_json()["tables"].items():
                with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
                    cols = sorted({k for r in rows for k in r}) if rows else []
                    w = csv.DictWriter(f, fieldnames=cols)
                    w.writeheader()
                    w.writerows(rows)
                print(f"{out / (name + '.csv')}: {len(rows)} rows")
            return 0
        course = load_course(args.ctx.content)
        print(f"progress database: {store.path or '(in memory)'}")
        print(render_text(course, summarize(course, store)))
        return 0
    finally:
        store.close()


def cmd_search(args) -> int:
    import json

    from tutor.course import CourseError, load_course
    from tutor.progress import ProgressStore
    from tutor.search import SearchError, SearchIndex

    if args.limit < 1:
        print("fm-tutor: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        course = load_course(args.ctx.content)
    except CourseError as e:
        print(f"fm-tutor: cannot load the course:\n{e}", file=sys.stderr)
        return 1
    index = SearchIndex(course).open()
    store = ProgressStore(args.ctx.db_path())
    try:
        index.set_notes((n["lesson_id"], n["step_id"], n["text"]) for n in store.notes())
    finally:
        store.close()
    text = " ".join(args.query)
    try:
        hits = index.search(text, limit=args.limit)
    except SearchError as e:
        print(f"fm-tutor: {e}", file=sys.stderr)
        return 2
    finally:
        index.close()
    if args.json:
        print(json.dumps({"query": text, "hits": [h.as_dict() for h in hits]}, indent=1, ensure_ascii=False))
        return 0
    if not hits:
        print(f"no match for {text!r} in {len(course.written_ids())} written lesson(s)")
        return 1
    bold = sys.stdout.isatty()
    for h in hits:
        where = f"{h.lesson_id} {h.lesson_title} > {h.step_title}" + ("  [your note]" if h.kind == "note" else "")
        snippet = " ".join(h.plain_snippet("\033[1m" if bold else "[", "\033[0m" if bold else "]").split())
        print(f"{where}\n    {snippet}\n    fm-tutor lesson {h.lesson_id} --step {h.step_id}")
    return 0


def cmd_serve(args) -> int:
    import shlex

    try:
        from textual_serve.server import Server
    except ImportError:
        print("fm-tutor serve needs textual-serve: pip install 'fm-tutor[serve]'", file=sys.stderr)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: serving on {args.host}: anyone who can reach http://{args.host}:{args.port} can run code on this "
            "machine through the lesson cells. Prefer the default 127.0.0.1 and an SSH tunnel.",
            file=sys.stderr,
        )
    cmd = [sys.executable, "-m", "tutor"]
    cmd += args.ctx.argv()
    server = Server(" ".join(shlex.quote(c) for c in cmd), host=args.host, port=args.port, title="fm-tutor",
                    public_url=args.public_url)
    print(f"fm-tutor serving on http://{args.host}:{args.port} (ctrl+c stops)", flush=True)
    server.serve()
    return 0


def cmd_list_paths(args) -> int:
    from tutor.course import load_course

    course = load_course(args.ctx.content)
    for p in course.paths:
        seq = " -> ".join(lid if course.is_written(lid) else f"{lid}°" for lid in p.lessons)
        n = sum(1 for lid in p.lessons if course.is_written(lid))
        print(f"{p.id:<11} {p.title} ({p.duration}, {n} of {len(p.lessons)} written): {seq}")
    print("° not written yet (fm-tutor lesson N shows its outline)")
    return 0


def cmd_launch(args) -> int:
    from tutor.course import CourseError, load_course

    try:
        course = load_course(args.ctx.content)
    except CourseError as e:
        print(f"fm-tutor: cannot load the course:\n{e}", file=sys.stderr)
        return 1
    start: dict = {}
    if args.cmd == "lesson":
        lid = course.resolve_lesson_id(args.lesson)
        if lid is None:
            print(f"fm-tutor: no lesson matches {args.lesson!r}; lessons are 01-{len(course.entries):02d}", file=sys.stderr)
            return 2
        lesson = course.lesson(lid)  # None while it is not written: the app opens its outline page
        if args.step and lesson is not None and not lesson.errors and not any(args.step == s.id for s in lesson.steps):
            steps = ", ".join(s.id for s in lesson.steps)
            print(f"fm-tutor: lesson {lid} has no step {args.step!r}; its steps are: {steps}", file=sys.stderr)
            return 2
        start = {"lesson": lid, "step": args.step}
    elif args.cmd == "path":
        pid = course.resolve_path_id(args.path)
        if pid is None:
            print(f"fm-tutor: no path matches {args.path!r}; choose one of: {', '.join(p.id for p in course.paths)}", file=sys.stderr)
            return 2
        start = {"path": pid}
    elif args.cmd == "review":
        start = {"screen": "review"}
    elif args.cmd == "dashboard":
        start = {"screen": "dashboard"}

    images = (env_value(ENV_IMAGES) or "auto").lower()
    term = os.environ.get("TERM", "")
    if images == "terminal" or (images == "auto" and sys.stdout.isatty() and not os.environ.get("TMUX")
                                and not term.startswith(("screen", "tmux", "linux", "dumb"))):
        from tutor.widgets.output_view import enable_terminal_images

        enable_terminal_images()  # textual-image asks the terminal about graphics before Textual starts

    from tutor.ui.app import TutorApp
    from tutor.ui.services import build_services

    ctx = args.ctx
    services = build_services(course=course, data_dir=ctx.data_dir, overrides=ctx.overrides)
    app = TutorApp(start=start, services=services)
    app.run()
    for note in app.exit_notes:  # what keeps running, for how long, and how to stop it
        print(note)
    return app.return_code or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
