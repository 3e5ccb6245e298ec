"""A throwaway PostgreSQL server for tests, on a free port of 127.0.0.1.

Fixtures (import them into a test module, as with ``tests.mediaserver``)::

    from tests.pgserver import PostgresServer, postgres_server, postgres_url  # noqa: F401

    def test_catalog_on_postgres(postgres_url: str) -> None:
        catalog = SqlCatalog(postgres_url).open()  # a fresh, empty database of its own

- ``postgres_server`` (session): initdb + pg_ctl in a temporary folder, trust authentication on
  127.0.0.1 only, fsync off; stopped (``pg_ctl stop -m fast``) and removed at the end of the
  session. ``server.url(dbname)`` and ``server.create_database()`` help tests that need more
  than one database.
- ``postgres_url`` (per test): the ``postgresql+psycopg://`` URL of a new empty database,
  dropped after the test (with its open connections).
- ``database_url`` (per test, parametrised ``sqlite`` / ``postgresql``): a fresh empty database
  on each backend the catalog supports, for tests that must hold on both.

The binaries are looked up in ``/usr/lib/postgresql/*/bin`` (Debian's layout), then on PATH.
PostgreSQL refuses to run as root: as root (CI), the server runs as the ``postgres`` OS user
through ``runuser``. Without the binaries or psycopg the tests skip, unless
``CASTGRAPH_REQUIRE_SERVICES`` is set (CI sets it): then they fail, loudly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.netutil import free_port

SUPERUSER = "postgres"
OS_USER = "postgres"  # who runs the server when the tests run as root


def require(reason: str) -> None:
    """Skip for ``reason``, or fail when CASTGRAPH_REQUIRE_SERVICES says services must run."""
    if os.environ.get("CASTGRAPH_REQUIRE_SERVICES"):
        pytest.fail(f"{reason} (CASTGRAPH_REQUIRE_SERVICES is set)", pytrace=False)
    pytest.skip(reason)


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` holding initdb and pg_ctl, else PATH's."""
    found = sorted(
        (p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in found:
        if (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@dataclass
class PostgresServer:
    """A running server: its port, data folder and superuser."""

    port: int
    root: Path
    host: str = "127.0.0.1"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def execute(self, sql: str) -> None:
        """Run one statement as the superuser, outside a transaction (CREATE DATABASE…)."""
        import psycopg

        dsn = f"host={self.host} port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # test-made statements only

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], log: Path | None = None) -> None:
    result = subprocess.run(
        _as_server_user(args), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
        )


def _initdb(bindir: Path, data: Path) -> None:
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=trust",
            "--no-sync",
        ]
    )
    # Trust, but only over TCP from 127.0.0.1: no other host and no other socket gets in.
    (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")


def _start(bindir: Path, root: Path) -> int:
    """Start on a free port; a port taken between choosing and binding gets another try."""
    data, log = root / "data", root / "server.log"
    for attempt in range(3):
        port = free_port()
        # The server's clock zone is far from UTC so that any naive-UTC mix-up shows in tests.
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            "-c timezone=Pacific/Kiritimati"
        )
        try:
            ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options]
            _run([*ctl, "start"], log)
            return port
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    bindir = find_bindir()
    if bindir is None:
        require("PostgreSQL server binaries (initdb, pg_ctl) not found: apt install postgresql")
    assert bindir is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("psycopg is not installed: pip install 'castgraph[postgres]'")
    # Not under pytest's tmp_path: its parents are private to root, and the server user must
    # reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="castgraph-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, OS_USER, OS_USER)
        _initdb(bindir, root / "data")
        port = _start(bindir, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield PostgresServer(port=port, root=root)
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run([str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database of this test, dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database: a SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("postgres_url"))
