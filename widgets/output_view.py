"""OutputView: shows a cell's :class:`tutor.kernel.OutputBuffer`.

The buffer is fed on the kernel thread; this widget polls its ``version`` on a timer (every
``REFRESH_INTERVAL`` s) and re-syncs only the segments that changed. Text segments use the Line API: only the
rows on screen (at most 20 a segment; it scrolls inside) are styled, so a flood of output costs the UI loop
one small render per tick (the buffer keeps at most ~500 lines per segment for display).
Text keeps its ANSI colours (``Text.from_ansi``); hidden lines show as a "N lines hidden — press o to view
all" marker. Images use textual-image when it works and a half-block rendering otherwise.

Import this module before the App starts running: textual-image queries the terminal once at import.
"""
from __future__ import annotations

import io
import logging

from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tutor.core.glyphs import g
from tutor.kernel.events import strip_ansi
from tutor.kernel.outputs import OutputBuffer, RichSegment, TextSegment

log = logging.getLogger(__name__)

_TIImage = None  # textual-image's Image widget, once enable_terminal_images() has found a graphics protocol


def enable_terminal_images() -> bool:
    """Import textual-image, which asks the terminal (once) which graphics protocol it speaks.

    Call it before the App takes the terminal over. Without it, images are drawn with half blocks, which work
    everywhere (tmux, SSH, 16 colours) and cost no start-up time.
    """
    global _TIImage
    try:
        from textual_image.widget import Image

        _TIImage = Image
    except Exception:  # no terminal / broken install: the half-block fallback is used
        log.debug("enable_terminal_images: no terminal / broken install: the half-block fallback is used", exc_info=True)
        _TIImage = None
    return _TIImage is not None

REFRESH_INTERVAL = 0.08
HIDDEN_MARKER = "⋯ {n} lines hidden — press o to view all ⋯"


def halfblock_text(png: bytes, width: int = 60) -> Text:
    """Render an image as rich Text with '▀' half blocks (two pixels a cell); works in 16 colours too."""
    from PIL import Image as PILImage

    img = PILImage.open(io.BytesIO(png)).convert("RGB")
    w = max(1, min(width, img.width))
    h = max(2, int(img.height * w / img.width))
    h += h % 2
    img = img.resize((w, h))
    px = img.load()
    text = Text()
    for y in range(0, h, 2):
        for x in range(w):
            top, bot = px[x, y], px[x, y + 1]
            text.append("▀", Style(color=f"rgb({top[0]},{top[1]},{top[2]})",
                                   bgcolor=f"rgb({bot[0]},{bot[1]},{bot[2]})"))
        if y + 2 < h:
            text.append("\n")
    return text


class _TextPart(ScrollView, can_focus=False):
    """Terminal text of one segment, Line API: only the visible rows are turned into styled strips, so a
    500-line segment costs the same per frame as a 20-line one. No soft wrap (long lines scroll sideways)."""

    DEFAULT_CSS = """
    _TextPart { height: auto; width: 1fr; scrollbar-size: 1 1; }
    """
    MAX_ROWS = 20

    def __init__(self, seg: TextSegment, **kw) -> None:
        super().__init__(**kw)
        self.seg = seg
        self.shown_version = -1
        self.rows: list[str] = []
        self.marker_row = -1
        self._cache: dict[int, Strip] = {}
        self._follow = True  # stick to the newest line until the reader scrolls up
        self._wide = False  # some line is wider than the view (it scrolls sideways)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._follow = new >= self.max_scroll_y - 1

    def _to_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self._follow = True

    def sync(self) -> bool:
        """Take the segment's display lines (call with the buffer's lock held). Cheap: no styling here."""
        seg = self.seg
        if seg.version == self.shown_version:
            return False
        self.shown_version = seg.version
        head, hidden, tail = seg.display_lines()
        rows = head
        self.marker_row = -1
        if hidden:
            self.marker_row = len(rows)
            rows = rows + [HIDDEN_MARKER.format(n=f"{hidden:,}")]
        rows = rows + tail
        follow = self._follow
        self.rows = rows
        self._cache.clear()
        width = max((len(r) for r in rows), default=0)
        self.virtual_size = Size(width, len(rows))
        wide = width > max(1, self.size.width or 78)
        self.styles.height = min(len(rows), self.MAX_ROWS) + (1 if wide else 0)
        if wide != self._wide:  # the cell's right/left keys show while a line is wider
            self._wide = wide
            self.call_after_refresh(self.refresh_bindings)
        if follow and len(rows) > self.MAX_ROWS:
            self.call_after_refresh(self._to_end)
        self.refresh()
        return True

    def _strip(self, i: int) -> Strip:
        strip = self._cache.get(i)
        if strip is None:
            if i == self.marker_row:
                text = Text(self.rows[i], style="reverse")
            else:
                text = Text.from_ansi(self.rows[i], no_wrap=True)
                if self.seg.kind == "error" and not text.spans:
                    text.stylize("red")
            strip = Strip(list(text.render(self.app.console, end="")))
            self._cache[i] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        sx, sy = self.scroll_offset
        i = sy + y
        width = self.size.width
        if i >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        strip = self._strip(i)
        line = strip.crop_extend(sx, sx + width, self.rich_style)
        marker = self.rich_style + Style(bold=True, reverse=True)
        if strip.cell_length > sx + width and width > 1:  # the line continues past the right edge: say so
            line = Strip.join([line.crop(0, width - 1), Strip([Segment(g("more_right")[:1], marker)], 1)])
        if sx > 0 and strip.cell_length > 0 and width > 1:
            line = Strip.join([Strip([Segment(g("more_left")[:1], marker)], 1), line.crop(1, width)])
        return line

    def plain_rows(self) -> list[str]:
        return [strip_ansi(r) for r in self.rows]


