"""Catalog URLs and the ``castgraph migrate`` command (SQLite; both databases are covered by
tests/integration/test_catalog_migrations.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from castgraph.catalog import SqlCatalog, head_revision
from castgraph.catalog._engine import make_engine, parse_url
from castgraph.core.errors import DependencyError, InputError


def test_a_bare_postgresql_url_means_psycopg_3() -> None:
    url = parse_url("postgresql://cg:secret@db:5432/castgraph")
    assert url.drivername == "postgresql+psycopg" and url.database == "castgraph"
    assert parse_url("postgresql+psycopg://db/x").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///x.db").drivername == "sqlite"


def test_a_bad_url_says_what_a_good_one_looks_like() -> None:
    with pytest.raises(InputError, match="postgresql\\+psycopg://"):
        SqlCatalog("not a url").open()


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(DependencyError, match=r"pip install 'castgraph\[postgres\]'"):
        make_engine(parse_url("postgresql://cg@127.0.0.1/castgraph"))


def test_cli_migrate_reports_the_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.stderr
    assert f"revision none → {head_revision()}: created" in first.stdout
    again = runner.invoke(app, ["migrate", "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {
        "database": f"sqlite:///{tmp_path / 'catalog.db'}",
        "before": head_revision(),
        "after": head_revision(),
        "head": head_revision(),
        "changed": False,
        "adopted": False,
    }


def test_cli_migrate_fails_clearly_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_DATABASE_URL", "postgresql://cg:secret@127.0.0.1:1/castgraph")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "cannot migrate the catalog" in result.stderr and "secret" not in result.stderr
