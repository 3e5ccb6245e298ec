"""``castgraph search``/``ask`` while another process writes the data directory (issue 13).

The holder is a real process that takes the writer lock and opens every store for writing, as
``castgraph ingest`` does; search and ask must answer from it without writing a byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from castgraph.api import wiring
from castgraph.api.cli import app
from castgraph.core.settings import Settings
from tests import corpus

pytestmark = pytest.mark.integration
runner = CliRunner()

HOLDER = textwrap.dedent(
    """
    import sys
    from castgraph.api import wiring
    from castgraph.api.datadir import writer_lock
    from castgraph.core.settings import Settings

    with writer_lock(Settings().data_dir, "castgraph ingest"):
        services = wiring.open_services(Settings())
        services.search.search("calor", 3)  # every store opened and read, as ingest does
        print("ready", flush=True)
        sys.stdin.read()  # held until the test closes our stdin
        services.close()
    """
)


def _files(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root`` (but the lock and SQLite's shared-memory index, which readers
    must write by design) → (size, mtime, digest)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "writer.lock" or path.name.endswith("-shm"):
            continue
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, digest)
    return found


@pytest.fixture(params=["flat", "chroma"])
def held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A loaded data directory, held for writing by another process until the test ends (with
    each local vector backend: the flat index reads beside its writer, Chroma cannot)."""
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_EMBEDDING_MODEL", "hash")
    monkeypatch.setenv("CASTGRAPH_VECTOR_BACKEND", request.param)
    services = wiring.open_services(Settings())
    try:
        corpus.load(services)
    finally:
        services.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        yield tmp_path
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_search_and_ask_answer_beside_a_writer_and_write_nothing(held: Path) -> None:
    before = _files(held)
    result = runner.invoke(app, ["search", "masa madre Doña Rosa", "-k", "2"])
    assert result.exit_code == 0, result.output
    assert "Masa madre en la ola de calor" in result.stdout
    if Settings().resolved_vector_backend == "chroma":
        assert "castgraph ingest" in result.stderr
        assert "keyword and graph indexes only" in result.stderr
    else:  # the flat index is read beside its writer: nothing left out, nothing to say
        assert "indexes only" not in result.stderr
        found = runner.invoke(app, ["search", "masa madre Doña Rosa", "-k", "2", "--json"])
        assert any(r["signals"].get("vector") for r in json.loads(found.stdout)["results"])
    answer = runner.invoke(app, ["ask", "¿Cómo se llama la masa madre de Tomás?"])
    assert answer.exit_code == 0, answer.output
    assert "Doña Rosa" in answer.stdout and re.search(r"\[\d+\]", answer.stdout)
    as_json = runner.invoke(app, ["ask", "Where is Rotterdam?", "--json"])
    assert as_json.exit_code == 0, as_json.output
    after = _files(held)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert changed == [], f"a reader wrote {changed}"
