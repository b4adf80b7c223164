"""The command line: `fm-tutor` and its subcommands, one module per command group.

:mod:`tutor.cli.entry` builds the parser and dispatches, and runs the course, progress and launch commands; the
other groups add their subcommands and run them: kernel (run-cells, export, kernels, kernel-agent), backend (serve-model,
doctor, config, model), bench. :mod:`tutor.cli.context` holds what the global options mean.
"""
from __future__ import annotations


def main(argv=None):
    from tutor.cli.entry import main as _main

    return _main(argv)


def build_parser():
    from tutor.cli.entry import build_parser as _build

    return _build()
