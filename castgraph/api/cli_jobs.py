"""CLI commands for subscriptions, runs and jobs.

Each works on the catalog directly when no server holds the data directory, and through the
running server's API when one does (its worker then does the work; the key comes from
CASTGRAPH_API_KEY).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from castgraph.api import scheduling, wiring
from castgraph.api.cli_client import call, server_url
from castgraph.api.cliutil import JsonFlag, err, errors, load_settings, out, plain
from castgraph.api.datadir import writer_lock
from castgraph.api.job_schemas import RunOut, SubscriptionOut
from castgraph.api.jobrun import utcnow
from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings

subscriptions_app = typer.Typer(help="List subscriptions; pause, resume or run one now.")

Cron = Annotated[str | None, typer.Option(help="When to run, e.g. '0 3 * * *' (nightly, 03:00).")]
Zone = Annotated[str | None, typer.Option(help="Time zone of the cron (CASTGRAPH_TIMEZONE).")]
Language = Annotated[str | None, typer.Option(help="Force the language, e.g. es.")]
Captions = Annotated[str | None, typer.Option(help="never | prefer | only")]
Limit = Annotated[int | None, typer.Option(min=1, help="At most N new episodes per run.")]


def _local(settings: Settings, work: Callable[[SqlCatalog], Any]) -> Any:
    with wiring.catalog(settings) as catalog:
        return work(catalog)


def subscribe(
    source: Annotated[str, typer.Argument(help="A channel, playlist or feed URL (or a folder).")],
    cron: Cron = None,
    timezone: Zone = None,
    language: Language = None,
    captions: Captions = None,
    limit: Limit = None,
) -> None:
    """Ingest SOURCE on a schedule (nightly at 03:00 by default); again to change it."""
    settings = load_settings()
    with errors():
        base = server_url(settings)
        if base is not None:
            body = {"source": source, "cron": cron, "timezone": timezone, "language": language}
            sub = call(
                settings,
                base,
                "POST",
                "/api/subscriptions",
                {**body, "captions": captions, "limit": limit},
            )
        else:
            request = scheduling.request_of(
                settings, source, remote=False, language=language, captions=captions, limit=limit
            )

            def work(catalog: SqlCatalog) -> dict[str, Any]:
                found, _ = scheduling.subscribe(
                    settings, catalog, request, cron=cron, timezone=timezone
                )
                return SubscriptionOut.of(found).model_dump(mode="json")

            sub = _local(settings, work)
    err.print(
        plain(f"subscription {sub['id']}: {sub['source']} at '{sub['cron']}' ({sub['timezone']}); "
              f"next run {sub['next_due_at']}"),
        highlight=False,
    )  # fmt: skip


def unsubscribe(subscription_id: int) -> None:
    """Remove a subscription and its runs (its episodes stay)."""
    settings = load_settings()
    with errors():
        base = server_url(settings)
        if base is not None:
            call(settings, base, "DELETE", f"/api/subscriptions/{subscription_id}")
        else:
            _local(settings, lambda c: c.subscriptions.delete(subscription_id))
    err.print(f"subscription {subscription_id} removed")


def _subscriptions(settings: Settings) -> list[dict[str, Any]]:
    base = server_url(settings)
    if base is not None:
        found: list[dict[str, Any]] = call(settings, base, "GET", "/api/subscriptions")
        return found

    def work(catalog: SqlCatalog) -> list[dict[str, Any]]:
        return [o.model_dump(mode="json") for o in scheduling.subscriptions_out(catalog)]

    rows: list[dict[str, Any]] = _local(settings, work)
    return rows


@subscriptions_app.callback(invoke_without_command=True)
def subscriptions(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List subscriptions: schedule, state, next run and the last run's outcome."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings(quiet=True)
    with errors():
        rows = _subscriptions(settings)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("id", "source", "schedule", "state", "next run", "last run")
    for s in rows:
        state = s["state"] if not s["paused_until"] else f"paused until {s['paused_until']}"
        last = s["last_run"]
        summary = (
            f"{last['state']}: {last['ingested']} new, {last['failed']} failed" if last else ""
        )
        schedule = f"{s['cron']} {s['timezone']}"
        table.add_row(
            str(s["id"]),
            plain(s["source"]),
            schedule,
            plain(state),
            s["next_due_at"] or "",
            summary,
        )
    out.print(table)


def _act(subscription_id: int, action: str) -> dict[str, Any]:
    settings = load_settings()
    base = server_url(settings)
    if base is not None:
        found: dict[str, Any] = call(
            settings, base, "POST", f"/api/subscriptions/{subscription_id}/{action}"
        )
        return found

    def work(catalog: SqlCatalog) -> dict[str, Any]:
        store = catalog.subscriptions
        if action == "pause":
            sub = scheduling.pause_by_hand(catalog, subscription_id)
        else:
            sub = store.resume(subscription_id, utcnow())
        return SubscriptionOut.of(sub).model_dump(mode="json")

    result: dict[str, Any] = _local(settings, work)
    return result


@subscriptions_app.command("pause")
def pause(subscription_id: int) -> None:
    """Stop scheduling runs of a subscription until resumed."""
    with errors():
        _act(subscription_id, "pause")
    err.print(f"subscription {subscription_id} paused")


@subscriptions_app.command("resume")
def resume(subscription_id: int) -> None:
    """Schedule a paused subscription again (also ends an automatic pause)."""
    with errors():
        sub = _act(subscription_id, "resume")
    err.print(f"subscription {subscription_id} resumed; next run {sub['next_due_at']}")


@subscriptions_app.command("run")
def run_now(subscription_id: int) -> None:
    """Run a subscription now: through the server's worker, or here when no server runs."""
    settings = load_settings()
    with errors():
        base = server_url(settings)
        if base is not None:
            run = call(settings, base, "POST", f"/api/subscriptions/{subscription_id}/run")
            err.print(f"run {run['id']} queued on {base} (see `castgraph runs`)")
            return
        run_id = _run_here(settings, subscription_id)
        run = _local(settings, lambda c: RunOut.of(c.subscriptions.get_run(run_id)))
    _print_runs([run.model_dump(mode="json")])
    if run.state not in ("succeeded",):
        raise typer.Exit(1)


