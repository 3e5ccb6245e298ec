"""``castgraph ask``: a cited answer on the terminal, streamed as it is written."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from castgraph.api.auth import key_headers
from castgraph.api.chat_schemas import ChatResponse, Source
from castgraph.api.cliutil import (
    JsonFlag,
    Many,
    clean,
    err,
    errors,
    link_base,
    load_settings,
    read_services,
)
from castgraph.api.datadir import serving_url
from castgraph.api.filters import resolve_episodes
from castgraph.api.media import absolute_link
from castgraph.api.routes.openai_compat import revision_note
from castgraph.core.errors import GenerationError, InputError, NotFoundError, StorageError
from castgraph.core.settings import Settings
from castgraph.core.timefmt import clock
from castgraph.retrieval.base import SearchFilters


def ask(
    question: Annotated[str, typer.Argument(help="A question, in Spanish or English.")],
    as_json: JsonFlag = False,
    episode: Many = None,
    speaker: Many = None,
    language: Many = None,
) -> None:
    """Answer QUESTION from the episodes, citing moments as ``[mm:ss] Speaker — Title — link``."""
    settings = load_settings(quiet=True)
    filters = SearchFilters(tuple(episode or ()), tuple(speaker or ()), tuple(language or ()))
    with errors():
        url = serving_url(settings.data_dir)
        base = link_base(settings)
        if url is not None or as_json:
            response = (
                _ask_http(url, question, filters, key_headers(settings.api_key))
                if url
                else _ask(settings, question, filters)
            )
            sources = _absolute(response.sources, base)
            _print(response.model_copy(update={"sources": sources}), as_json)
        else:
            _ask_streaming(settings, question, filters, base)


def _absolute(sources: list[Source], base: str) -> list[Source]:
    """The sources with links a terminal can open: ``/media/…`` made absolute against ``base``."""
    return [
        s.model_copy(
            update={"link": absolute_link(s.link, base), "url": absolute_link(s.url, base)}
        )
        for s in sources
    ]


def _ask(settings: Settings, question: str, filters: SearchFilters) -> ChatResponse:
    with read_services(settings, "castgraph ask") as services:
        assert services.answers is not None
        answer = services.answers.answer(question, (), resolve_episodes(services.catalog, filters))
    return ChatResponse(answer=answer.text, sources=[Source.of(b) for b in answer.sources])


def _ask_streaming(settings: Settings, question: str, filters: SearchFilters, base: str) -> None:
    with read_services(settings, "castgraph ask") as services:
        assert services.answers is not None
        resolved = resolve_episodes(services.catalog, filters)
        for event in services.answers.stream(question, (), resolved):
            if event.kind == "token":
                typer.echo(clean(event.text), nl=False)
            elif event.kind == "error":
                raise GenerationError(event.text)
            elif event.kind == "revised":
                err.print(revision_note(event.info.get("dropped", [])).strip(), markup=False)
            elif event.kind == "sources":
                typer.echo("")
                _print_sources(_absolute([Source.of(b) for b in event.sources], base))


def _ask_http(
    url: str, question: str, filters: SearchFilters, headers: dict[str, str]
) -> ChatResponse:
    import httpx

    body: dict[str, Any] = {"question": question, "stream": False}
    if not filters.empty:
        body["filters"] = {
            "episode": list(filters.episode_ids),
            "speaker": list(filters.speakers),
            "language": list(filters.languages),
        }
    try:
        response = httpx.post(f"{url}/api/chat", json=body, headers=headers, timeout=300)
    except httpx.HTTPError as exc:
        raise StorageError(f"the server at {url} holds the data but did not answer: {exc}") from exc
    if response.status_code == 404:  # an --episode the server does not know: as without it
        raise NotFoundError(str(response.json().get("detail")))
    if response.status_code == 503:
        raise GenerationError(str(response.json().get("detail")))
    if response.status_code != 200:
        raise InputError(str(response.json().get("detail", response.text)))
    return ChatResponse(**response.json())


def _print(response: ChatResponse, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(response.model_dump(), ensure_ascii=False, indent=2))
        return
    typer.echo(clean(response.answer))
    _print_sources(response.sources)


def _print_sources(sources: list[Source]) -> None:
    if not sources:
        err.print("(no moments cited)")
    for s in sources:
        typer.echo(clean(f"[{clock(s.start)}] {s.speaker or '?'} — {s.title} — {s.link}"))
