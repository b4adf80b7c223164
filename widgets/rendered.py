"""RenderedBlock: a read-only block of Rich content (lesson prose, highlighted code) drawn with the Line API.

A Static renders its content twice when a page opens (once to measure its height, once to paint it) and keeps
neither; a lesson page that opens in under 100 ms cannot afford that for its prose and code. This widget renders
its renderable once per content width into strips, answers the height from them and paints rows from them.
"""
from __future__ import annotations

from rich.console import RenderableType
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget


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
