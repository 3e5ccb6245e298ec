"""Catalog migrations on SQLite and PostgreSQL: from nothing, from the schema castgraph wrote
before Alembic (and an even older one), a catalog newer than the code, and replicas that open
a fresh catalog all at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from castgraph.catalog import SqlCatalog, head_revision, migrate
from castgraph.catalog.schema import Base
from castgraph.core.errors import StorageError
from castgraph.core.models import MediaItem
from tests.pgserver import database_url, postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

# Rows as the pre-Alembic castgraph wrote them, in SQL both databases take. Ids of SERIAL
# tables are left to the database, as the application did.
OLDER_ROWS = """
INSERT INTO episodes (id, source_id, title, url, origin, captions, duration, state,
    pipeline_version) VALUES ('abc123def456', 'youtube:x1', 'Entrevista', 'https://y/x1', '',
    '{}', 12.5, 'indexed', '1');
INSERT INTO segments (episode_id, ordinal, start, "end", speaker, text, words) VALUES
    ('abc123def456', 0, 0.0, 2.0, 'SPEAKER_00', 'Hola, soy Ana.', '[["Hola,", 0.0, 0.5, 0.9]]');
INSERT INTO voices (name, embedding) VALUES ('Ana', '[1.0, 0.0, 0.0]');
INSERT INTO speakers (episode_id, label, name, voice_id, embedding) VALUES
    ('abc123def456', 'SPEAKER_00', 'Ana', 1, '[1.0, 0.0, 0.0]');
INSERT INTO chunks (episode_id, ordinal, id, start, "end", text, speakers, language) VALUES
    ('abc123def456', 0, 'abc123def456-0', 0.0, 2.0, 'Hola, soy Ana.', '["SPEAKER_00"]', 'es');
INSERT INTO extractions (episode_id, extractor, entities, relations) VALUES
    ('abc123def456', 'offline', '[["Ana", "person", [], ["abc123def456-0"]]]', '[]');
"""
CURRENT_ROWS = """
INSERT INTO subscriptions (source, options, cron, timezone, state, next_due_at) VALUES
    ('https://example.org/feed.xml', '{"limit": 2}', '0 3 * * *', 'UTC', 'active',
    '2026-03-02 03:00:00');
INSERT INTO runs (subscription_id, due_at, trigger, state, found, ingested, failed, skipped,
    episodes, errors) VALUES (1, '2026-03-01 03:00:00', 'schedule', 'succeeded', 1, 1, 0, 0,
    '[]', '[]');
INSERT INTO jobs (kind, request, state, cancel_requested, run_id, progress, attempts) VALUES
    ('subscription-run', '{"source": "https://example.org/feed.xml"}', 'succeeded', FALSE, 1,
    '{}', 1);
UPDATE runs SET job_id = 1;
"""


def _execute(url: str, script: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in filter(str.strip, script.split(";\n")):
            conn.exec_driver_sql(statement)
    engine.dispose()


def _ddl(name: str, url: str) -> str:
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    lines = (DATA / f"catalog_{name}_{dialect}.sql").read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith("--"))


def _revisions(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    return found


def _model_differences(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        found = list(compare_metadata(context, Base.metadata))
    engine.dispose()
    return found


def test_an_empty_database_reaches_head_and_matches_the_models(
    database_url: str,  # noqa: F811
) -> None:
    result = migrate(database_url)
    assert (result.before, result.after, result.adopted) == (None, head_revision(), False)
    assert _revisions(database_url) == [head_revision()]
    assert _model_differences(database_url) == []
    again = migrate(database_url)  # current: nothing to do
    assert (again.before, again.after, again.changed) == (head_revision(), head_revision(), False)


@pytest.mark.parametrize("snapshot", ["current", "older"])
def test_a_catalog_from_before_migrations_keeps_every_row(
    database_url: str,  # noqa: F811
    snapshot: str,
) -> None:
    _execute(database_url, _ddl(snapshot, database_url))
    _execute(database_url, OLDER_ROWS + (CURRENT_ROWS if snapshot == "current" else ""))
    result = migrate(database_url)
    assert result.adopted and (result.before, result.after) == (None, head_revision())
    assert _revisions(database_url) == [head_revision()]
    assert _model_differences(database_url) == []

    catalog = SqlCatalog(database_url).open()
    episode = catalog.get("abc123")
    assert (episode.title, episode.speakers, episode.duration) == ("Entrevista", ["Ana"], 12.5)
    (segment,) = catalog.segments(episode.id)
    assert (segment.text, segment.speaker, segment.words[0].text) == (
        "Hola, soy Ana.",
        "Ana",
        "Hola,",
    )
    document = catalog.document(episode.id)
    assert document is not None and document.entities[0].name == "Ana"
    assert document.chunks[0].speakers == ("Ana",) and document.chunks[0].sentences == ()
    assert catalog.voice_names() == ["Ana"]
    if snapshot == "current":
        (sub,) = catalog.subscriptions.all()
        assert (sub.source, sub.limit) == ("https://example.org/feed.xml", 2)
        assert catalog.jobs.get(1).subscription_id == sub.id
    # New rows go on from the old ones (sequences, defaults, the new columns).
    second = catalog.register(MediaItem(source_id="youtube:x2", url="https://y/x2", title="Otra"))
    assert catalog.get(second.id).title == "Otra"
    catalog.rename_speaker(episode.id, "Ana", "Ana Gómez")  # a new voice row: its id is new
    assert catalog.get(episode.id).speakers == ["Ana Gómez"]
    assert catalog.voice_names() == ["Ana Gómez", "Ana"]


def test_a_catalog_newer_than_this_castgraph_is_refused(
    database_url: str,  # noqa: F811
) -> None:
    migrate(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StorageError, match="upgrade castgraph"):
        SqlCatalog(database_url).open()
    assert _revisions(database_url) == ["9999"]  # left alone


OPENER = """
import json, sys
from castgraph.catalog import SqlCatalog, migrate
print("ready", flush=True)
sys.stdin.readline()
result = migrate(sys.argv[1])
SqlCatalog(sys.argv[1]).open().list_episodes()
print(json.dumps([result.before, result.after]), flush=True)
"""


def test_replicas_opening_a_fresh_catalog_at_once_all_succeed(
    database_url: str,  # noqa: F811
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    for opener in openers:  # every one has imported castgraph: they start together
        assert opener.stdout is not None and opener.stdout.readline().strip() == "ready"
    for opener in openers:
        assert opener.stdin is not None
        opener.stdin.write("go\n")
        opener.stdin.flush()
    outcomes = []
    for opener in openers:
        stdout, stderr = opener.communicate(timeout=120)
        assert opener.returncode == 0, stderr
        outcomes.append(json.loads(stdout.strip().splitlines()[-1]))
    head = head_revision()
    assert all(after == head for _, after in outcomes)
    assert sum(before is None for before, _ in outcomes) == 1  # one migrated, the rest waited
    assert _revisions(database_url) == [head]
