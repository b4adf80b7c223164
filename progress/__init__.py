"""Learner progress for fm-tutor: one SQLite file, written off the UI thread.

A plain library (no Textual, torch or transformers) that the TUI and CLI call::

    from tutor.progress import ProgressStore, default_db_path, StoreStatus
    store = ProgressStore()          # default_db_path(); ":memory:" also works
    store.open_lesson("01"); store.step_shown("01", "1-intro")
    store.flush(); store.close()

Tables and migrations are documented in ``tutor.progress.schema``.
"""

from tutor.progress.schema import SCHEMA_VERSION
from tutor.progress.store import LessonState, ProgressStore, StoreStatus, default_db_path

__all__ = ["SCHEMA_VERSION", "LessonState", "ProgressStore", "StoreStatus", "default_db_path"]
