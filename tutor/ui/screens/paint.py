"""PaintOnceScreen: a screen painted once when it is shown, not twice.

Textual's ScreenResume handler asks for a repaint of the whole screen, and its update tick then lays out and paints
the screen (all of it, as the layout changed), then paints it all a second time for that request: 20-40 ms here for
a full screen (a lesson page, the dashboard's tables), each time the screen is shown. A layout pass that painted the
screen satisfies that request, so this drops it (through :mod:`tutor.core.internals`).
"""
from __future__ import annotations

from textual.screen import Screen

from tutor.core.internals import app_is_batching, clear_repaint_request


class PaintOnceScreen(Screen):
    def _refresh_layout(self, size=None, scroll: bool = False) -> None:  # tutor.core.internals.REFRESH_LAYOUT
        painted = self.is_current and not app_is_batching(self.app)
        super()._refresh_layout(size, scroll)
        if painted:
            clear_repaint_request(self)
