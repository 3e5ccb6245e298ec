"""Subscribing and queueing, shared by the HTTP routes and the CLI's in-process mode."""

from __future__ import annotations

from urllib.parse import urlsplit

from castgraph.catalog import SqlCatalog
from castgraph.core.cron import check_cron, zone
from castgraph.core.errors import InputError, SourceError
from castgraph.core.jobs import IngestRequest, Job, Subscription
from castgraph.core.settings import Settings

CAPTIONS = ("never", "prefer", "only")


def check_source(settings: Settings, source: str, *, remote: bool) -> str:
    """``source`` stripped, once it is known to be usable (InputError saying why not).

    Over HTTP only http(s) URLs are taken unless CASTGRAPH_ALLOW_PRIVATE_URLS is set: a path
    would make the server read its own files for whoever holds the key.
    """
    from castgraph.api import wiring

    text = source.strip()
    scheme = urlsplit(text).scheme.lower()
    if remote and not settings.allow_private_urls and scheme not in ("http", "https"):
        raise InputError(
            f"source {text!r}: give an http(s) URL; server-side paths are taken over the API "
            "only when CASTGRAPH_ALLOW_PRIVATE_URLS is set"
        )
    try:
        wiring.sources(settings, [text])
    except SourceError as exc:  # e.g. a host that does not resolve: the caller's to fix
        raise InputError(str(exc)) from exc
    return text


def request_of(
    settings: Settings,
    source: str,
    *,
    remote: bool,
    language: str | None = None,
    captions: str | None = None,
    limit: int | None = None,
    force: bool = False,
) -> IngestRequest:
    if captions is not None and captions not in CAPTIONS:
        raise InputError(f"captions {captions!r}: choose never, prefer or only")
    if limit is not None and limit < 1:
        raise InputError(f"limit {limit}: give a positive number of episodes")
    text = check_source(settings, source, remote=remote)
    return IngestRequest(text, language or None, captions, limit, force)


def subscribe(
    settings: Settings,
    catalog: SqlCatalog,
    request: IngestRequest,
    *,
    cron: str | None = None,
    timezone: str | None = None,
) -> tuple[Subscription, bool]:
    """Subscribe (True) or update the subscription of the same source (False)."""
    from castgraph.api.jobrun import utcnow

    expr = check_cron(cron or settings.default_cron)
    tz = timezone or settings.timezone
    zone(tz)
    return catalog.subscriptions.add(request, expr, tz, utcnow())


def queue_ingest(catalog: SqlCatalog, request: IngestRequest) -> Job:
    from castgraph.api.jobrun import utcnow

    return catalog.jobs.submit(request, utcnow())
