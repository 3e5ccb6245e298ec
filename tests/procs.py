"""castgraph processes for integration tests: ``serve``, queue workers and the beat, each in its
own process group with its log in a file, SIGKILLed (group and all) when the block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from tests.netutil import free_port

CLI = [sys.executable, "-m", "castgraph.api.cli"]


def server_env(tmp_path: Path, models_dir: Path, key: str, **extra: str) -> dict[str, str]:
    """The environment of castgraph processes under test: their own data dir, the local models,
    private URLs allowed (the feed is on loopback), a one-second tick, no retry waits."""
    env = dict(os.environ)
    env.update(
        CASTGRAPH_DATA_DIR=str(tmp_path / "data"),
        CASTGRAPH_MODELS_DIR=str(models_dir),
        CASTGRAPH_ALLOW_PRIVATE_URLS="1",
        CASTGRAPH_TICK_SECONDS="1",
        CASTGRAPH_RETRY_BACKOFF="0",
        CASTGRAPH_API_KEY=key,
    )
    env.update(extra)
    return env


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """``check()``'s first truthy result, polled until a deadline (then an AssertionError)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and every child it forked (a Celery worker's pool)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``castgraph ARGS`` running until the block ends."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        kill_group(proc)


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``castgraph serve`` on a free port, once ``/healthz`` answers: (base URL, process)."""
    port = free_port()
    with process(["serve", "--port", str(port)], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base, proc, log), 120, f"the server to start (log: {log})")
        yield base, proc


def _healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    assert proc.poll() is None, f"the server exited:\n{log.read_text(errors='replace')[-3000:]}"
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def api(base: str, method: str, path: str, key: str, body: Any = None) -> Any:
    """One API call with the key; any 4xx/5xx fails the test with the response's text."""
    response = httpx.request(
        method, f"{base}{path}", json=body, headers={"X-API-Key": key}, timeout=30
    )
    assert response.status_code < 400, response.text
    return response.json() if response.content else None
