"""What a failed episode leaves in ``media_dir/<episode id>/``: removed unless a retry needs it.

The decoded WAV is always removed (it is derived, and large: ~115 MB an hour). The downloads go
too, unless the failure is one that is retried as it is (the network, a server's 5xx, a bot check
or a rate limit, a cancelled job), where a finished or partial download saves the retry its
bytes. A file that is not media, holds no sound, is too long or too large is never worth
keeping, so disk use is bounded by the episodes in flight, not by the failures of every run.
Only that folder is touched: a symlink in its place is unlinked, never followed, and a local file
ingested in place (which lives elsewhere) is the user's.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from castgraph.ingest.failures import classify, is_blocked, is_transient

log = logging.getLogger(__name__)

WAV_NAME = "audio.wav"
_KEPT_FOR_RETRY = frozenset({"cancelled"})


def remove_wav(workdir: Path) -> None:
    """Remove the episode's decoded WAV and its half-written ``.tmp``, if any."""
    for name in (WAV_NAME, WAV_NAME + ".tmp"):
        (workdir / name).unlink(missing_ok=True)


def after_failure(workdir: Path, error: str | None) -> None:
    """Clean ``workdir`` after an episode failed with ``error`` (see the module's rules)."""
    kind = classify(error)
    keep = is_transient(kind) or is_blocked(kind) or kind in _KEPT_FOR_RETRY
    try:
        if workdir.is_symlink():  # not ours to clean inside: never followed
            if not keep:
                workdir.unlink()
            return
        remove_wav(workdir)
        if keep:
            return
        if workdir.is_dir():
            shutil.rmtree(workdir)
        else:
            return
    except OSError as exc:  # a failure to clean never hides the episode's own failure
        log.warning("could not remove a failed episode's files", extra={"error": str(exc)})
        return
    log.info("removed a failed episode's downloads", extra={"dir": str(workdir), "kind": kind})
