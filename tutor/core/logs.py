"""Logging: stdlib ``logging`` to a rotating file in the user state dir, never to the terminal (the TUI owns it).

    from tutor.core.logs import setup_logging, log_path
    setup_logging("info")        # the CLI does this once, from --log-level (default: warning)
    logging.getLogger(__name__).warning("...")

The file is ``platformdirs.user_state_dir("fm-tutor")/fm-tutor.log`` (or FM_TUTOR_LOG_FILE), 1 MB x 3 files;
``fm-tutor doctor`` prints where it is. Handlers that swallow an error on purpose log it at debug level at least, so
``--log-level debug`` shows everything that was caught.

A frozen screen can be looked into from outside: ``kill -USR1 PID`` appends the stack of every thread of that
fm-tutor to ``fm-tutor-stacks.txt`` beside the log (:func:`stacks_path`; the process carries on).
"""
from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from tutor.core.config import ENV_LOG_FILE, ENV_LOG_LEVEL

LEVELS = ("debug", "info", "warning", "error")
_configured: Path | None = None


def log_path() -> Path:
    """Where the log goes (the file need not exist yet)."""
    env = os.environ.get(ENV_LOG_FILE)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("fm-tutor")) / "fm-tutor.log"


def stacks_path(log: Path | None = None) -> Path:
    """Where ``kill -USR1`` writes the threads' stacks: beside the log file."""
    return (log or log_path()).with_name("fm-tutor-stacks.txt")


def _dump_stacks_on_usr1(log: Path) -> None:
    import faulthandler
    import signal

    global _stacks_file
    try:
        _stacks_file = open(stacks_path(log), "a", encoding="utf-8")  # kept open: the handler writes to its fd
        faulthandler.register(signal.SIGUSR1, file=_stacks_file, all_threads=True, chain=False)
    except (OSError, ValueError, AttributeError, RuntimeError):  # no such signal here, or not the main thread
        logging.getLogger(__name__).debug("no stack dump on SIGUSR1", exc_info=True)


_stacks_file = None


def setup_logging(level: str | None = None) -> Path | None:
    """Send the ``tutor`` loggers to the rotating log file at ``level`` (default FM_TUTOR_LOG_LEVEL or warning).
    Idempotent; -> the file, or None when it cannot be opened (logging then stays off, nothing is printed)."""
    global _configured
    name = (level or os.environ.get(ENV_LOG_LEVEL) or "warning").lower()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    logger = logging.getLogger("tutor")
    logger.setLevel(getattr(logging, name.upper()))
    path = log_path()
    if _configured == path:
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False  # never to the terminal
    _configured = path
    _dump_stacks_on_usr1(path)
    return path
