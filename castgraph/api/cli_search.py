"""CLI commands over the indexes: ``search``, ``reindex``, ``delete`` and ``serve``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from castgraph.api import wiring
from castgraph.api.auth import binding_refusal, is_loopback, key_headers
from castgraph.api.cliutil import (
    JsonFlag,
    Many,
    clean,
    err,
    errors,
    link_base,
    load_settings,
    parse_date,
    plain,
    read_services,
)
from castgraph.api.datadir import serving_url, writer_lock
from castgraph.api.filters import resolve_episodes
from castgraph.api.media import absolute_link
from castgraph.api.schemas import SearchHit
from castgraph.core.errors import InputError, NotFoundError, StorageError
from castgraph.core.settings import Settings
from castgraph.core.timefmt import clock
from castgraph.retrieval.base import SearchFilters


def search(
    query: Annotated[str, typer.Argument(help="Words or a question, in Spanish or English.")],
    as_json: JsonFlag = False,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="How many results.")] = 10,
    episode: Many = None,
    speaker: Many = None,
    language: Many = None,
    date_from: Annotated[str | None, typer.Option(help="Published on/after YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option(help="Published on/before YYYY-MM-DD.")] = None,
) -> None:
    """Find the moments that answer QUERY: speaker, time and a link that opens each one."""
    settings = load_settings(quiet=True)
    with errors():
        filters = SearchFilters(
            episode_ids=tuple(episode or ()),
            speakers=tuple(speaker or ()),
            languages=tuple(language or ()),
            date_from=parse_date(date_from, "--date-from"),
            date_to=parse_date(date_to, "--date-to"),
        )
        base = link_base(settings)
        hits = [
            hit.model_copy(
                update={"link": absolute_link(hit.link, base), "url": absolute_link(hit.url, base)}
            )
            for hit in _search(settings, query, k, filters)
        ]
    if as_json:
        payload = {"query": query.strip(), "results": [h.model_dump() for h in hits]}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not hits:
        err.print("no results: is anything indexed? (`castgraph episodes`)")
    for hit in hits:
        who = hit.speaker or "UNKNOWN"
        typer.echo(clean(f"[{clock(hit.start)}] {who} — {hit.title} — {hit.link}"))
        typer.echo(clean(f"    {hit.text}"))


def _search(settings: Settings, query: str, k: int, filters: SearchFilters) -> list[SearchHit]:
    url = serving_url(settings.data_dir)
    if url is not None:  # the server holds the stores: ask it
        return _search_http(url, query, k, filters, key_headers(settings.api_key))
    with read_services(settings, "castgraph search") as services:
        resolved = resolve_episodes(services.catalog, filters)
        return [SearchHit.of(r) for r in services.search.search(query, k, resolved)]


def _check_binding(settings: Settings, insecure: bool) -> None:
    """No keyless server on the network (exit 2), unless the user insists (--insecure)."""
    refusal = binding_refusal(settings.host, settings.api_key, insecure=insecure)
    if refusal is not None:
        err.print(f"[red]error:[/red] {plain(refusal)}", highlight=False)
        raise typer.Exit(2)
    if settings.api_key is None and not is_loopback(settings.host):
        err.print(
            f"[yellow]warning:[/yellow] serving on {plain(settings.host)} without an API key "
            "(--insecure): anyone who can reach it can change the data",
            highlight=False,
        )


def _search_http(
    url: str, query: str, k: int, filters: SearchFilters, headers: dict[str, str]
) -> list[SearchHit]:
    import httpx

    params: list[tuple[str, Any]] = [("q", query), ("k", k)]
    params += [("episode", e) for e in filters.episode_ids]
    params += [("speaker", s) for s in filters.speakers]
    params += [("language", lang) for lang in filters.languages]
    params += [("date_from", filters.date_from.isoformat())] if filters.date_from else []
    params += [("date_to", filters.date_to.isoformat())] if filters.date_to else []
    try:
        response = httpx.get(f"{url}/api/search", params=params, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise StorageError(f"the server at {url} holds the data but did not answer: {exc}") from exc
    if response.status_code == 404:  # an --episode the server does not know: as without it
        raise NotFoundError(str(response.json().get("detail", response.text)))
    if response.status_code != 200:
        raise InputError(str(response.json().get("detail", response.text)))
    return [SearchHit(**hit) for hit in response.json()["results"]]


def reindex(
    episode: Many = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Rebuild the keyword, vector and graph indexes from the catalog."""
    settings = load_settings(quiet=quiet)
    with errors(), writer_lock(settings.data_dir, "castgraph reindex"):
        services = wiring.open_services(settings)
        try:
            ingest = wiring.pipeline(settings, services, None)
            done, dropped = wiring.reindex(services, episode or None, ingest.reanalyse)
        finally:
            services.close()
    err.print(f"{done} episodes reindexed, {dropped} stale episodes removed from the indexes")


def delete(
    episode_id: Annotated[str, typer.Argument(help="Episode id (or a unique prefix).")],
) -> None:
    """Remove an episode from the catalog and from every index."""
    settings = load_settings()
    with errors(), writer_lock(settings.data_dir, "castgraph delete"):
        services = wiring.open_services(settings)
        try:
            episode = services.delete_episode(episode_id)
        finally:
            services.close()
    err.print(plain(f"deleted {episode.id} {episode.title}"), highlight=False)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (CASTGRAPH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CASTGRAPH_PORT).")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Serve beyond loopback without CASTGRAPH_API_KEY.")
    ] = False,
) -> None:
    """Serve the API (OpenAPI docs at /docs) and hold the data directory for writing."""
    import uvicorn

    from castgraph.api.app import create_app
    from castgraph.api.httpserver import http_protocol

    settings = load_settings()
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    _check_binding(settings, insecure)
    url = f"http://{settings.host}:{settings.port}"
    with errors(), writer_lock(settings.data_dir, f"castgraph serve {url}"):
        err.print(f"castgraph serving {url} (docs at {url}/docs)")
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            http=http_protocol(settings.client_timeout_s),  # header deadline, JSON 400s
        )
