"""Every private attribute of Textual and jupyter_client, and every internal of `transformers serve`, that fm-tutor
relies on, in one place.

Each is reached only through this module, and ``tests/test_internals.py`` fails loudly, naming the attribute, if the
pinned version (``textual>=8.2,<9``, ``jupyter_client>=8.6``, ``transformers>=5``) no longer has it. This module
imports none of these packages: it works on the objects it is given, or names them.

Textual
- ``App._batch_count``: > 0 while the app batches updates (a layout pass then does not paint).
- ``Screen._refresh_layout(size, scroll)``: :class:`tutor.ui.screens.paint.PaintOnceScreen` overrides it (the reader, the dashboard)
  to mark the screen painted after its own layout pass, so the resume handler's full repaint is not done twice.
- ``Screen._repaint_required``: that pending full-repaint request.
- ``Screen._refresh_layout()`` is also called directly by :meth:`PaintOnceScreen.layout_now` (the reader's `n`): the
  layout and paint done at once instead of after the messages and the update timer that would lead to them.
- ``Screen._dirty_widgets``: the widgets whose repaint regions the next layout pass paints; PaintOnceScreen adds itself
  (its whole region, which the resume handler's refresh marked) so that its layout pass paints all of it. Without
  that, a layout pass paints only the widgets whose place changed, and whatever the previous screen left in the
  other regions stays on the terminal.
- ``App._display(screen, renderable)``: where a frame goes to the terminal (dropped while the app batches);
  ``tests/test_app.py`` watches it to check that the home's first frame is not rendered only to be dropped.
- ``TextArea._on_key(event)``: the code cell's editor overrides it so that ``esc`` leaves edit mode.

jupyter_client
- ``KernelManager.provisioner.process``: the local kernel's ``subprocess.Popen`` (pid, poll, kill).
- ``KernelManager._connection_file_written``: cleared so that the manager's ``__del__`` keeps the connection file of
  a kernel that is being detached (the next fm-tutor reattaches through it).

transformers serve (used only in the server process, by :mod:`tutor.backend.hfserve`)
- ``transformers.cli.transformers.main``: the `transformers` console script's entry; the launcher runs it.
- ``transformers.cli.serve.Serve.__init__`` hands its FastAPI app to ``uvicorn.Config``: the launcher wraps the
  first parameter (``app``) of ``uvicorn.config.Config.__init__`` in its API-key guard, so a `transformers serve`
  that stopped serving through uvicorn would serve unguarded.
"""
from __future__ import annotations

from typing import Any

# (owner, attribute) pairs checked by tests/test_internals.py against the installed versions
TEXTUAL_PRIVATE = [("textual.app.App", "_batch_count"), ("textual.screen.Screen", "_refresh_layout"),
                   ("textual.screen.Screen", "_repaint_required"), ("textual.screen.Screen", "_dirty_widgets"),
                   ("textual.widgets.TextArea", "_on_key"), ("textual.app.App", "_display")]
JUPYTER_PRIVATE = [("jupyter_client.manager.KernelManager", "_connection_file_written"),
                   ("jupyter_client.manager.KernelManager", "provisioner"),
                   ("jupyter_client.provisioning.local_provisioner.LocalProvisioner", "process")]

# (module, attribute) of the transformers CLI entry the launcher runs, and of the class whose app it wraps
TRANSFORMERS_CLI_MAIN = ("transformers.cli.transformers", "main")
UVICORN_CONFIG = ("uvicorn.config", "Config")
SERVE_INIT = ("transformers.cli.serve", "Serve")  # its __init__ builds the app and passes it to uvicorn.Config

REFRESH_LAYOUT = "_refresh_layout"  # the name tutor.ui.screens.paint.PaintOnceScreen overrides
EDITOR_ON_KEY = "_on_key"  # the name the code cell's editor overrides
APP_DISPLAY = "_display"  # the name tests/test_app.py wraps to see each frame sent to the terminal


def app_is_batching(app: Any) -> bool:
    """True while ``app`` batches updates (Textual's ``App._batch_count``)."""
    return bool(app._batch_count)


def repaint_requested(screen: Any) -> bool:
    """True while a full repaint of ``screen`` is pending (Textual's ``Screen._repaint_required``)."""
    return bool(screen._repaint_required)


def paint_whole_screen_in_layout(screen: Any) -> None:
    """Make the next layout pass of ``screen`` paint its whole region (through Textual's ``Screen._dirty_widgets``,
    the region a ``refresh()`` of the screen marks for repaint)."""
    screen.refresh()  # the whole region marked (public API; the repaint request it sets is cleared after the pass)
    screen._dirty_widgets.add(screen)


def layout_and_paint(screen: Any, repaint: tuple = ()) -> None:
    """Lay out and paint ``screen`` now (Textual's ``Screen._refresh_layout``: a full reflow, then the regions it
    changed are painted), rather than on its next update tick; the widgets in ``repaint`` (whose content changed
    but not their place) are painted in the same pass (added to ``Screen._dirty_widgets``)."""
    screen._dirty_widgets.update(repaint)
    screen._refresh_layout()


def clear_repaint_request(screen: Any) -> None:
    """Drop a screen's pending full-repaint request (Textual's ``Screen._repaint_required``)."""
    screen._repaint_required = False


def ui_state(app: Any) -> dict[str, Any]:
    """What a frozen screen's diagnosis needs (the SIGUSR2 dump): the screen stack, focus, and Textual's pending
    layout/repaint flags and batch count (private attributes, read only here and only for this dump)."""
    screen = app.screen
    state: dict[str, Any] = {
        "screens": [type(s).__name__ for s in app.screen_stack],
        "focused": repr(screen.focused),
        "batch_count": getattr(app, "_batch_count", "?"),
        "layout_required": getattr(screen, "_layout_required", "?"),
        "repaint_required": getattr(screen, "_repaint_required", "?"),
        "dirty_widgets": len(getattr(screen, "_dirty_widgets", ()) or ()),
        "callbacks_pending": len(getattr(screen, "_callbacks", ()) or ()),
    }
    f = screen.focused
    if f is not None:
        comp = getattr(screen, "_compositor", None)
        state.update({
            "focused_region": f.region, "focused_display": f.display, "focused_visible": f.visible,
            "focused_attached": f.is_attached, "focused_screen": type(f.screen).__name__ if f.is_attached else None,
            "focused_in_compositor": comp is not None and f in comp.visible_widgets,
            "ancestors": [f"{type(a).__name__}#{a.id} display={a.display}" for a in f.ancestors][:8],
        })
    return state


def kernel_process(km: Any) -> Any:
    """The local kernel process of a jupyter_client KernelManager (``provisioner.process``), or None."""
    return getattr(getattr(km, "provisioner", None), "process", None)


def keep_connection_file(km: Any) -> None:
    """Make a KernelManager leave its connection file behind when it is garbage-collected (a detached kernel)."""
    km._connection_file_written = False
