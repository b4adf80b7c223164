"""Every private attribute of Textual and jupyter_client that fm-tutor relies on, in one place.

Each is reached only through this module, and ``tests/test_internals.py`` fails loudly, naming the attribute, if the
pinned version (``textual>=8.2,<9``, ``jupyter_client>=8.6``) no longer has it. This module imports neither
package: it works on the objects it is given.

Textual
- ``App._batch_count``: > 0 while the app batches updates (a layout pass then does not paint).
- ``Screen._refresh_layout(size, scroll)``: :class:`tutor.ui.screens.paint.PaintOnceScreen` overrides it (the reader, the dashboard)
  to mark the screen painted after its own layout pass, so the resume handler's full repaint is not done twice.
- ``Screen._repaint_required``: that pending full-repaint request.
- ``TextArea._on_key(event)``: the code cell's editor overrides it so that ``esc`` leaves edit mode.

jupyter_client
- ``KernelManager.provisioner.process``: the local kernel's ``subprocess.Popen`` (pid, poll, kill).
- ``KernelManager._connection_file_written``: cleared so that the manager's ``__del__`` keeps the connection file of
  a kernel that is being detached (the next fm-tutor reattaches through it).
"""
from __future__ import annotations

from typing import Any

# (owner, attribute) pairs checked by tests/test_internals.py against the installed versions
TEXTUAL_PRIVATE = [("textual.app.App", "_batch_count"), ("textual.screen.Screen", "_refresh_layout"),
                   ("textual.screen.Screen", "_repaint_required"), ("textual.widgets.TextArea", "_on_key")]
JUPYTER_PRIVATE = [("jupyter_client.manager.KernelManager", "_connection_file_written"),
                   ("jupyter_client.manager.KernelManager", "provisioner"),
                   ("jupyter_client.provisioning.local_provisioner.LocalProvisioner", "process")]

REFRESH_LAYOUT = "_refresh_layout"  # the name tutor.ui.screens.paint.PaintOnceScreen overrides
EDITOR_ON_KEY = "_on_key"  # the name the code cell's editor overrides


def app_is_batching(app: Any) -> bool:
    """True while ``app`` batches updates (Textual's ``App._batch_count``)."""
    return bool(app._batch_count)


def clear_repaint_request(screen: Any) -> None:
    """Drop a screen's pending full-repaint request (Textual's ``Screen._repaint_required``)."""
    screen._repaint_required = False


def kernel_process(km: Any) -> Any:
    """The local kernel process of a jupyter_client KernelManager (``provisioner.process``), or None."""
    return getattr(getattr(km, "provisioner", None), "process", None)


def keep_connection_file(km: Any) -> None:
    """Make a KernelManager leave its connection file behind when it is garbage-collected (a detached kernel)."""
    km._connection_file_written = False
