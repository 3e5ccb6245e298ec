"""Keyword (BM25) retrieval: the ``KeywordIndex`` port, Spanish/English analysis, SQLite FTS5.

Backends: ``sqlite`` (an FTS5 index in one file of the data directory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from castgraph.core.errors import InputError
from castgraph.retrieval.keyword.analyzer import analyze, query_terms
from castgraph.retrieval.keyword.base import KeywordIndex
from castgraph.retrieval.keyword.sqlite_fts import SqliteKeywordIndex

if TYPE_CHECKING:
    from castgraph.core.settings import Settings

__all__ = ["KeywordIndex", "SqliteKeywordIndex", "analyze", "keyword_index", "query_terms"]


def keyword_index(settings: Settings, *, read_only: bool = False) -> KeywordIndex:
    """The keyword index ``settings`` choose (``keyword_backend``), not yet opened;
    ``read_only`` for a process beside the data directory's writer (it never writes)."""
    backend = settings.keyword_backend
    if backend == "sqlite":
        return SqliteKeywordIndex(settings.keyword_path, read_only=read_only)
    raise InputError(f"unknown keyword backend {backend!r}")
