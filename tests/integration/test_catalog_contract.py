"""The catalog contract, on SQLite and on PostgreSQL.

Each catalog behaviour is written once, in the unit modules below, against the ``catalog`` (or
``catalog_url``) fixture, and runs there on SQLite in every quick unit run. This module collects
every one of those tests and overrides ``catalog_url`` so each runs on both databases:
episodes, transcripts, analysis, speakers and voices, delete, jobs (submit, take, sweep,
cancel), subscriptions (add, claim_due, run_now, finish_run, last_runs) and the races of
concurrent claimers, takers and run_nows, each with its own engine and connections.

A new catalog test belongs in one of those modules (or in a module added to ``MODULES``), never
copied here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.pgserver import database_url, postgres_server, postgres_url  # noqa: F401
from tests.unit import test_catalog, test_schedule, test_speaker_catalog

pytestmark = pytest.mark.integration

MODULES = (test_catalog, test_schedule, test_speaker_catalog)


@pytest.fixture
def catalog_url(database_url: str) -> str:  # noqa: F811
    """Overrides the unit tests' SQLite file: each test runs on every backend."""
    return database_url


def contract_tests(modules: tuple[ModuleType, ...]) -> dict[str, Callable[..., Any]]:
    """The tests of ``modules`` that use a catalog fixture, by name (names must not clash)."""
    found: dict[str, Callable[..., Any]] = {}
    for module in modules:
        for name, test in vars(module).items():
            if not (name.startswith("test_") and inspect.isfunction(test)):
                continue
            if {"catalog", "catalog_url"} & set(inspect.signature(test).parameters):
                assert name not in found, f"{name} is in two catalog test modules: rename one"
                found[name] = test
    return found


CONTRACT = contract_tests(MODULES)
globals().update(CONTRACT)  # collected here, so they get this module's catalog_url


def test_the_contract_covers_the_catalog_tests() -> None:
    # A guard against a refactor that silently empties the contract (e.g. a renamed fixture).
    assert len(CONTRACT) >= 25
    assert {"test_concurrent_workers_take_each_job_once", "test_delete_removes_everything"} <= set(
        CONTRACT
    )
