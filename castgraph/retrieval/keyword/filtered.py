"""Keyword search with filters: FTS5 ranks, pruned to the rarer terms on large indexes.

A filtered search needs each match's row (episode, speakers, language, date), so it cannot use
the cached postings (``postings``) and FTS5 ranks it. When some query terms are so common that
ranking them would cost a pass over much of the index, FTS5 ranks only the rarer ones (until
their document frequencies reach ``CANDIDATE_BUDGET``) and a pool of the best is re-scored in
Python with every term (``bm25``); chunks matching only the common terms then appear only if
the rarer terms find fewer than ``k``.
"""

from __future__ import annotations

import sqlite3

from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.keyword import bm25
from castgraph.retrieval.keyword.schema import (
    Row,
    filter_sql,
    match_expression,
    placeholders,
    rank_sql,
)

CANDIDATE_BUDGET = 10_000
"""Postings FTS5 may rank per query; rarer terms are chosen until their frequencies reach it."""
POOL_SIZE = 200
"""Candidates re-scored with every query term when some terms were too common to rank."""


def search_filtered(
    conn: sqlite3.Connection, terms: list[str], k: int, filters: SearchFilters
) -> list[Hit]:
    """The ``k`` best chunks passing ``filters`` for the analysed ``terms`` (score = -bm25)."""
    where, params = filter_sql(filters)
    df = _document_frequencies(conn, terms)
    terms = [t for t in terms if df.get(t)]
    if not terms:  # no term occurs anywhere (this also covers an empty index)
        return []
    chosen = bm25.candidate_terms(terms, df, CANDIDATE_BUDGET)
    exact = len(chosen) == len(terms)
    sql = rank_sql(where)
    pool = max(POOL_SIZE, 2 * k)
    rows = conn.execute(sql, [match_expression(chosen), *params, k if exact else pool])
    ranked: list[Row] = rows.fetchall()
    if exact:
        return [Hit(chunk_id=str(r[1]), score=float(str(r[2]))) for r in ranked]
    if len(ranked) < k:  # the rare terms ran dry: the common ones must fill the list
        rows = conn.execute(sql, [match_expression(terms), *params, k])
        return [Hit(chunk_id=str(r[1]), score=float(str(r[2]))) for r in rows]
    return _rescore(conn, ranked, df)[:k]


def _rescore(conn: sqlite3.Connection, ranked: list[Row], df: dict[str, int]) -> list[Hit]:
    """Score ``ranked`` (rid, id, _) rows with every term of ``df``, best first."""
    docs, tokens = conn.execute("SELECT docs, tokens FROM totals").fetchone()
    weights = {t: bm25.idf(n, docs) for t, n in df.items() if n}
    avgdl = tokens / docs if docs else 0.0
    ids = {int(str(r[0])): str(r[1]) for r in ranked}
    rids = list(ids)
    sql = f"SELECT rowid, terms FROM chunk_terms WHERE rowid IN {placeholders(rids)}"
    scored = []
    for rid, terms in conn.execute(sql, rids):
        tf, length = bm25.term_counts(str(terms), weights)
        scored.append((bm25.score(tf, length, weights, avgdl), rid))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [Hit(chunk_id=ids[rid], score=s) for s, rid in scored]


def _document_frequencies(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    sql = f"SELECT term, df FROM term_df WHERE term IN {placeholders(terms)}"
    return {str(t): int(n) for t, n in conn.execute(sql, terms)}
