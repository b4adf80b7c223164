"""Benchmark of the progress store (a script, not a test).

    python tests/benchmarks/bench_progress.py [--events 10000] [--samples 500]

Prints p50/p99 of one event write, enqueue -> commit (``add_step_time`` then
``flush``), and of ``all_lesson_states()`` with ``--events`` events recorded,
on a real file in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tutor.progress import ProgressStore


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<44} n={len(ms):<6} p50={pct(ms, 50):7.3f} ms  p99={pct(ms, 99):7.3f} ms  mean={statistics.mean(ms):7.3f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ProgressStore(Path(tmp) / "progress.db")
        # One event write, enqueue -> commit.
        writes, enqueues = [], []
        for i in range(args.samples):
            t0 = time.perf_counter()
            store.add_step_time("01", f"warm-{i % 20}", 1.0)
            t1 = time.perf_counter()
            store.flush()
            t2 = time.perf_counter()
            enqueues.append(t1 - t0)
            writes.append(t2 - t0)
        # Record --events events over 25 lessons x 12 steps, then time reads.
        t0 = time.perf_counter()
        for i in range(args.events):
            lesson = f"{i % 25 + 1:02d}"
            step = f"{i % 12}-step"
            if i % 10 == 0:
                store.step_shown(lesson, step)
            store.add_step_time(lesson, step, 0.5)
        store.flush(600)
        fill = time.perf_counter() - t0
        reads = []
        for _ in range(args.samples):
            t0 = time.perf_counter()
            states = store.all_lesson_states()
            reads.append(time.perf_counter() - t0)
        assert len(states) == 25
        store.close()
    print(f"progress store benchmark ({args.events} events, {args.samples} samples, SQLite file, WAL)")
    report("enqueue only (caller cost of a write)", enqueues)
    report("event write, enqueue -> commit", writes)
    report(f"all_lesson_states() with {args.events} events", reads)
    print(f"recording {args.events} events took {fill:.2f} s ({args.events / fill:,.0f} events/s)")


if __name__ == "__main__":
    main()
