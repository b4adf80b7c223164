"""One base class for the errors fm-tutor raises on purpose: each carries a message written for the learner (what
went wrong and what to do), which every front end (the TUI's notices, the CLI's stderr, `run-cells`) shows as is.

Subclasses keep the built-in base they had (ValueError, LookupError, RuntimeError), so existing ``except`` clauses
still catch them.
"""
from __future__ import annotations


class TutorError(Exception):
    """An expected failure with a message for the learner (``str(err)`` / :attr:`learner_message`)."""

    @property
    def learner_message(self) -> str:
        return str(self)
