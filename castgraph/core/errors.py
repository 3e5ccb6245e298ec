"""The castgraph exception tree.

CastgraphError
├── InputError            bad user input: a missing path, a malformed or refused URL
│   └── UnsafeURLError    file://, loopback or private-range URL without permission
├── SourceError           a source could not be resolved or downloaded (private, removed, 404)
├── MediaError            a file is not media, is corrupt, or holds no speech
├── DependencyError       an optional dependency is missing (message names the extra to install)
├── ModelError            model files missing, corrupt or failing to load
├── StorageError          the catalog or an index failed
│   └── LockedError       another process holds the data directory
├── GenerationError       the language model failed or its endpoint is unreachable
│   └── BusyError         the model is writing other answers and its line is full (retry)
└── NotFoundError         an episode, speaker or job does not exist

Backends wrap library errors with ``raise ... from exc``; only ``api/`` maps them to exit codes
or HTTP statuses.
"""

from __future__ import annotations


class CastgraphError(Exception):
    """Root of every error castgraph raises on purpose."""


class InputError(CastgraphError):
    """The user gave something castgraph cannot use; the message says what and what to do."""


class UnsafeURLError(InputError):
    """A remote URL points at the local machine or a private network."""


class SourceError(CastgraphError):
    """A source exists but could not be resolved or downloaded."""


class MediaError(CastgraphError):
    """A file is not decodable media or contains no speech."""


class DependencyError(CastgraphError):
    """An optional dependency is missing."""

    def __init__(
        self, package: str, extra: str | None = None, *, install: str | None = None
    ) -> None:
        target = f"'castgraph[{extra}]'" if extra else "castgraph"
        how = install or f"run  pip install {target}  to enable it"
        super().__init__(f"{package} is not installed: {how}")
        self.package = package
        self.extra = extra


class ModelError(CastgraphError):
    """Model files are missing, corrupt or cannot be loaded."""


class StorageError(CastgraphError):
    """The catalog or an index failed."""


class LockedError(StorageError):
    """Another process holds the data directory for writing."""


class GenerationError(CastgraphError):
    """The language model failed to answer, or its endpoint cannot be reached."""


class BusyError(GenerationError):
    """The model is writing other answers and its line is full: retry in ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(CastgraphError):
    """A requested episode, speaker or job does not exist."""
