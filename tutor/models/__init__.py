"""Built-in model files (no code that imports torch here): `tutor/models/fm-tiny/` is built by
`fm-tutor model build` (tutor/backend/modelbuild.py) from the course's own text."""
from __future__ import annotations

import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
BUILTIN = ("fm-tiny",)


def builtin_path(name: str) -> Path:
    """Directory of a built-in model (it may not be built yet)."""
    return MODELS_DIR / name


def card(name: str = "fm-tiny") -> dict | None:
    """The model card (fm_tiny.json) of a built-in model, or None if it is not built."""
    p = builtin_path(name) / (name.replace("-", "_") + ".json")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
