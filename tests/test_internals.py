"""The private Textual and jupyter_client attributes and the transformers serve internals fm-tutor relies on
(tutor.core.internals) still exist in the installed versions: a failure here names the one that went away, before
anything subtler breaks."""
from __future__ import annotations

import importlib
import inspect

import pytest

from tutor.core import internals


def _owner(path: str):
    mod, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(mod), cls)


@pytest.mark.parametrize("owner,attr", internals.TEXTUAL_PRIVATE + internals.JUPYTER_PRIVATE)
def test_private_attribute_still_exists(owner, attr):
    cls = _owner(owner)
    if hasattr(cls, attr):
        return
    # instance attributes (set in __init__ or declared as traitlets) show up in the class's source or traits
    traits = getattr(cls, "class_trait_names", lambda: [])()
    src = inspect.getsource(cls)
    assert attr in traits or f"self.{attr}" in src, (
        f"{owner}.{attr} is gone from the installed version: update tutor/core/internals.py and its callers")


def test_overridden_methods_keep_their_signatures():
    from textual.screen import Screen
    from textual.widgets import TextArea

    assert list(inspect.signature(getattr(Screen, internals.REFRESH_LAYOUT)).parameters)[:3] == ["self", "size", "scroll"]
    assert list(inspect.signature(getattr(TextArea, internals.EDITOR_ON_KEY)).parameters) == ["self", "event"]


def test_the_helpers_work_on_real_objects():
    from jupyter_client.manager import KernelManager

    km = KernelManager()
    assert internals.kernel_process(km) is None  # not started: no provisioner yet
    internals.keep_connection_file(km)
    assert km._connection_file_written is False


def test_transformers_serve_still_serves_its_app_through_uvicorn_config():
    """tutor.backend.hfserve guards `transformers serve` by wrapping the app handed to uvicorn.Config: if transformers
    built its server another way, the guard would be bypassed (the real-server test would then fail too)."""
    cfg, main, serve = (getattr(importlib.import_module(m), a) for m, a in
                        (internals.UVICORN_CONFIG, internals.TRANSFORMERS_CLI_MAIN, internals.SERVE_INIT))
    assert callable(main)
    assert list(inspect.signature(cfg.__init__).parameters)[:2] == ["self", "app"], (
        "uvicorn.Config's first parameter is no longer the app: update tutor.backend.hfserve.install_guard")
    src = inspect.getsource(serve.__init__)
    assert "uvicorn.Config(app" in src or "uvicorn.run(app" in src, (
        "transformers serve no longer hands its app to uvicorn.Config: update tutor.backend.hfserve")
