"""Progress of a long command on standard error: a bar redrawn in place when stderr is a terminal, a plain line
per phase otherwise (a log, CI). Standard output keeps only the results, for whatever parses them."""
from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class Progress:
    """``total`` phases; :meth:`step` names the one starting, :meth:`done` clears the bar."""

    def __init__(self, total: int, title: str, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.total, self.title = max(1, total), title
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.n = 0
        self.t0 = time.monotonic()

    def step(self, what: str) -> None:
        """Phase n+1 of total begins: ``what``."""
        self.n += 1
        secs = time.monotonic() - self.t0
        if not self.tty:
            print(f"{self.title}: {self.n}/{self.total} {what} ({secs:.0f} s)", file=self.stream, flush=True)
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        head = f"{self.title} {self.n}/{self.total} "
        tail = f" {secs:.0f} s  {what}"
        bar_w = 20 if width >= 60 else 10  # the same each redraw; a long phase name is cut instead
        filled = round(bar_w * (self.n - 1) / self.total)
        line = f"{head}[{'#' * filled}{'.' * (bar_w - filled)}]{tail}"
        if len(line) > width:
            line = line[:width - 1] + "…"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def done(self) -> None:
        """All phases ran: clear the bar (a terminal) or say so (a plain line)."""
        secs = time.monotonic() - self.t0
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        else:
            print(f"{self.title}: {self.total}/{self.total} phases done ({secs:.0f} s)", file=self.stream, flush=True)
