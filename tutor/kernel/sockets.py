"""One ZeroMQ context for every kernel connection this process makes, alive until the process exits.

jupyter_client gives each kernel manager and client a context of its own and lets the garbage collector destroy
it. When the manager or client ends up in a reference cycle, the collector clears the context's weak list of
sockets before it runs the finalizers, so ``Context.term()`` waits for sockets it no longer knows about, which
nobody will close: whichever thread ran the collection hangs (the TUI froze for minutes). A context that is never
collected cannot hang that way: its sockets are closed by ``stop_channels``, or by their own finalizers.
"""
from __future__ import annotations

import threading

_lock = threading.Lock()
_context = None


def shared_context():
    """The process-wide ``zmq.asyncio.Context`` for kernel managers and clients (created on first use)."""
    global _context
    with _lock:
        if _context is None or _context.closed:
            import zmq.asyncio

            _context = zmq.asyncio.Context()
        return _context
