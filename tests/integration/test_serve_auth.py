"""A real ``castgraph serve``: refused on 0.0.0.0 without a key, served with ``--insecure``, and
with a key and private reads the CLI reaches it (it sends the key)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from tests.netutil import free_port

pytestmark = pytest.mark.integration
runner = CliRunner()


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTGRAPH_")}
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_EMBEDDING_MODEL="hash",  # no model to load: the server is up in seconds
        CASTGRAPH_GRAPH_BACKEND="none",
        **extra,
    )
    return env


def _serve(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "castgraph", "serve", *args]
    pipe = subprocess.PIPE
    return subprocess.Popen(command, env=env, stdout=pipe, stderr=pipe, text=True)


@contextmanager
def _running(proc: subprocess.Popen[str], port: int) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"  # 0.0.0.0 includes loopback
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"castgraph serve exited {proc.returncode}: {proc.communicate()[1]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("castgraph serve did not answer /healthz in 60 s")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_every_interface_without_a_key_is_refused(tmp_path: Path) -> None:
    proc = _serve(_env(tmp_path / "data"), "--host", "0.0.0.0", "--port", str(free_port()))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    said = " ".join(err.split())
    assert "refusing to serve on 0.0.0.0 without an API key" in said
    assert "CASTGRAPH_API_KEY" in said and "--insecure" in said


def test_insecure_serves_every_interface_anyway(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(_env(tmp_path / "data"), "--host", "0.0.0.0", "--port", str(port), "--insecure")
    with _running(proc, port) as url:
        assert httpx.get(f"{url}/api/episodes").json() == []
    assert "without an API key" in (proc.stderr.read() if proc.stderr else "")


def test_a_keyed_private_server_and_the_cli_that_talks_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, data_dir = free_port(), tmp_path / "data"
    env = _env(data_dir, CASTGRAPH_API_KEY="k3y", CASTGRAPH_PUBLIC_READ="false")
    proc = _serve(env, "--host", "0.0.0.0", "--port", str(port))
    with _running(proc, port) as url:
        assert httpx.get(f"{url}/api/episodes").status_code == 401
        odd = httpx.get(f"{url}/api/episodes", headers=[(b"X-API-Key", "clé".encode())])
        assert odd.status_code == 401 and "malformed" in odd.json()["detail"]
        assert httpx.get(f"{url}/api/episodes", headers={"X-API-Key": "k3y"}).json() == []
        assert httpx.delete(f"{url}/api/episodes/x").status_code == 401
        # The CLI finds the server through the data directory and sends the key with its query.
        for name, value in env.items():
            if name.startswith("CASTGRAPH_"):
                monkeypatch.setenv(name, value)
        found = runner.invoke(app, ["search", "pan", "--json"])
        assert found.exit_code == 0, found.output
        assert json.loads(found.stdout)["results"] == []
