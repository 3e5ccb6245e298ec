"""``castgraph migrate``: bring the configured catalog's schema to this version's newest.

Every process also does this when it opens the catalog (serialised, so replicas starting
together are safe); deployments that prefer to migrate once, before starting replicas, run it.
"""

from __future__ import annotations

import json

import typer

from castgraph.api.cliutil import JsonFlag, errors, load_settings, out, plain
from castgraph.catalog import MigrationResult
from castgraph.catalog import migrate as migrate_catalog


def migrate(as_json: JsonFlag = False) -> None:
    """Upgrade the catalog (CASTGRAPH_DATABASE_URL) to the newest schema; prints the revision
    before and after."""
    settings = load_settings(quiet=True)
    with errors():
        result = migrate_catalog(settings.resolved_database_url)
    if as_json:
        typer.echo(json.dumps(_payload(result), indent=2))
        return
    out.print(f"catalog {plain(result.database)}", highlight=False)
    out.print(f"revision {result.before or 'none'} → {result.after}: {_summary(result)}")


def _payload(result: MigrationResult) -> dict[str, object]:
    return {
        "database": result.database,
        "before": result.before,
        "after": result.after,
        "head": result.head,
        "changed": result.changed,
        "adopted": result.adopted,
    }


def _summary(result: MigrationResult) -> str:
    if not result.changed:
        return "already current"
    if result.adopted:
        return "upgraded a catalog from before schema revisions (no data changed)"
    return "created" if result.before is None else "upgraded"
