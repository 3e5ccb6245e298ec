"""The pieces behind the e2e fixtures: an ingested data directory, a real server, page sessions.

Kept out of ``conftest.py`` so the fixtures there stay short and these can be imported by tests
(``from tests.e2e.harness import MARKUP_TITLE``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from tests.mediaserver import FeedEpisode, MediaServer, transcode

if TYPE_CHECKING:  # imported lazily elsewhere: without playwright the tests fail with a message
    from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Page, Route

log = logging.getLogger(__name__)

CLI = [sys.executable, "-m", "castgraph.api.cli"]
CHROMIUM = Path("/usr/bin/chromium")
# --headless/--no-sandbox: CI runs as root without a display; the rest keep Chromium from
# phoning home (no network here, and a stray request would slow or flake the run).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
API_KEY = "e2e-secret-key"
MARKUP_TITLE = '<script>alert(1)</script> <b>Markup</b> & "quotes"'
DEMO_EPISODES = 3
READY_MARKER = "e2e-ready.json"
# Bump when the build below changes, so a cached CASTGRAPH_E2E_DATA directory is rebuilt.
BUILD_VERSION = 2
MARKUP_SOURCE = "sobremesa-03.mp3"  # the English demo episode: speech Whisper transcribes well
MARKUP_SECONDS = 25.0
MARKUP_PUBLISHED = datetime(2024, 4, 16, 12, 0, tzinfo=UTC)
SERVER_START_TIMEOUT = 120.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def cli_env(data_dir: Path, models_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of every castgraph process the e2e tests start."""
    env = dict(os.environ)
    # A developer's own key or data dir must not leak into the run; start() sets the key.
    env.pop("CASTGRAPH_API_KEY", None)
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_MODELS_DIR=str(models_dir),
        CASTGRAPH_ALLOW_PRIVATE_URLS="1",
        **extra,
    )
    return env


def run_cli(env: Mapping[str, str], *args: str, timeout: float = 1800) -> str:
    """Run a castgraph command to completion and return its stdout; raise when it fails."""
    proc = subprocess.run(
        [*CLI, *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"castgraph {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def build_data_dir(data_dir: Path, models_dir: Path, scratch: Path) -> float:
    """Ingest the demo channel plus the markup-titled episode into ``data_dir``; seconds taken."""
    started = time.monotonic()
    env = cli_env(data_dir, models_dir)
    run_cli(env, "demo", "--port", "0", "--quiet")
    _ingest_markup_episode(env, data_dir / "demo" / "episodes" / MARKUP_SOURCE, scratch)
    episodes = json.loads(run_cli(env, "episodes", "--json", timeout=120))
    _check_built(episodes)
    seconds = time.monotonic() - started
    marker = {"version": BUILD_VERSION, "seconds": round(seconds, 1), "episodes": len(episodes)}
    (data_dir / READY_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return seconds


def _ingest_markup_episode(env: Mapping[str, str], source: Path, scratch: Path) -> None:
    # A real feed on loopback, so the title goes through the RSS parser like any channel's would.
    server = MediaServer(scratch / "markup-feed").start()
    try:
        transcode(source, server.root / "markup.mp3", seconds=MARKUP_SECONDS, ffmpeg=_ffmpeg())
        feed = server.write_rss(
            "feed.xml",
            # A fixed date keeps the episode list (and its screenshots) the same every run.
            [FeedEpisode(MARKUP_TITLE, "markup.mp3", MARKUP_PUBLISHED, guid="e2e-markup-1")],
            title="E2E <fixtures> & friends",
        )
        run_cli(env, "ingest", feed, "--quiet")
    finally:
        server.stop()


def _ffmpeg() -> str:
    from castgraph.ingest.audio import ffmpeg_binary

    return ffmpeg_binary()


def _check_built(episodes: list[dict[str, Any]]) -> None:
    states = {e["title"]: e["state"] for e in episodes}
    if len(episodes) != DEMO_EPISODES + 1 or set(states.values()) != {"indexed"}:
        raise RuntimeError(f"e2e data directory is incomplete: {states}")
    if MARKUP_TITLE not in states:
        raise RuntimeError(f"the markup title did not survive ingest: {list(states)}")


def is_ready(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a complete build of the current version."""
    try:
        marker = json.loads((data_dir / READY_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(marker.get("version") == BUILD_VERSION)


def copy_data_dir(src: Path, dst: Path) -> Path:
    """A private copy of a prepared directory, so tests that rename or delete leave it intact."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("writer.lock"))
    return dst


class CastgraphServer:
    """``castgraph serve`` on 127.0.0.1:``port`` over ``data_dir``, restartable on the same port.

    ``start(env)`` (re)starts it with the base environment plus ``env`` (a ``None`` value
    removes a variable); the default start sets ``CASTGRAPH_API_KEY`` to :data:`API_KEY`.
    """

    def __init__(self, base_env: Mapping[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.api_key: str | None = None
        self.overrides: dict[str, str | None] = {}
        self._base_env = dict(base_env)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, env: Mapping[str, str | None] | None = None) -> None:
        """Stop it if running, then start it with ``env`` overrides and wait for ``/healthz``."""
        self.stop()
        self.overrides = dict(env or {})
        merged: dict[str, str] = {**self._base_env, "CASTGRAPH_API_KEY": API_KEY}
        for key, value in self.overrides.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        self.api_key = merged.get("CASTGRAPH_API_KEY")
        with self.log_path.open("ab") as logfile:
            logfile.write(f"\n--- start {self.url} overrides={self.overrides}\n".encode())
            logfile.flush()
            self._proc = subprocess.Popen(
                [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=merged,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"castgraph serve exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"castgraph serve not healthy in {SERVER_START_TIMEOUT} s:\n"
                           f"{self.log_tail()}")  # fmt: skip

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); it frees the port and the writer lock."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


@dataclass
class PageSession:
    """A Playwright page plus what went wrong on it, for tests to assert on.

    Attribute access falls through to the page (``session.goto(...)``); use ``session.page``
    where a real :class:`playwright.sync_api.Page` is needed, e.g. ``expect(session.page)``.
    """

    page: Page
    context: BrowserContext
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    def attach(self) -> PageSession:
        """Start recording console errors, uncaught errors, dialogs and off-loopback requests."""
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(f"{exc.name}: {exc.message}"))
        self.page.on("dialog", self._on_dialog)
        self.context.route("**/*", self._route)
        return self

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.console_errors.append(f"{message.text} ({where['url']}:{where['lineNumber']})")

    def _on_dialog(self, dialog: Dialog) -> None:
        # Dismissed so the page never blocks; an alert() here usually means injected markup ran.
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _route(self, route: Route) -> None:
        # The UI must work offline: anything leaving loopback is recorded and refused.
        url = route.request.url
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname or ""
        if scheme in ("http", "https", "ws", "wss") and host not in LOOPBACK_HOSTS:
            self.external_requests.append(url)
            route.abort()
        else:
            route.continue_()

    def assert_clean(self, *, allow_console: Callable[[str], bool] | None = None) -> None:
        """No uncaught errors, dialogs, off-loopback requests or (unless allowed) console errors."""
        console = [m for m in self.console_errors if not (allow_console and allow_console(m))]
        problems = {
            "page errors": self.page_errors,
            "dialogs": self.dialogs,
            "external requests": self.external_requests,
            "console errors": console,
        }
        found = {k: v for k, v in problems.items() if v}
        assert not found, f"problems on the page: {found}"
