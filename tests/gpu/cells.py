"""The GPU check's lesson part: start the model server the tutor would (fm-tiny, the `auto` engine: vLLM where it is
installed on CUDA, else transformers serve), then run every lesson through the tutor's own `run-cells --gpu
--keep-going`, several lessons at once, with the endpoint in each kernel's environment. Writes one log per lesson
and summary.json (the server, and each GPU cell's outcome) into LOG_DIR.

A GPU cell that fails only because a checkpoint or dataset cannot be downloaded (no network: HF_HUB_OFFLINE) is
reported as `needs a download`, not as a failure of the cell: its message says so (tutor.kernel.events.error_message). Usage:
    python tests/gpu/cells.py LOG_DIR SECONDS [--jobs N] [--lessons 02,05]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tutor.kernel.events import HUB_UNREACHABLE

LINE = re.compile(r"^  (\S+?)(?: \[(?:starter|solution)\+check\])?\s+(ok|FAIL|skipped)\b ?(.*)$")


def outcomes(text: str, gpu_ids: set[str]) -> dict[str, dict]:
    """Each GPU cell's outcome in a run-cells log: ok, FAIL (with the error's last line) or skipped (with why)."""
    res: dict[str, dict] = {}
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()  # the kernel's tracebacks come coloured
    for i, line in enumerate(lines):
        m = LINE.match(line)
        if not m or m.group(1) not in gpu_ids:
            continue
        cid, status, rest = m.groups()
        entry = {"status": status, "detail": rest.strip()}
        if status == "FAIL":
            tail = []
            for nxt in lines[i + 1:]:
                if LINE.match(nxt) or re.match(r"^  \d+ cell\(s\) passed", nxt):
                    break
                tail.append(nxt)
            body = "\n".join(tail)
            errs = [t.strip() for t in tail if re.match(r"^\s*\w*(Error|Exception)\b.*:", t)]
            entry["error"] = (errs[-1] if errs else rest.strip())[:300]
            if HUB_UNREACHABLE in rest or HUB_UNREACHABLE in body:  # the cell's own message says so
                entry["status"] = "needs a download"
        res[cid] = entry
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--lessons", default="")
    args = ap.parse_args(argv)
    deadline = time.monotonic() + args.seconds
    args.log.mkdir(parents=True, exist_ok=True)

    from tutor.backend.endpoint import ServerError
    from tutor.backend.supervisor import ModelServer
    from tutor.course import load_course

    summary: dict = {"engine": None, "server_ready_s": None, "lessons": {}, "gpu_cells": {}}
    srv = ModelServer(on_state=lambda s: print(f"  [{s.elapsed:5.1f}s] {s.state.value} {s.reason or ''}",
                                               flush=True) if s.state.value != "loading" else None)
    t0 = time.monotonic()
    env = dict(os.environ)
    try:
        ep = srv.start(timeout=min(300, max(30, deadline - time.monotonic() - 60)))
        summary["engine"], summary["server_ready_s"] = srv.engine, round(time.monotonic() - t0, 1)
        env.update(ep.env())
        from openai import OpenAI

        c = OpenAI(base_url=ep.base_url, api_key=ep.api_key)
        summary["completion"] = c.completions.create(model=ep.model, prompt="Scaling laws", max_tokens=16
                                                     ).choices[0].text
        summary["chat"] = c.chat.completions.create(
            model=ep.model, max_tokens=16, messages=[{"role": "user", "content": "What is lesson 08 about?"}]
        ).choices[0].message.content
    except ServerError as e:
        summary["server_error"] = str(e)
        print(srv.log_tail(30))

    course = load_course()
    wanted = [x.strip() for x in args.lessons.split(",") if x.strip()]
    ids = [lid for lid in course.written_ids() if not wanted or lid in wanted]
    gpu_ids = {lid: {c.id for c in course.lesson(lid).cells if c.is_gpu} for lid in ids}
    threads = max(1, (os.cpu_count() or 2) // max(1, args.jobs))
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})

    def run(lid: str) -> None:
        left = deadline - time.monotonic()
        logf = args.log / f"cells-{lid}.txt"
        if left < 20:
            summary["lessons"][lid] = {"rc": None, "note": "not started: the time budget was spent"}
            for cid in sorted(gpu_ids[lid]):
                summary["gpu_cells"][f"{lid}/{cid}"] = {"status": "not reached", "detail": "the time budget was spent"}
            print(f"  lesson {lid}: not started, the time budget was spent", flush=True)
            return
        t = time.monotonic()
        with open(logf, "w", encoding="utf-8") as f:
            try:
                rc = subprocess.run([sys.executable, "-m", "tutor", "run-cells", "--gpu", "--keep-going",
                                     "--color", "never", lid], stdout=f, stderr=subprocess.STDOUT, env=env,
                                    timeout=left).returncode
            except subprocess.TimeoutExpired:
                rc = None
        text = logf.read_text(encoding="utf-8", errors="replace")
        summary["lessons"][lid] = {"rc": rc, "s": round(time.monotonic() - t, 1),
                                   "note": "" if rc is not None else "stopped: the time budget was spent"}
        got = outcomes(text, gpu_ids[lid])
        for cid in sorted(gpu_ids[lid]):
            summary["gpu_cells"][f"{lid}/{cid}"] = got.get(cid, {"status": "not reached"})
        cells = ", ".join(f"{cid} {got.get(cid, {}).get('status', 'not reached')}" for cid in sorted(gpu_ids[lid]))
        print(f"  lesson {lid}: rc {rc} in {time.monotonic() - t:.0f} s; GPU cells: {cells}", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        list(ex.map(run, ids))
    srv.stop()
    (args.log / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
