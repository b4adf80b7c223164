"""RenderedBlock: a read-only block of Rich content (lesson prose, highlighted code) drawn with the Line API.

A Static renders its content twice when a page opens (once to measure its height, once to paint it) and keeps
neither; a lesson page that opens in under 100 ms cannot afford that for its prose and code. This widget renders
its renderable once per content width into strips, answers the height from them and paints rows from them.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from tutor.core.glyphs import g


class RenderedBlock(Widget):
    """Shows ``renderable`` (any Rich renderable); :meth:`update` replaces it."""

    DEFAULT_CSS = """
    RenderedBlock { height: auto; }
    """

    def __init__(self, renderable: RenderableType, **kw) -> None:
        super().__init__(**kw)
        self._renderable = renderable
        self._width = -1
        self._strips: list[Strip] = []
        self._line_style = None  # the widget's rich_style while render_lines runs

    @property
    def content(self) -> RenderableType:
        """The renderable shown (what tests and the clipboard read)."""
        return self._renderable

    def update(self, renderable: RenderableType) -> None:
        self._renderable = renderable
        self._width = -1
        self.refresh(layout=True)

    def _render_strips(self, width: int) -> list[Strip]:
        if width != self._width:
            console = self.app.console
            options = console.options.update_width(max(1, width)).update(highlight=False)
            lines = console.render_lines(self._renderable, options, pad=False, new_lines=False)
            self._strips = [Strip(Segment.simplify(line)) for line in lines]
            self._width = width
        return self._strips

    def prerender(self, width: int) -> None:
        """Render for ``width`` columns of content now (while the block is still hidden), so that its first layout
        finds the lines made."""
        if width > 0:
            self._render_strips(width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._render_strips(width))

    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # once per paint, not twice a line (it walks up the DOM each time)
        try:
            return super().render_lines(crop)
        finally:
            self._line_style = None

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        strips = self._render_strips(width)
        style = self._line_style if self._line_style is not None else self.rich_style
        if y >= len(strips):
            return Strip.blank(width, style)
        return strips[y].apply_style(style).extend_cell_length(width, style)


class WideBlock(RenderedBlock):
    """Text drawn at its natural width, never wrapped (code, diagrams, plain-text tables). Where it is wider than
    the widget it scrolls sideways (:meth:`scroll_sideways`): a line that continues past the right edge ends in a
    "→" marker, and one that continues to the left starts with "←", so no line is ever cut off silently."""

    def __init__(self, text: Text, **kw) -> None:
        super().__init__(text, **kw)
        self.shift = 0  # columns scrolled to the right
        self._measure(text)

    def _measure(self, text: Text) -> None:
        self._lengths = [cell_len(line.plain.rstrip()) for line in text.split("\n", allow_blank=True)]
        self.natural_width = max(self._lengths, default=0)

    def update(self, renderable: Text) -> None:
        self._measure(renderable)
        self.shift = 0
        super().update(renderable)
        self.call_after_refresh(self.refresh_bindings)  # the scroll keys show only while a line overflows

    def on_resize(self) -> None:
        self.refresh_bindings()

    @property
    def overflows(self) -> bool:
        """True when some line is wider than the widget (it can scroll sideways)."""
        return self.natural_width > self.content_size.width > 0

    def _render_strips(self, width: int) -> list[Strip]:
        return super()._render_strips(max(1, self.natural_width))  # one rendering, whatever the widget's width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lengths)

    def scroll_sideways(self, direction: int) -> bool:
        """Scroll about a third of the width right (``direction`` > 0) or left -> False when already at that end."""
        width = self.content_size.width
        step = max(8, width // 3)
        shift = max(0, min(self.natural_width - width, self.shift + (step if direction > 0 else -step)))
        if shift == self.shift:
            return False
        self.shift = shift
        self.refresh()
        return True

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        strips = self._render_strips(width)
        style = self._line_style if self._line_style is not None else self.rich_style
        if y >= len(strips) or width < 1:
            return Strip.blank(width, style)
        x = self.shift = max(0, min(self.shift, self.natural_width - width))
        strip = strips[y].crop(x, x + width)
        length = self._lengths[y] if y < len(self._lengths) else 0
        marker = style + Style(bold=True, reverse=True)
        if length > x + width and width > 1:
            strip = Strip.join([strip.crop(0, width - 1), Strip([Segment(g("more_right")[:1], marker)], 1)])
        if x > 0 and length > 0 and width > 1:
            strip = Strip.join([Strip([Segment(g("more_left")[:1], marker)], 1), strip.crop(1, width)])
        return strip.apply_style(style).extend_cell_length(width, style)
