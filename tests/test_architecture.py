"""The import rules of ARCHITECTURE.md, checked at run time: each test imports every module of some rooms in a fresh
interpreter and inspects sys.modules. (`lint-imports` checks the same rules statically, in .ci/run.)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"tutor.widgets": ROOT / "widgets", "tutor.progress": ROOT / "progress", "tutor.content": ROOT / "content"}
LAYERS = [["tutor.cli", "tutor.runtime"], ["tutor.ui"], ["tutor.widgets"], ["tutor.learning", "tutor.search"],
          ["tutor.kernel", "tutor.backend", "tutor.progress"], ["tutor.course"], ["tutor.core"], ["tutor.models"]]


def modules(room: str) -> list[str]:
    base = FOLDERS.get(room, ROOT / room.replace(".", "/"))
    out = []
    for f in sorted(base.rglob("*.py")):
        rel = f.relative_to(base).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts and parts[-1] == "__main__":
            continue
        out.append(".".join([room, *parts]))
    return out


def loaded_after_importing(rooms: list[str], skip: tuple[str, ...] = ()) -> list[str]:
    mods = [m for r in rooms for m in modules(r) if not m.startswith(skip)]
    code = ("import importlib, json, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_the_package_has_one_top_level_name():
    assert all(modules(r) for r in ("tutor.widgets", "tutor.progress", "tutor.course"))
    out = subprocess.run([sys.executable, "-c", "import importlib.util as u; print([n for n in ('widgets', 'progress', "
                          "'content') if u.find_spec(n)])"], capture_output=True, text=True, cwd="/", timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("level", range(1, len(LAYERS)))
def test_layers_import_only_downwards(level):
    """Importing every module of a layer and those below it loads no module of a layer above it."""
    rooms = [r for layer in LAYERS[level:] for r in layer]
    above = tuple(r for layer in LAYERS[:level] for r in layer)
    loaded = loaded_after_importing(rooms)
    bad = [m for m in loaded if m.startswith(above) and m.split(".")[:2] != ["tutor", ""]]
    bad = [m for m in bad if any(m == a or m.startswith(a + ".") for a in above)]
    assert not bad, f"{LAYERS[level]} pulled in higher layers: {bad}"


def test_widgets_touch_neither_sqlite_store_nor_kernels():
    loaded = loaded_after_importing(["tutor.widgets"])
    bad = [m for m in loaded if m.startswith(("tutor.progress", "jupyter_client", "tutor.kernel.pool",
                                              "tutor.kernel.kernel", "tutor.backend", "sqlite_utils"))]
    assert not bad, bad


def test_no_textual_below_the_ui():
    loaded = loaded_after_importing(["tutor.course", "tutor.progress", "tutor.learning", "tutor.search", "tutor.kernel",
                                     "tutor.backend", "tutor.runtime", "tutor.core"])
    bad = [m for m in loaded if m.split(".")[0] in ("textual", "rich")]
    assert not bad, bad[:20]


def test_heavy_ml_only_in_the_runtime_and_the_model_build():
    loaded = loaded_after_importing(["tutor.cli", "tutor.ui", "tutor.widgets", "tutor.learning", "tutor.search", "tutor.kernel",
                                     "tutor.progress", "tutor.course", "tutor.core", "tutor.backend"],
                                    skip=("tutor.backend.modelbuild",))
    bad = [m for m in loaded if m.split(".")[0] in ("torch", "transformers", "peft", "vllm")]
    assert not bad, bad[:20]
