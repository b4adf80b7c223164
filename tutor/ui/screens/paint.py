"""PaintOnceScreen: a screen painted once when it is shown, not twice.

Textual's ScreenResume handler asks for a repaint of the whole screen, and its update tick then lays out and paints
the screen, then paints it all a second time for that request: 20-40 ms here for a full screen (a lesson page, the
dashboard's tables), each time the screen is shown. Here the layout pass paints the whole screen (the screen itself
is added to what it paints: left alone, a layout pass paints only the widgets whose place changed, and a screen shown
again with the same layout would keep the previous screen's text on the terminal wherever nothing moved), and the
request it satisfied is dropped (both through :mod:`tutor.core.internals`).

:meth:`PaintOnceScreen.layout_now` lays out and paints the screen at once: a change made in a key's handler (the
reader's `n`) otherwise reaches the terminal only after the Layout messages of its widgets, the screen's idle
handler and its update timer (1 to 20 ms on a loaded machine, before the layout itself).
"""
from __future__ import annotations

from textual.screen import Screen

from tutor.core.internals import (app_is_batching, clear_repaint_request, layout_and_paint,
                                  paint_whole_screen_in_layout, repaint_requested)


class PaintOnceScreen(Screen):
    def _refresh_layout(self, size=None, scroll: bool = False) -> None:  # tutor.core.internals.REFRESH_LAYOUT
        painted = self.is_current and not app_is_batching(self.app) and repaint_requested(self)
        if painted:
            paint_whole_screen_in_layout(self)
        super()._refresh_layout(size, scroll)
        if painted:
            clear_repaint_request(self)

    def layout_now(self, *repaint) -> bool:
        """Lay out and paint this screen now if it is the one shown and the app is not batching updates; the
        widgets in ``repaint`` (content changed, place kept) are painted with it.
        -> whether it did (else the next update tick will, as usual)."""
        if not self.is_current or app_is_batching(self.app):
            return False
        layout_and_paint(self, repaint)
        return True
