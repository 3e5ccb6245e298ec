"""BM25 keyword index over one SQLite file: chunks in a plain table, analysed terms in FTS5.

Terms are analysed in Python (``analyzer``) and stored space-separated in an FTS5 table that uses
the ``ascii`` tokenizer: every analysed term is made of letters and digits only, so FTS5 sees
exactly the terms Python produced (non-ASCII letters are token characters for ``ascii``) and
never re-folds or re-splits them. ``detail=full`` is kept on purpose: with ``column`` or ``none``
FTS5 must re-tokenise each matching row to count term frequencies for ``bm25()``, which made
queries ~6x slower for a few percent less disk.

Document frequencies and totals are kept in plain tables beside FTS5 so that a query can rank
only its rarer terms in FTS5 and re-score that pool with every term (``filtered``, ``bm25``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from castgraph.core import faults
from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk
from castgraph.retrieval._sqlite import ADVICE, ThreadConnections
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.keyword.analyzer import ANALYZER_VERSION, analyze, query_terms
from castgraph.retrieval.keyword.filtered import search_filtered
from castgraph.retrieval.keyword.postings import BUMP_GENERATION, CREATE_VOCAB, PostingsScorer
from castgraph.retrieval.keyword.schema import (
    BATCH,
    COLUMNS,
    INSERT_CHUNK,
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADES,
    Row,
    chunk_of,
    placeholders,
    row_of,
)

log = logging.getLogger(__name__)


class SqliteKeywordIndex:
    """The ``KeywordIndex`` port on SQLite FTS5: one local file; safe to share between threads.

    Each thread reads through its own connection (WAL lets readers run beside the writer);
    writes are serialised by a lock. Call ``open()`` (or use ``with``) before anything else.

    ``read_only``: for a process beside the data directory's writer. The file is opened
    ``mode=ro`` with ``query_only``, so nothing (not its schema, an upgrade, a re-analysis or a
    checkpoint) is ever written; a file not created yet reads as an empty index.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._absent = False  # read-only over a file no writer has created yet
        self._postings = PostingsScorer()
        self._write_lock = threading.Lock()
        # No memory map: each thread's connection mapped the whole file again, and the server's
        # resident set counted it once per thread (2.7 GB at 100k chunks); reads are as fast.
        pragmas = ["PRAGMA mmap_size = 0", CREATE_VOCAB]
        if read_only:
            pragmas.append("PRAGMA query_only = ON")
        self._conns = ThreadConnections(
            f"file:{self.path}?mode=ro" if read_only else self.path,
            label=f"keyword index {self.path}",
            uri=read_only,
            pragmas=pragmas,
        )

    @property
    def shared(self) -> bool:
        """Always False: each ``castgraph serve`` keeps its own file in step with the catalog."""
        return False

    def open(self) -> SqliteKeywordIndex:
        """Create the file and schema when missing; returns ``self``."""
        if self.read_only:
            return self._open_read_only()
        with self._errors("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conns.open()
            try:
                conn = self._connection()
                conn.execute("PRAGMA journal_mode = WAL")
                with self._write_lock:
                    conn.executescript(SCHEMA)
                self._check_schema()
                self._reanalyse_if_stale()
            except BaseException:
                self.close()
                raise
        return self

    def _open_read_only(self) -> SqliteKeywordIndex:
        self._absent = not self.path.exists()
        if self._absent:
            return self
        with self._errors("open"):
            self._conns.open()
            try:
                stored = self._fetch("open", "SELECT value FROM meta WHERE key = 'schema'")
                if stored[0][0] != SCHEMA_VERSION:
                    raise StorageError(
                        f"keyword index {self.path} has schema {stored[0][0]}, this castgraph "
                        f"expects {SCHEMA_VERSION}: run `castgraph reindex` (or any command that "
                        "writes the data directory) to upgrade it"
                    )
                analyzer = self._fetch("open", "SELECT value FROM meta WHERE key = 'analyzer'")
                if not analyzer or analyzer[0][0] != ANALYZER_VERSION:
                    log.warning(
                        "keyword index analysed by another version: matches may be missed "
                        "until a writer re-analyses it",
                        extra={"path": str(self.path)},
                    )
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Close every thread's connection; ``open()`` may be called again afterwards."""
        self._conns.close()

    def __enter__(self) -> SqliteKeywordIndex:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace ``chunks`` by id, all in one transaction (the last of a repeated id
        wins, as in the vector index)."""
        unique = list({c.id: c for c in chunks}.values())
        rows = [(row_of(c), " ".join(analyze(c.text, c.language))) for c in unique]
        if rows:
            with self._write("add chunks") as conn:
                self._delete_rids(conn, self._rids_of(conn, [c.id for c in unique]))
                self._insert(conn, rows)
                faults.point("keyword-uncommitted")
            faults.point("keyword")

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Same as ``add`` (the name the indexer's ``ChunkIndex`` protocol uses)."""
        self.add(chunks)

    def replace_episode(self, episode_id: str, chunks: Sequence[Chunk]) -> None:
        """Atomically swap every chunk of ``episode_id`` for ``chunks`` (e.g. after re-chunking)."""
        unique = list({c.id: c for c in chunks}.values())
        rows = [(row_of(c), " ".join(analyze(c.text, c.language))) for c in unique]
        with self._write("replace episode") as conn:
            old = conn.execute("SELECT rid FROM chunks WHERE episode_id = ?", (episode_id,))
            self._delete_rids(conn, [int(r[0]) for r in old])
            self._delete_rids(conn, self._rids_of(conn, [c.id for c in unique]))
            self._insert(conn, rows)

    def delete_episode(self, episode_id: str) -> None:
        """Remove every chunk of ``episode_id`` (no error when there is none)."""
        self.replace_episode(episode_id, [])

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Remove the chunks ``ids``, all in one transaction (unknown ids are ignored)."""
        if ids:
            with self._write("delete chunks") as conn:
                self._delete_rids(conn, self._rids_of(conn, list(ids)))

    def chunk_ids(self, episode_id: str) -> set[str]:
        """The ids of every chunk of ``episode_id``."""
        sql = "SELECT id FROM chunks WHERE episode_id = ?"
        return {str(r[0]) for r in self._fetch("read", sql, (episode_id,))}

    def optimize(self) -> None:
        """Merge the FTS5 index into one segment; worth it after a bulk load or reindex."""
        with self._write("optimize") as conn:
            conn.execute("INSERT INTO chunk_terms (chunk_terms) VALUES ('optimize')")

    def check(self) -> None:
        """Raise StorageError unless the index answers a read (the health probe)."""
        self._fetch("check", "SELECT 1 FROM chunks LIMIT 1")

    def has_episode(self, episode_id: str) -> bool:
        """Whether any chunk of ``episode_id`` is indexed."""
        sql = "SELECT 1 FROM chunks WHERE episode_id = ? LIMIT 1"
        return bool(self._fetch("read", sql, (episode_id,)))

    def episode_ids(self) -> set[str]:
        """The ids of every indexed episode."""
        return {str(r[0]) for r in self._fetch("read", "SELECT DISTINCT episode_id FROM chunks")}

    def count(self) -> int:
        """The number of indexed chunks."""
        rows = self._fetch("read", "SELECT count(*) FROM chunks")
        return int(str(rows[0][0])) if rows else 0

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks among ``ids``, by id (missing ids are left out)."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, Chunk] = {}
        for i in range(0, len(unique), BATCH):
            batch = unique[i : i + BATCH]
            sql = f"SELECT {COLUMNS} FROM chunks WHERE id IN {placeholders(batch)}"
            found.update((str(r[0]), chunk_of(r)) for r in self._fetch("read", sql, batch))
        return found

    def chunks_of(self, episode_id: str) -> list[Chunk]:
        """Every chunk of ``episode_id``, in ordinal order."""
        sql = f"SELECT {COLUMNS} FROM chunks WHERE episode_id = ? ORDER BY ordinal"
        return [chunk_of(r) for r in self._fetch("read", sql, (episode_id,))]

    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query`` by BM25 (score = -bm25, higher is better).

        Terms are ORed. Without filters, every term is ranked from cached postings
        (``postings``). With filters, FTS5 ranks: when some terms are so common that ranking
        them would cost a pass over much of the index, it ranks the rarer ones and a pool of the
        best is re-scored with all terms; chunks matching only the common terms then appear
        only if the rarer terms find fewer than ``k``.
        """
        terms = query_terms(query)
        if not terms or k <= 0 or self._absent:
            return []
        filters = filters or SearchFilters()
        with self._errors("search"):
            if filters.empty:
                return self._search_postings(terms, k)
            return search_filtered(self._connection(), terms, k, filters)

    def warm(self) -> None:
        """Read the frequent terms' postings ahead of the searches that need them."""
        if not self._absent:
            with self._errors("warm"):
                self._postings.warm(self._connection())

    def _search_postings(self, terms: list[str], k: int) -> list[Hit]:
        conn = self._connection()
        ranked = self._postings.search(conn, terms, k)
        if not ranked:
            return []
        rids = [rid for rid, _ in ranked]
        sql = f"SELECT rid, id FROM chunks WHERE rid IN {placeholders(rids)}"
        ids = {int(str(rid)): str(cid) for rid, cid in conn.execute(sql, rids)}
        # A chunk written after the postings were read is simply not among them; one deleted
        # since has no id any more and is left out (the search service re-reads chunks anyway).
        return [Hit(chunk_id=ids[rid], score=score) for rid, score in ranked if rid in ids]

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(
                f"keyword index {self.path}: {action} failed ({exc}); {ADVICE}"
            ) from exc
        except OSError as exc:
            raise StorageError(f"keyword index {self.path}: {action} failed ({exc})") from exc

    def _connection(self) -> sqlite3.Connection:
        return self._conns.get()

    def _fetch(self, action: str, sql: str, params: Sequence[object] = ()) -> list[Row]:
        if self._absent:
            return []
        with self._errors(action):
            rows: list[Row] = self._connection().execute(sql, params).fetchall()
            return rows

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StorageError(f"keyword index {self.path} was opened read-only: cannot {action}")
        with self._errors(action), self._write_lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute(BUMP_GENERATION)  # cached postings (``postings``) are of the last one
            conn.execute("COMMIT")

    @staticmethod
    def _rids_of(conn: sqlite3.Connection, ids: list[str]) -> list[int]:
        rids: list[int] = []
        for i in range(0, len(ids), BATCH):
            batch = ids[i : i + BATCH]
            sql = f"SELECT rid FROM chunks WHERE id IN {placeholders(batch)}"
            rids += [int(r[0]) for r in conn.execute(sql, batch)]
        return rids

    @classmethod
    def _delete_rids(cls, conn: sqlite3.Connection, rids: list[int]) -> None:
        pairs = [(rid,) for rid in rids]
        terms = [
            str(conn.execute("SELECT terms FROM chunk_terms WHERE rowid = ?", p).fetchone()[0])
            for p in pairs
        ]
        conn.executemany("DELETE FROM chunk_terms WHERE rowid = ?", pairs)
        conn.executemany("DELETE FROM chunks WHERE rid = ?", pairs)
        cls._count_terms(conn, terms, -1)

    @classmethod
    def _insert(cls, conn: sqlite3.Connection, rows: list[tuple[Row, str]]) -> None:
        pairs = [(conn.execute(INSERT_CHUNK, row).fetchone()[0], terms) for row, terms in rows]
        cls._index_terms(conn, pairs)

    @classmethod
    def _index_terms(cls, conn: sqlite3.Connection, pairs: list[tuple[int, str]]) -> None:
        conn.executemany("INSERT INTO chunk_terms (rowid, terms) VALUES (?, ?)", pairs)
        cls._count_terms(conn, [terms for _, terms in pairs], 1)

    @staticmethod
    def _count_terms(conn: sqlite3.Connection, docs: list[str], sign: int) -> None:
        """Keep ``term_df`` and ``totals`` in step with ``docs`` being added (1) or removed (-1)."""
        df: Counter[str] = Counter()
        tokens = 0
        for terms in docs:
            words = terms.split()
            tokens += len(words)
            df.update(set(words))
        conn.executemany(
            "INSERT INTO term_df (term, df) VALUES (?, ?)"
            " ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
            [(t, sign * n) for t, n in df.items()],
        )
        if sign < 0:
            conn.executemany("DELETE FROM term_df WHERE term = ? AND df <= 0", [(t,) for t in df])
        conn.execute(
            "UPDATE totals SET docs = docs + ?, tokens = tokens + ?",
            (sign * len(docs), sign * tokens),
        )

    def _check_schema(self) -> None:
        stored = self._fetch("open", "SELECT value FROM meta WHERE key = 'schema'")
        if stored[0][0] in UPGRADES:
            with self._write("upgrade the keyword index") as conn:
                for statement in UPGRADES[stored[0][0]]:
                    conn.execute(statement)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
            stored = [(SCHEMA_VERSION,)]
        if stored[0][0] != SCHEMA_VERSION:
            raise StorageError(
                f"keyword index {self.path} has schema {stored[0][0]}, this castgraph expects "
                f"{SCHEMA_VERSION}: delete the file and run `castgraph reindex` to rebuild it"
            )

    def _reanalyse_if_stale(self) -> None:
        """Re-derive every chunk's terms when the analyzer changed since the file was written."""
        stored = self._fetch("open", "SELECT value FROM meta WHERE key = 'analyzer'")
        if stored and stored[0][0] == ANALYZER_VERSION:
            return
        with self._write("re-analyse chunks") as conn:
            for table in ("chunk_terms", "term_df"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("UPDATE totals SET docs = 0, tokens = 0")
            rows = conn.execute("SELECT rid, text, language FROM chunks").fetchall()
            pairs = [(rid, " ".join(analyze(text, lang))) for rid, text, lang in rows]
            self._index_terms(conn, pairs)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('analyzer', ?)",
                (ANALYZER_VERSION,),
            )
