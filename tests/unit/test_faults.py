"""The fault seam (no-op unless asked) and the free-space reserve (issue 13, faults)."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from castgraph.core import faults
from castgraph.core.errors import StorageError
from castgraph.ingest import diskspace


def test_points_do_nothing_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.KILL_ENV, raising=False)
    monkeypatch.delenv(faults.ENOSPC_ENV, raising=False)
    for name in faults.POINTS:
        faults.point(name)


def test_enospc_at_the_nth_time_a_point_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "_hits", faults.Counter())
    monkeypatch.setenv(faults.ENOSPC_ENV, "vector@2")
    faults.point("keyword")
    faults.point("vector")  # the first time: nothing
    with pytest.raises(OSError) as raised:
        faults.point("vector")
    assert raised.value.errno == errno.ENOSPC
    faults.point("vector")  # only the N-th


Usage = namedtuple("Usage", "total used free")


def test_the_reserve_refuses_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: Usage(10, 9, 5 * diskspace.MB))
    diskspace.check_free_space([tmp_path / "not-yet" / "data"], 5)  # at the reserve: fine
    with pytest.raises(
        StorageError, match=r"disk full: only 5\.0 MB free .*\(CASTGRAPH_MIN_FREE_MB\)"
    ):
        diskspace.check_free_space([tmp_path], 6)
