"""Search, notes retrieval and grounded questions over the course (no Textual): the FTS5 index
(:mod:`tutor.search.index`) and the ask pipeline (:mod:`tutor.search.ask`)."""
from tutor.search.index import Hit, SearchError, SearchIndex

__all__ = ["Hit", "SearchError", "SearchIndex"]
