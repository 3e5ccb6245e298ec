"""The embedded graph after a torn write-ahead log (issue 13, faults): a disk that fills during a
graph write leaves a partial record at the WAL's end (LadybugDB aborts the process there), and
LadybugDB then refused to open the database at all ("the WAL file is corrupted"), so no later
run could finish the work. It now replays the log up to the torn record: the committed
transactions before it survive, the torn one (never acknowledged) is dropped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
from tests.integration.test_graph_contract import make_doc

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from pathlib import Path
from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
from tests.integration.test_graph_contract import make_doc
store = EmbeddedGraphStore(Path(sys.argv[1])).open()
store.upsert_episode(make_doc("ep2", [["Ana"], ["Ben"]]))  # killed by the seam after the commit
"""


def test_a_torn_wal_tail_is_dropped_and_the_rest_replayed(tmp_path: Path) -> None:
    path = tmp_path / "graph.lbug"
    with EmbeddedGraphStore(path).open() as store:
        store.upsert_episode(make_doc("ep1", [["Ana"], ["Ben"]]))  # checkpointed on close
    # A second process commits ep2 and dies before any checkpoint: ep2 lives in the WAL only.
    env = {**os.environ, "PYTHONPATH": str(REPO), "CASTGRAPH_FAULT_KILL": "graph-store"}
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, timeout=300)
    assert child.returncode == -signal.SIGKILL
    wal = path.with_name(path.name + ".wal")
    assert wal.stat().st_size > 200, "the commit is not in the WAL: nothing to tear"
    with EmbeddedGraphStore(path, read_only=True).open() as intact:
        assert intact.episode_ids() == {"ep1", "ep2"}  # the WAL replays as it is

    os.truncate(wal, wal.stat().st_size - 100)  # the last record half-written, as on ENOSPC
    with EmbeddedGraphStore(path).open() as store:
        assert "ep1" in store.episode_ids()
        store.upsert_episode(make_doc("ep3", [["Ana"]]))  # and it takes writes again
        assert {"ep1", "ep3"} <= store.episode_ids()