def _run_here(settings: Settings, subscription_id: int) -> int:
    from castgraph.api.worker import Worker

    with writer_lock(settings.data_dir, "castgraph subscriptions run"):
        services = wiring.open_services(settings)
        try:
            run = services.catalog.subscriptions.run_now(subscription_id, utcnow())
            Worker(settings, services).drain()
            return run.id
        finally:
            services.close()


def runs(
    subscription: Annotated[int | None, typer.Option(help="Only this subscription's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, latest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Runs of subscriptions, latest first: counts, per-episode outcomes and errors by kind."""
    settings = load_settings(quiet=True)
    with errors():
        base = server_url(settings)
        if base is not None:
            query = f"?limit={limit}" + (f"&subscription={subscription}" if subscription else "")
            rows: list[dict[str, Any]] = call(settings, base, "GET", f"/api/runs{query}")
        else:
            rows = _local(
                settings,
                lambda c: [
                    RunOut.of(r).model_dump(mode="json")
                    for r in c.subscriptions.runs(subscription, limit)
                ],
            )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _print_runs(rows)


def _print_runs(rows: list[dict[str, Any]]) -> None:
    table = Table("run", "sub", "due", "trigger", "state", "found", "new", "failed", "errors")
    for r in rows:
        kinds = ", ".join(f"{k} {n}" for k, n in r["errors_by_kind"].items())
        note = f" — {r['note']}" if r.get("note") else ""
        table.add_row(
            str(r["id"]), str(r["subscription_id"]), r["due_at"][:16], r["trigger"], r["state"],
            str(r["found"]), str(r["ingested"]), str(r["failed"]), plain(kinds + note),
        )  # fmt: skip
    out.print(table)


def ingest_remote(
    settings: Settings, base: str, sources: list[str], body: dict[str, Any], *, quiet: bool
) -> bool:
    """Queue one job per source on the running server and follow each to its end."""
    ok = True
    for source in sources:
        job = call(settings, base, "POST", "/api/ingest", {**body, "url": source})
        err.print(plain(f"job {job['id']} queued on {base}: {source}"), highlight=False)
        ok = _follow(settings, base, int(job["id"]), quiet=quiet) and ok
    return ok


def _follow(settings: Settings, base: str, job_id: int, *, quiet: bool) -> bool:
    """Print the job's progress as it changes; True when it succeeded."""
    import time

    shown = None
    while True:
        job = call(settings, base, "GET", f"/api/jobs/{job_id}")
        progress = job["progress"]
        line = _progress_line(progress)
        if not quiet and line != shown:
            err.print(plain(f"job {job_id}: {line}"), highlight=False)
            shown = line
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    counts = progress.get("counts") or {}
    err.print(
        f"{counts.get('indexed', 0)} indexed, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped (already done or over --limit), "
        f"{counts.get('found', 0)} found — job {job['state']}"
    )
    if job.get("error"):
        err.print(plain(f"[red]error:[/red] {job['error']}"), highlight=False)
    return bool(job["state"] == "succeeded")


def _progress_line(progress: dict[str, Any]) -> str:
    stage = progress.get("stage") or "queued"
    if progress.get("episode_title"):
        where = f"{progress['index'] + 1}/{progress['total']} {progress['episode_title']}"
        return f"{where}: {stage}"
    return stage
