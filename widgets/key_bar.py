"""KeyBar: the footer line of key hints, as one Static.

Textual's Footer builds a widget per key and rebuilds them whenever focus moves (about 270 style nodes for
one screen open here); this draws the same hints as one line of text, so opening a screen stays cheap.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.core.glyphs import g


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._redraw()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self._redraw()

    def redraw(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        app = self.app
        seen: set[str] = set()
        t = Text(no_wrap=True, overflow="ellipsis")
        for _ns, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            t.append(f" {app.get_key_display(binding)} ", style="bold reverse" if enabled else "dim reverse")
            t.append(f" {binding.description} ", style="" if enabled else "dim")
        if app.ENABLE_COMMAND_PALETTE:
            t.append(" ^p ", style="bold reverse")
            t.append(" palette")
        status = getattr(app, "model_status", "")  # the model server: model · engine · device · state
        if status:
            room = self.size.width - t.cell_len - 2
            if room > 12:
                t.append(" " * max(1, room - len(status)))
                shown = status if len(status) <= room else status[:room - 1] + g("cut")  # a marker where it is cut
                t.append(shown, style="red" if "failed" in status else ("green" if "ready" in status else "yellow"))
        if t != getattr(self, "_shown", None):  # the same hints again (focus moved within a group): no relayout
            self._shown = t
            self.update(t)

    def on_resize(self) -> None:
        self._redraw()
