"""Kernel benchmark: pool vs raw jupyter_client round trip, first output after start, interrupt latency,
TUI-side RSS with a running kernel, and key latency while an output view is flooded with 10^6 lines.

Run: .venv/bin/python tests/benchmarks/bench_kernel.py [--runs N]   (or `fm-tutor bench kernel`)
"""
import argparse
import sys

from tutor.cli.kernel import bench_kernel

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    sys.exit(bench_kernel(ap.parse_args().runs))