class _ImagePart(Static):
    DEFAULT_CSS = """
    _ImagePart { height: auto; width: auto; }
    """

    def __init__(self, seg: RichSegment, **kw) -> None:
        super().__init__("", **kw)
        self.seg = seg

    def compose(self) -> ComposeResult:
        return []

    def on_mount(self) -> None:
        self.update(_safe_halfblock(self.seg))


def _safe_halfblock(seg: RichSegment) -> Text:
    try:
        return halfblock_text(seg.data)
    except Exception as e:
        log.debug("_safe_halfblock: caught and carried on", exc_info=True)
        return Text(f"[image {seg.mime}, {len(seg.data)} bytes: cannot render ({e})] {seg.alt}")


def _image_widget(seg: RichSegment) -> Widget:
    if _TIImage is not None:
        try:
            from PIL import Image as PILImage

            img = PILImage.open(io.BytesIO(seg.data))
            img.load()
            w = _TIImage(img, classes="-image")
            w.styles.width = "auto"
            w.styles.height = min(20, max(4, img.height // 24))
            return w
        except Exception:
            log.debug("_image_widget: caught and carried on", exc_info=True)
    return _ImagePart(seg, classes="-image")


class OutputView(Vertical, can_focus=False):
    """The outputs of one cell, live. ``buffer`` can be swapped with :meth:`set_buffer`."""

    DEFAULT_CSS = """
    OutputView { height: auto; padding: 0 0 0 1; border-left: tall $primary 30%; }
    OutputView.-empty { display: none; }
    OutputView > .output--hidden { height: 1; color: $text-muted; text-style: italic; }
    OutputView > .output--hidden.-none { display: none; }
    """

    def __init__(self, buffer: OutputBuffer | None = None, *, name=None, id=None, classes=None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = buffer if buffer is not None else OutputBuffer()
        self._shown_version = -1
        self._parts: list[tuple[object, Widget]] = []  # (segment, widget)

    def compose(self) -> ComposeResult:
        yield Static("", classes="output--hidden -none")

    def on_mount(self) -> None:
        self.set_class(True, "-empty")
        self.set_interval(REFRESH_INTERVAL, self.refresh_output)
        self.refresh_output()

    def set_buffer(self, buffer: OutputBuffer) -> None:
        self.buffer = buffer
        self._shown_version = -1
        self.refresh_output()

    @property
    def hidden_lines(self) -> int:
        return self.buffer.hidden_lines

    def refresh_output(self) -> None:
        """Bring the view up to date with the buffer (cheap when nothing changed)."""
        buf = self.buffer
        if buf.version == self._shown_version or not self.is_mounted:
            return
        with buf.read_lock():
            self._shown_version = buf.version
            segs = list(buf.segments)
        # drop widgets whose segment is gone (cleared output) or replaced
        keep = 0
        while keep < len(self._parts) and keep < len(segs) and self._parts[keep][0] is segs[keep]:
            keep += 1
        for _, w in self._parts[keep:]:
            w.remove()
        self._parts = self._parts[:keep]
        new: list[Widget] = []
        for seg in segs[keep:]:
            if isinstance(seg, TextSegment):
                w: Widget = _TextPart(seg, classes=f"-{seg.kind}")
            elif seg.kind == "image":
                w = _image_widget(seg)
            else:
                w = Static(RichMarkdown(seg.data, code_theme="ansi_dark", hyperlinks=False), classes="-markdown")
            self._parts.append((seg, w))
            new.append(w)
        note = self.query_one(".output--hidden", Static)
        if new:
            self.mount_all(new, before=note)
        with buf.read_lock():  # the kernel thread may be appending to these segments right now
            for _, w in self._parts:
                if isinstance(w, _TextPart):
                    w.sync()
        self.set_class(not segs, "-empty")
        hidden = sum(seg.hidden for seg in segs if isinstance(seg, TextSegment))
        note.set_class(not hidden, "-none")
        if hidden:
            note.update(HIDDEN_MARKER.format(n=f"{hidden:,}"))

    @property
    def overflows(self) -> bool:
        """Some text output line is wider than the view (the cell's right/left scroll it)."""
        return any(isinstance(w, _TextPart) and w.max_scroll_x > 0 for _, w in self._parts)

    def scroll_sideways(self, direction: int) -> None:
        """Scroll the wide text outputs about a third of their width right (``direction`` > 0) or left."""
        for _, w in self._parts:
            if isinstance(w, _TextPart) and w.max_scroll_x > 0:
                w.scroll_relative(x=direction * max(8, w.size.width // 3), animate=False)

    def plain_text(self) -> str:
        """What is shown, as plain text (for tests and copy)."""
        return self.buffer.display_text(HIDDEN_MARKER)
