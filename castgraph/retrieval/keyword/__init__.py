"""Keyword (BM25) retrieval: Spanish/English analysis and an SQLite FTS5 index."""

from __future__ import annotations

from castgraph.retrieval.keyword.analyzer import analyze, query_terms
from castgraph.retrieval.keyword.sqlite_fts import KeywordIndex

__all__ = ["KeywordIndex", "analyze", "query_terms"]
