"""OutputBuffer: the outputs of one cell, accumulated from kernel events. Pure Python, no Textual.

A cell's output is a list of *segments* in arrival order:

- ``TextSegment`` (kind ``"stream"``, ``"result"`` or ``"error"``): terminal-like text. ANSI colour codes are
  kept; carriage returns are *applied* (``\\r`` moves to the start of the current line and later text
  overwrites it, so tqdm bars update in place; ``\\r\\n`` is a newline; ``\\b`` moves back one column).
  For display each segment keeps its first ``head`` lines and its last ``tail`` lines (bounded by
  ``max_lines`` and ``max_bytes``); the lines in between are counted (``hidden``). The whole text stays
  available through :meth:`OutputBuffer.full_text` up to ``hard_cap`` characters (like euporie's cap).
- ``RichSegment`` (kind ``"image"`` or ``"markdown"``): an image (PNG bytes) or markdown from a display.

Feeding is amortised O(size of chunk): a chunk without ``\\r``/``\\b`` is split once and only whole lines are
appended; nothing is re-rendered per chunk. :attr:`OutputBuffer.version` grows on every change so a view can
poll it and re-render at most every N ms. All methods are thread-safe (events arrive on the kernel thread,
the view reads on the UI thread). Sizes are counted in characters.
"""
from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tutor.kernel.events import ClearOutput, Display, Error, Event, Result, Stream

log = logging.getLogger(__name__)

MAX_LINES = 500
MAX_BYTES = 200_000
HARD_CAP = 20_000_000
MAX_LINE_DISPLAY = 5_000  # one very long line is cut for display (full_text keeps it)
MAX_SEGMENTS = 200

_CTRL = re.compile(r"(\r\n|\r|\n|\x08)")


