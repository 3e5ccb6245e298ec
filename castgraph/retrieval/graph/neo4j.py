"""The Neo4j 5 graph store (official ``neo4j`` driver): many processes and machines may write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from castgraph.core.errors import DependencyError, StorageError
from castgraph.retrieval.graph.cypher import CypherGraphStore, Row, Run

if TYPE_CHECKING:
    import neo4j

log = logging.getLogger(__name__)

# Uniqueness constraints double as the lookup indexes every MERGE/MATCH by id needs.
SCHEMA = (
    "CREATE CONSTRAINT castgraph_episode_id IF NOT EXISTS FOR (n:Episode) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT castgraph_chunk_id IF NOT EXISTS FOR (n:Chunk) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT castgraph_speaker_name IF NOT EXISTS "
    "FOR (n:Speaker) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT castgraph_entity_key IF NOT EXISTS FOR (n:Entity) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT castgraph_meta_id IF NOT EXISTS FOR (n:GraphMeta) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX castgraph_chunk_episode IF NOT EXISTS FOR (n:Chunk) ON (n.episode_id)",
    "CREATE INDEX castgraph_related_type IF NOT EXISTS FOR ()-[r:RELATED]-() ON (r.type)",
)


def _import_neo4j() -> Any:
    try:
        import neo4j
    except ImportError as exc:
        raise DependencyError("neo4j", "neo4j") from exc
    return neo4j


class Neo4jGraphStore(CypherGraphStore):
    """A Neo4j database reached at ``uri`` (``bolt://`` or ``neo4j://``)."""

    def __init__(
        self,
        uri: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        read_only: bool = False,
    ) -> None:
        self.uri = uri
        self.database = database
        self.read_only = read_only
        self._auth = (user, password or "") if user else None
        self._driver: neo4j.Driver | None = None
        self._errors: tuple[type[Exception], ...] = ()

    def open(self) -> Neo4jGraphStore:
        """Connect, check the server answers, and create constraints unless read-only."""
        if self._driver is not None:
            return self
        nj = _import_neo4j()
        self._errors = (nj.exceptions.Neo4jError, nj.exceptions.DriverError)
        try:
            driver = nj.GraphDatabase.driver(self.uri, auth=self._auth)
            driver.verify_connectivity()
        except (*self._errors, ValueError) as exc:
            raise StorageError(f"cannot reach Neo4j at {self.uri}: {exc}") from exc
        self._driver = driver
        if not self.read_only:
            for statement in SCHEMA:
                self._query(statement, {}, write=True)
        return self

    def close(self) -> None:
        """Close the driver and its connection pool; safe to call twice."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    def __enter__(self) -> Neo4jGraphStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require(self) -> neo4j.Driver:
        if self._driver is None:
            raise StorageError("the graph store is not open (call open() first)")
        return self._driver

    def _query(self, query: str, params: Mapping[str, Any], *, write: bool = False) -> list[Row]:
        driver = self._require()
        try:
            result = driver.execute_query(
                query,
                dict(params),
                routing_="w" if write else "r",
                database_=self.database,
            )
        except self._errors as exc:
            raise StorageError(f"Neo4j query failed: {exc}") from exc
        return [list(record.values()) for record in result.records]

    def _read(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        return self._query(query, params)

    def _write(self, work: Callable[[Run], None]) -> None:
        if self.read_only:
            raise StorageError(f"the Neo4j graph at {self.uri} was opened read-only")
        driver = self._require()

        def unit(tx: neo4j.ManagedTransaction) -> None:
            # A transaction function: the driver retries it whole on transient errors.
            work(lambda query, params: [list(r.values()) for r in tx.run(query, dict(params))])

        try:
            with driver.session(database=self.database) as session:
                session.execute_write(unit)
        except self._errors as exc:
            raise StorageError(f"Neo4j write failed: {exc}") from exc
