"""The whole OpenAPI schema fuzzed (schemathesis, positive and negative data) against a real
``castgraph serve`` on loopback, with and without the API key (issue 13).

Bounded for ``make test``: a few examples per operation, derandomized; ``bench/fuzz.py`` runs
many more. What is checked, and how long work (ingest) is fenced off, is in ``tests/fuzzing.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fuzzing

pytestmark = pytest.mark.integration
EXAMPLES = 6  # per operation and run: 31 operations, ~190 requests a run


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("fuzz") / "data"
    fuzzing.load_data_dir(path)
    yield path


def _fuzzed(data_dir: Path, log: Path, *, server_key: str | None, sent: str | None) -> None:
    with fuzzing.served(data_dir, log, key=server_key) as base:
        report = fuzzing.fuzz(base, key=sent, max_examples=EXAMPLES)
    summary = "\n".join(report.lines())
    assert report.operations >= 30, summary  # every operation of the schema was reached
    assert not report.failures, summary
    assert not [s for s in report.statuses if s >= 500], summary


def test_public_server(data_dir: Path, tmp_path: Path) -> None:
    _fuzzed(data_dir, tmp_path / "serve.log", server_key=None, sent=None)


def test_keyed_private_server_with_the_key(data_dir: Path, tmp_path: Path) -> None:
    _fuzzed(data_dir, tmp_path / "serve.log", server_key=fuzzing.KEY, sent=fuzzing.KEY)


def test_keyed_private_server_without_the_key(data_dir: Path, tmp_path: Path) -> None:
    with fuzzing.served(data_dir, tmp_path / "serve.log", key=fuzzing.KEY) as base:
        report = fuzzing.fuzz(base, key=None, max_examples=EXAMPLES)
    summary = "\n".join(report.lines())
    assert not report.failures, summary
    # Nothing but the public probe answers without the key (a body that is not even JSON is
    # refused as such before the key is looked at: 400/422, never data).
    assert report.statuses[401] > 0.8 * sum(report.statuses.values()), summary
    succeeded = sum(n for status, n in report.statuses.items() if status < 300)
    assert succeeded == report.examples["GET /healthz"], summary
    assert not [s for s in report.statuses if s >= 500], summary