class TextSegment:
    """Lines of terminal text with head/tail capping and an applied carriage-return model."""

    def __init__(self, kind: str, name: str = "", max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES,
                 hard_cap: int = HARD_CAP):
        self.kind = kind
        self.name = name
        self.head_lines = max(1, max_lines // 2)
        self.tail_lines = max(1, max_lines - self.head_lines)
        self.head_bytes = max_bytes // 2
        self.tail_bytes = max_bytes - self.head_bytes
        self.hard_cap = hard_cap
        self.head: list[str] = []
        self._head_size = 0
        self.tail: deque[str] = deque()
        self._tail_size = 0
        self.hidden = 0  # committed lines neither in head nor tail
        self.total_lines = 0
        # the current (uncommitted) line: fast path = list of appended parts; slow path = str + column
        self._parts: list[str] = []
        self._col: int | None = None  # None: cursor at the end of the line (append mode)
        self._full: list[str] = []
        self._full_size = 0
        self.truncated = 0  # characters dropped from full_text beyond hard_cap
        self.version = 0  # bumps on every feed (views re-render a segment only when it changed)

    # ---------------------------------------------------------------- feeding
    def _current(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def _write(self, s: str) -> None:
        if not s:
            return
        if self._col is None:
            self._parts.append(s)
            return
        cur = self._current()
        col = self._col
        new = cur[:col] + s + cur[col + len(s):]
        self._parts = [new]
        self._col = col + len(s)
        if self._col >= len(new):
            self._col = None

    def _commit(self, line: str) -> None:
        self.total_lines += 1
        n = len(line) + 1
        if len(self.head) < self.head_lines and self._head_size + n <= self.head_bytes:
            self.head.append(line)
            self._head_size += n
        else:
            self.tail.append(line)
            self._tail_size += n
            while self.tail and (len(self.tail) > self.tail_lines or self._tail_size > self.tail_bytes):
                self._tail_size -= len(self.tail.popleft()) + 1
                self.hidden += 1
        self._keep(line + "\n")

    def _keep(self, text: str) -> None:
        room = self.hard_cap - self._full_size
        if room <= 0:
            self.truncated += len(text)
            return
        if len(text) > room:
            self.truncated += len(text) - room
            text = text[:room]
        self._full.append(text)
        self._full_size += len(text)

    def feed(self, text: str) -> None:
        self.version += 1
        if "\r" not in text and "\x08" not in text and self._col is None:
            # fast path: plain appends and newlines
            if "\n" not in text:
                self._parts.append(text)
                return
            lines = text.split("\n")
            first = lines[0]
            if self._parts:
                self._parts.append(first)
                first = "".join(self._parts)
                self._parts = []
            self._commit(first)
            mid = lines[1:-1]
            if mid:
                self._commit_many(mid)
            if lines[-1]:
                self._parts = [lines[-1]]
            return
        for piece in _CTRL.split(text):
            if not piece:
                continue
            if piece == "\n" or piece == "\r\n":
                self._commit(self._current())
                self._parts = []
                self._col = None
            elif piece == "\r":
                self._col = 0 if self._parts and self._current() else None
            elif piece == "\x08":
                cur = self._current()
                col = len(cur) if self._col is None else self._col
                self._col = max(0, col - 1)
            else:
                self._write(piece)

    def _commit_many(self, lines: list[str]) -> None:
        # bulk version of _commit for the fast path (most of a flood goes through here)
        i = 0
        n = len(lines)
        while i < n and len(self.head) < self.head_lines:
            line = lines[i]
            if self._head_size + len(line) + 1 > self.head_bytes:
                break
            self.head.append(line)
            self._head_size += len(line) + 1
            i += 1
        rest = lines[i:]
        if rest:
            keep = rest[-self.tail_lines:]
            dropped = len(rest) - len(keep)
            if dropped:
                # everything already in the tail is pushed out too
                self.hidden += dropped + len(self.tail)
                self.tail.clear()
                self._tail_size = 0
            for line in keep:
                self.tail.append(line)
                self._tail_size += len(line) + 1
            while self.tail and (len(self.tail) > self.tail_lines or self._tail_size > self.tail_bytes):
                self._tail_size -= len(self.tail.popleft()) + 1
                self.hidden += 1
        self.total_lines += n
        self._keep("\n".join(lines) + "\n")

    # ---------------------------------------------------------------- reading
    @property
    def pending(self) -> str:
        return self._current()

    def display_parts(self) -> tuple[str, int, str]:
        """(head text, hidden line count, tail text incl. the current line) for display."""
        cut = _cut_line
        head = "\n".join(cut(x) for x in self.head)
        tail_lines = [cut(x) for x in self.tail]
        cur = self._current()
        if cur:
            tail_lines.append(cut(cur))
        return head, self.hidden, "\n".join(tail_lines)

    def display_lines(self) -> tuple[list[str], int, list[str]]:
        """(head lines, hidden line count, tail lines incl. the current line), long lines cut."""
        cut = _cut_line
        tail = [cut(x) for x in self.tail]
        cur = self._current()
        if cur:
            tail.append(cut(cur))
        return [cut(x) for x in self.head], self.hidden, tail

    def full_text(self) -> str:
        text = "".join(self._full) + self._current()
        if self.truncated:
            text += f"\n[... {self.truncated} more characters not kept]"
        return text

    @property
    def size(self) -> int:
        return self._full_size + len(self._current())


def _cut_line(line: str) -> str:
    if len(line) <= MAX_LINE_DISPLAY:
        return line
    return line[:MAX_LINE_DISPLAY] + f" … [{len(line) - MAX_LINE_DISPLAY} more characters]"


@dataclass
class RichSegment:
    kind: str  # "image" | "markdown"
    data: Any  # PNG bytes | markdown str
    mime: str = ""
    metadata: dict = field(default_factory=dict)
    alt: str = ""  # the text/plain fallback


class OutputBuffer:
    """All outputs of one cell. Feed it events with :meth:`add`; views poll :attr:`version`."""

    def __init__(self, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES, hard_cap: int = HARD_CAP):
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.hard_cap = hard_cap
        self.lock = threading.RLock()
        self.segments: list[TextSegment | RichSegment] = []
        self.version = 0
        self.dropped_segments = 0
        self._clear_pending = False
        self._reader_waiting = False

    def read_lock(self):
        """The lock, taken with priority over writers (a writer flooding on another thread steps aside), so a
        UI reading the buffer never waits behind a stream of appends."""
        buf = self

        class _Ctx:
            def __enter__(self_inner):
                buf._reader_waiting = True
                buf.lock.acquire()
                buf._reader_waiting = False
                return buf

            def __exit__(self_inner, *exc):
                buf.lock.release()

        return _Ctx()

    # ---------------------------------------------------------------- writing
    def clear(self) -> None:
        with self.lock:
            self.segments = []
            self.dropped_segments = 0
            self._clear_pending = False
            self.version += 1

    def _text_segment(self, kind: str, name: str = "") -> TextSegment:
        last = self.segments[-1] if self.segments else None
        if isinstance(last, TextSegment) and last.kind == kind and last.name == name and kind == "stream":
            return last
        if len(self.segments) >= MAX_SEGMENTS:
            # too many segments: append to the last text segment rather than grow without bound
            self.dropped_segments += 1
            for seg in reversed(self.segments):
                if isinstance(seg, TextSegment):
                    return seg
        seg = TextSegment(kind, name, self.max_lines, self.max_bytes, self.hard_cap)
        self.segments.append(seg)
        return seg

    def _apply_pending_clear(self) -> None:
        if self._clear_pending:
            self.segments = []
            self._clear_pending = False

    def add(self, event: Event) -> None:
        """Add one kernel event (Stream, Display, Result, Error, ClearOutput)."""
        if self._reader_waiting:  # let the reader (the UI) in first: Python locks are not fair
            time.sleep(0.0002)
        with self.lock:
            if isinstance(event, ClearOutput):
                if event.wait:
                    self._clear_pending = True
                else:
                    self.segments = []
                self.version += 1
                return
            self._apply_pending_clear()
            if isinstance(event, Stream):
                self._text_segment("stream", event.name).feed(event.text)
            elif isinstance(event, Error):
                seg = self._text_segment("error")
                tb = "\n".join(event.traceback) if event.traceback else f"{event.ename}: {event.evalue}"
                seg.feed(tb + "\n")
            elif isinstance(event, (Display, Result)):
                self._add_bundle(event)
            self.version += 1
        if isinstance(event, Stream) and len(event.text) > 4096:
            # a big chunk cost this (kernel) thread a while: hand the GIL over now, so the UI thread does not
            # wait for the interpreter's 5 ms switch interval at every step of its event loop
            time.sleep(0)

    def stream(self, name: str, text: str) -> None:
        self.add(Stream(name, text))

    def _add_bundle(self, event: Display | Result) -> None:
        data = event.data or {}
        plain = data.get("text/plain", "")
        if isinstance(plain, list):
            plain = "".join(plain)
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                raw = data[mime]
                try:
                    blob = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
                except Exception:
                    log.debug("_add_bundle: caught and carried on", exc_info=True)
                    break
                self._add_rich(RichSegment("image", blob, mime, dict(event.metadata or {}), plain))
                return
        if "text/markdown" in data:
            md = data["text/markdown"]
            self._add_rich(RichSegment("markdown", "".join(md) if isinstance(md, list) else md, "text/markdown",
                                       dict(event.metadata or {}), plain))
            return
        if plain:
            kind = "result" if isinstance(event, Result) else "display"
            seg = self._text_segment(kind)
            seg.feed(plain + "\n")

    def _add_rich(self, seg: RichSegment) -> None:
        if len(self.segments) >= MAX_SEGMENTS:
            self.dropped_segments += 1
            return
        self.segments.append(seg)

    # ---------------------------------------------------------------- reading
    def snapshot(self) -> list[TextSegment | RichSegment]:
        with self.lock:
            return list(self.segments)

    @property
    def hidden_lines(self) -> int:
        with self.lock:
            return sum(s.hidden for s in self.segments if isinstance(s, TextSegment))

    @property
    def total_lines(self) -> int:
        with self.lock:
            return sum(s.total_lines + (1 if s.pending else 0) for s in self.segments if isinstance(s, TextSegment))

    @property
    def images(self) -> list[bytes]:
        with self.lock:
            return [s.data for s in self.segments if isinstance(s, RichSegment) and s.kind == "image"]

    def display_text(self, marker: str = "[{n} lines hidden]") -> str:
        """The capped text as shown (ANSI kept), with a marker where lines are hidden; rich segments as alt."""
        out = []
        with self.lock:
            for s in self.segments:
                if isinstance(s, TextSegment):
                    head, hidden, tail = s.display_parts()
                    parts = [p for p in (head, marker.format(n=hidden) if hidden else "", tail) if p]
                    out.append("\n".join(parts))
                else:
                    out.append(s.alt or f"<{s.kind}>")
        return "\n".join(out)

    def full_text(self) -> str:
        """Everything (up to the hard cap per segment): streams, results, tracebacks; images as their alt text."""
        out = []
        with self.lock:
            for s in self.segments:
                if isinstance(s, TextSegment):
                    out.append(s.full_text().rstrip("\n"))
                else:
                    out.append(s.alt or f"<{s.kind} {s.mime}>")
        return "\n".join(out)

    def __bool__(self) -> bool:
        return True
