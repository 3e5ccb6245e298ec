"""A short ``bench/load.py``: search and chat clients at once against a real ``castgraph serve``
over a small indexed corpus, with no failed request.

The risk: under concurrent searches and streamed answers the server answers a 5xx, drops a
connection or cuts a stream (an ``error`` event), or refuses with a 503 a polite client cannot
act on (no ``Retry-After``). A 503 with ``Retry-After`` (admission control) is not a failure: the
client waits and goes on. Nothing here is timed; the run is a few seconds of load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from castgraph.api import wiring
from castgraph.core.settings import Settings
from tests import corpus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text corpus through the real catalog and indexes (hash embedder: no model to load)."""
    path = tmp_path_factory.mktemp("load") / "data"
    services = wiring.open_services(Settings(data_dir=path, embedding_model="hash"))
    try:
        corpus.load(services)
    finally:
        services.close()
    return path


def _load(data_dir: Path, out: Path, **env: str) -> dict[str, Any]:
    """``bench/load.py`` with 10 search and 3 chat clients for 5 s; its figures."""
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--targets", str(data_dir)]
    command += ["--search-clients", "10", "--chat-clients", "3", "--seconds", "5"]
    command += ["--embedder", "hash", "--queries", "20", "--json", str(out)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASTGRAPH_")}
    ran = subprocess.run(
        command, env={**clean, **env}, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.exists(), f"bench/load.py failed ({ran.returncode}):\n{ran.stderr[-3000:]}"
    figures: dict[str, Any] = json.loads(out.read_text())[0]
    assert figures["errors"] == 0, f"{figures}\n{ran.stdout}\n{ran.stderr[-3000:]}"
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert figures["tracebacks"] == 0, f"a traceback in {data_dir}/bench-load-*.log: {figures}"
    return figures


def test_concurrent_searches_and_answers_all_succeed(data_dir: Path, tmp_path: Path) -> None:
    figures = _load(data_dir, tmp_path / "load.json")
    search, chat = figures["search"], figures["chat"]
    assert search["ok"] > 0 and chat["ok"] > 0
    assert figures["no_text"] == 0  # every streamed answer carried text
    assert figures["rss_mb"] > 0


def test_admission_refusals_are_honoured_not_failed(data_dir: Path, tmp_path: Path) -> None:
    """Two slots and no wait in line for 13 clients: the server must refuse (503 with
    Retry-After), the clients wait and go on; the run still has no error."""
    figures = _load(
        data_dir,
        tmp_path / "load.json",
        CASTGRAPH_MAX_INFLIGHT="2",
        CASTGRAPH_ADMISSION_WAIT_MS="0",
    )
    assert figures["search"]["refused"] + figures["chat"]["refused"] > 0
    assert figures["search"]["ok"] > 0 and figures["chat"]["ok"] > 0
