"""Test helpers: the plain text of what widgets show."""
from __future__ import annotations

from rich.console import Console


def plain(renderable, width: int = 120) -> str:
    if isinstance(renderable, str):
        return renderable
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    console.print(renderable)
    return console.export_text()


def widget_text(widget, width: int = 120) -> str:
    content = getattr(widget, "content", None)
    if content is None:
        return ""
    return plain(content, width)


def texts(widgets, width: int = 120) -> str:
    return "\n".join(widget_text(w, width) for w in widgets)
