"""Browser tests: Playwright drives Debian's Chromium against a real ``castgraph serve``.

Fixtures (see ``harness.py`` for the classes):

- ``e2e_data_dir`` (session): the demo channel plus an episode titled :data:`MARKUP_TITLE`,
  ingested. Built fresh once per session; ``CASTGRAPH_E2E_DATA=<dir>`` builds it there once and
  later sessions reuse it (each session works on a private copy).
- ``server`` (function, over one session process): a :class:`CastgraphServer` with ``.url``,
  ``.api_key`` (``API_KEY``), ``.stop()``, ``.start(env)``; restarted with defaults before each
  test that left it stopped or changed. ``keyless_server``: the same, started without a key.
- ``browser`` (session), ``page`` (1280x800) and ``phone_page`` (360x740): :class:`PageSession`
  objects in fresh contexts with the ``locale`` fixture's locale (parametrize ``locale`` to change
  it); ``page_factory(width, height, locale=...)`` opens more.
- ``screenshots``: ``test-output/screenshots/`` (or ``CASTGRAPH_E2E_SCREENSHOTS``).

Missing Chromium or Playwright fails every test here (``make install`` provides both);
``CASTGRAPH_SKIP_E2E=1`` skips them instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CastgraphServer,
    PageSession,
    build_data_dir,
    cli_env,
    copy_data_dir,
    is_ready,
)
from tests.netutil import free_port

if TYPE_CHECKING:  # imported in the fixtures, so a missing playwright fails with a message
    from playwright.sync_api import Browser, BrowserContext

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DESKTOP = (1280, 800)
PHONE = (360, 740)
PAGE_TIMEOUT_MS = 15_000

PageFactory = Callable[..., PageSession]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e ``e2e``, and skip them all on CASTGRAPH_SKIP_E2E=1."""
    skip = os.environ.get("CASTGRAPH_SKIP_E2E") == "1"
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if skip:
                item.add_marker(pytest.mark.skip(reason="CASTGRAPH_SKIP_E2E=1"))


@pytest.fixture(scope="session", autouse=True)
def _e2e_prerequisites() -> None:
    """Fail (not skip) without the browser stack: CI installs it, so absence is a broken setup."""
    problems = []
    if importlib.util.find_spec("playwright") is None:
        problems.append("the playwright package is missing (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium; see make system-deps)")
    if shutil.which("espeak-ng") is None:
        problems.append("espeak-ng is missing (it renders the demo channel; make system-deps)")
    if problems:
        pytest.fail("e2e prerequisites: " + "; ".join(problems) + ". Set CASTGRAPH_SKIP_E2E=1 "
                    "to skip the browser tests on purpose.", pytrace=False)  # fmt: skip


@pytest.fixture(scope="session")
def e2e_data_dir(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    """An ingested data directory: 3 demo episodes + the markup-titled one, all indexed."""
    scratch = tmp_path_factory.mktemp("e2e-build")
    prepared = os.environ.get("CASTGRAPH_E2E_DATA")
    if not prepared:
        seconds = build_data_dir(scratch / "data", models_dir, scratch)
        log.warning("e2e data directory built in %.0f s", seconds)
        return scratch / "data"
    cache = Path(prepared).resolve()
    if not is_ready(cache):
        shutil.rmtree(cache, ignore_errors=True)
        seconds = build_data_dir(cache, models_dir, scratch)
        log.warning("e2e data directory built in %.0f s at %s", seconds, cache)
    return copy_data_dir(cache, scratch / "data")


@pytest.fixture(scope="session")
def _server_process(
    e2e_data_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CastgraphServer]:
    logs = tmp_path_factory.mktemp("e2e-server")
    server = CastgraphServer(
        cli_env(e2e_data_dir, models_dir), free_port(), logs / "castgraph-serve.log"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(_server_process: CastgraphServer) -> CastgraphServer:
    """The running server, with the API key, whatever the previous test did to it."""
    if not _server_process.running or _server_process.overrides:
        _server_process.start()
    return _server_process


@pytest.fixture
def keyless_server(server: CastgraphServer) -> Iterator[CastgraphServer]:
    """The server restarted without CASTGRAPH_API_KEY (writes need no key); restored after."""
    server.start({"CASTGRAPH_API_KEY": None})
    yield server
    server.start()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def locale() -> str:
    """The browser locale of ``page``/``phone_page``; ``@pytest.mark.parametrize`` overrides."""
    return "en-US"


@pytest.fixture
def page_factory(browser: Browser, locale: str) -> Iterator[PageFactory]:
    """Open a page in a fresh context: ``page_factory(width, height, locale=...)``."""
    contexts: list[BrowserContext] = []

    def open_page(width: int, height: int, *, locale: str = locale, **options: Any) -> PageSession:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale, **options
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return PageSession(page=context.new_page(), context=context).attach()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(page_factory: PageFactory) -> PageSession:
    return page_factory(*DESKTOP)


@pytest.fixture
def phone_page(page_factory: PageFactory) -> PageSession:
    return page_factory(*PHONE, is_mobile=True, has_touch=True)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots go: ``test-output/screenshots/`` or CASTGRAPH_E2E_SCREENSHOTS."""
    override = os.environ.get("CASTGRAPH_E2E_SCREENSHOTS")
    path = Path(override) if override else REPO_ROOT / "test-output" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
