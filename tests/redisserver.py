"""A real ``redis-server`` on a free loopback port, for the distributed queue's tests.

``redis_server`` (session) starts Debian's redis-server in a temporary directory, without
persistence; ``redis_url`` (per test) flushes it and gives its URL. Import both into a test
module (``from tests.redisserver import redis_server, redis_url``). Without the binary the
tests skip, unless CASTGRAPH_REQUIRE_SERVICES is set (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netutil import free_port


class RedisServer:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], workdir: Path) -> None:
        self.port, self.proc, self.workdir = port, proc, workdir

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> str:
        """One command through the RESP protocol (no client library needed)."""
        parts = [f"${len(a.encode())}\r\n{a}\r\n" for a in args]
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(f"*{len(args)}\r\n{''.join(parts)}".encode())
            return conn.recv(65536).decode(errors="replace")


def _binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    message = "redis-server is not installed: apt-get install redis-server"
    if os.environ.get("CASTGRAPH_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = _binary()
    workdir = Path(tempfile.mkdtemp(prefix="castgraph-redis-"))
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    proc = subprocess.Popen(
        [*args, "no", "--dir", str(workdir)],
        stdout=(workdir / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = RedisServer(port, proc, workdir)
    deadline = time.monotonic() + 30
    while True:
        try:
            if "PONG" in server.command("PING"):
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (workdir / "redis.log").read_text(errors="replace")
            pytest.fail(f"redis-server did not start:\n{log}")
        time.sleep(0.1)
    try:
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.command("FLUSHALL")
    return redis_server.url
