"""The command line of the built-in model's build (stdlib only): `fm-tutor model build` parses it, then runs
:mod:`tutor.backend.modelbuild` in its own process, so torch never loads into the CLI process."""
from __future__ import annotations

import argparse

DEFAULT_SEED = 1234
DEFAULT_STEPS = 900
DEFAULT_MAX_SECONDS = 420.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--out", metavar="DIR", help="output directory (default: tutor/models/fm-tiny in the package)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"optimizer steps (default {DEFAULT_STEPS})")
    ap.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                    help=f"safety time box for training (default {DEFAULT_MAX_SECONDS:.0f})")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core box, 2 OpenMP threads measured ~4x slower "
                         "under load, and one thread keeps reductions bit-for-bit reproducible)")


def to_argv(args: argparse.Namespace) -> list[str]:
    """The parsed options back as argv for ``python -m tutor.backend.modelbuild``."""
    argv = ["--seed", str(args.seed), "--steps", str(args.steps), "--max-seconds", str(args.max_seconds),
            "--threads", str(args.threads)]
    return argv + (["--out", str(args.out)] if args.out else [])
