"""KeyBar: the footer line of key hints, as one Static.

Textual's Footer builds a widget per key and rebuilds them whenever focus moves (about 270 style nodes for
one screen open here); this draws the same hints as one line of text, so opening a screen stays cheap.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.core.glyphs import g


# keys the footer always shows, however narrow the terminal: the way back and help
PINNED_KEYS = ("escape", "question_mark")
MORE = " … "  # some keys were left out (? lists them all)
STATUS_MIN = 22  # columns kept for the model status ("model ready · 120 MB · …") before the keys take the rest


def _hint_len(key: str, description: str) -> int:
    return len(key) + len(description) + 4


def fit_keys(items: list[tuple[str, str, bool, bool]], width: int) -> Text:
    """The footer line for ``items`` (key, description, enabled, pinned) in ``width`` columns: pinned keys
    always, the others in order where they fit; when some are left out, a "…" marker says so."""
    total = sum(_hint_len(k, d) for k, d, _e, _p in items)
    keep = [True] * len(items)
    if total > width:
        budget = width - len(MORE) - sum(_hint_len(k, d) for k, d, _e, p in items if p)
        for i, (k, d, _e, pinned) in enumerate(items):
            if pinned:
                continue
            n = _hint_len(k, d)
            keep[i] = n <= budget
            budget -= n if keep[i] else 0
    t = Text(no_wrap=True, overflow="ellipsis")
    for (key, description, enabled, _p), k in zip(items, keep):
        if k:
            t.append(f" {key} ", style="bold reverse" if enabled else "dim reverse")
            t.append(f" {description} ", style="" if enabled else "dim")
    if not all(keep):
        t.append(MORE, style="dim")
    return t


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
        items: list[tuple[str, str, bool, bool]] = []  # key, description, enabled, pinned
        for _ns, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = app.get_key_display(binding)
            items.append((key, binding.description, enabled, binding.key in PINNED_KEYS))
        if app.ENABLE_COMMAND_PALETTE:
            items.append(("^p", "palette", True, False))
        width = self.size.width or app.size.width
        status = getattr(app, "model_status", "")  # the model server: state · memory · model · engine · device
        # the status keeps its first words (the state) however narrow: the keys fit in what is left
        t = fit_keys(items, width - (min(len(status), STATUS_MIN) + 2 if status else 0))
        if status:
            room = width - t.cell_len - 2
            if room >= min(len(status), 8):
                t.append(" " * max(1, room - len(status)))
                shown = status if len(status) <= room else status[:room - 1] + g("cut")  # a marker where it is cut
                t.append(shown, style="red" if "failed" in status else ("green" if "ready" in status else "yellow"))
        if t != getattr(self, "_shown", None):  # the same hints again (focus moved within a group): no relayout
            self._shown = t
            self.update(t)

    def on_resize(self) -> None:
        self._redraw()
