"""Glyphs with ASCII fallbacks for the Linux console (TERM=linux) and FM_TUTOR_ASCII=1."""
from __future__ import annotations

import os
from tutor.core.config import ENV_ASCII, env_flag


def ascii_only() -> bool:
    return os.environ.get("TERM") == "linux" or env_flag(ENV_ASCII, False)


_UNICODE = {
    "not_started": "○",
    "in_progress": "◐",
    "done": "●",
    "missing": "·",
    "star": "★",
    "nostar": "☆",
    "arrow": "→",
    "down": "↓",
    "play": "▶",
    "bar_full": "█",
    "bar_empty": "░",
    "check": "✓",
    "cross": "✗",
    "cut": "…",
    "more_right": "→",  # a line continues past the right edge (it scrolls sideways)
    "more_left": "←",
}
_ASCII = {
    "not_started": "o",
    "in_progress": "~",
    "done": "x",
    "missing": ".",
    "star": "*",
    "nostar": ".",
    "arrow": "->",
    "down": "v",
    "play": ">",
    "bar_full": "#",
    "bar_empty": "-",
    "check": "+",
    "cross": "x",
    "cut": ">",
    "more_right": ">",
    "more_left": "<",
}


def g(name: str) -> str:
    return (_ASCII if ascii_only() else _UNICODE)[name]


def stars(n: int, total: int = 5) -> str:
    return g("star") * n + g("nostar") * (total - n)


def bar(fraction: float, width: int = 20) -> str:
    fraction = max(0.0, min(1.0, fraction))
    full = round(fraction * width)
    return g("bar_full") * full + g("bar_empty") * (width - full)


STATUS_LABEL = {"not_started": "not started", "in_progress": "in progress", "done": "done"}
