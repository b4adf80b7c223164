"""The command line: `fm-tutor` and its subcommands, one module per command group.

`main` (in :mod:`tutor.cli.main`) builds the parser and dispatches; each group module adds its subcommands and
runs them: course (check, stats, path, lesson, export), kernel (run-cells, kernels, kernel-agent), backend
(serve, doctor, config, model), progress, bench.
"""
from __future__ import annotations


def main(argv=None):
    from tutor.cli.main import main as _main

    return _main(argv)
