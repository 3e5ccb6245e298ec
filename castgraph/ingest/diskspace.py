"""A free-space reserve for ingestion (issue 13, faults).

A store cut off by a full disk in the middle of a write is the worst way to fail: the embedded
graph aborts the whole process there, leaving only a C++ message. Checking before each episode
and before its index writes turns a filling disk into one clear, recorded error instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from castgraph.core.errors import StorageError

MB = 1024 * 1024


def check_free_space(paths: Iterable[Path], min_free_mb: int) -> None:
    """Raise StorageError when a path's file system has less than ``min_free_mb`` free."""
    for path in paths:
        free = shutil.disk_usage(_existing(path)).free
        if free < min_free_mb * MB:
            raise StorageError(
                f"disk full: only {free / MB:.1f} MB free at {path}, below the "
                f"{min_free_mb} MB reserve (CASTGRAPH_MIN_FREE_MB); free some space and run "
                "again: the work done so far is kept"
            )


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (the data directory may not exist yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path
