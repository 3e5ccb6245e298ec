"""A real ``chroma run`` server on a free loopback port, for the vector index's tests.

``chroma_server`` (session) starts the CLI installed with chromadb over a temporary directory and
gives its URL; tests keep apart by using their own collection names. Import it into a test module
(``from tests.chromaserver import chroma_server``). Without the CLI the tests skip, unless
CASTGRAPH_REQUIRE_SERVICES is set (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.netutil import free_port

SERVER_START_TIMEOUT = 60.0


def _chroma_cli() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.is_file() else shutil.which("chroma")
    if found:
        return found
    message = "the chroma CLI (installed with the chromadb package) is not on PATH"
    if os.environ.get("CASTGRAPH_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


def _wait_for_heartbeat(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"chroma run did not answer within {SERVER_START_TIMEOUT} s:\n{log.read_text()}")


@contextmanager
def running_chroma(root: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``chroma run`` server of its own over ``root``: (URL, process), stopped at the end (a
    test may stop it earlier to see what its clients do without it)."""
    cli = _chroma_cli()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [cli, "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        _wait_for_heartbeat(url, process, log)
        yield url, process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (idempotent)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real ``chroma run`` server on a free loopback port, stopped at the end."""
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as (url, _process):
        yield url
