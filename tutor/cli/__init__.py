"""The command line: `fm-tutor` and its subcommands, one module per command group.

:mod:`tutor.cli.entry` builds the parser and dispatches, and runs the course, progress and launch commands; the
other groups add their subcommands and run them: kernel (run-cells, export, kernels, kernel-agent), backend (serve-model,
doctor, config, model), bench. :mod:`tutor.cli.context` holds what the global options mean.
"""
from __future__ import annotations


def main(argv=None):
    import gc

    # No garbage collection while the command starts: the TUI keeps it off until its home screen is painted
    # (TutorApp._start_background turns it back on; its start-up allocates much and frees little, and the
    # collections took about a fifth of the time to that paint), every other command turns it back on once parsed.
    gc.disable()
    try:
        from tutor.cli.entry import main as _main

        return _main(argv)
    finally:
        gc.enable()


def build_parser():
    from tutor.cli.entry import build_parser as _build

    return _build()
