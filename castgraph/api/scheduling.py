"""Subscribing and queueing, shared by the HTTP routes and the CLI's in-process mode."""

from __future__ import annotations

from urllib.parse import urlsplit

from castgraph.api.job_schemas import SubscriptionOut
from castgraph.catalog import SqlCatalog
from castgraph.core.cron import check_cron
from castgraph.core.errors import InputError, SourceError
from castgraph.core.jobs import IngestRequest, Job, Run, Subscription
from castgraph.core.settings import Settings, captions_mode


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
    if captions is not None:
        captions_mode(captions)
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
    tz = timezone or settings.timezone  # add checks it: next_after raises zone()'s InputError
    return catalog.subscriptions.add(request, expr, tz, utcnow())


def queue_ingest(catalog: SqlCatalog, request: IngestRequest) -> Job:
    from castgraph.api.jobrun import utcnow

    return catalog.jobs.submit(request, utcnow())


def subscription_out(catalog: SqlCatalog, sub: Subscription) -> SubscriptionOut:
    """``sub`` with its latest run."""
    return SubscriptionOut.of(sub, catalog.subscriptions.last_runs([sub.id]).get(sub.id))


def subscriptions_out(catalog: SqlCatalog) -> list[SubscriptionOut]:
    """Every subscription with its latest run (two queries, however many there are)."""
    subs = catalog.subscriptions.all()
    last = catalog.subscriptions.last_runs(s.id for s in subs)
    return [SubscriptionOut.of(s, last.get(s.id)) for s in subs]


def pause_by_hand(catalog: SqlCatalog, subscription_id: int) -> Subscription:
    """Stop scheduling runs of the subscription until it is resumed."""
    from castgraph.api.jobrun import utcnow

    return catalog.subscriptions.pause(subscription_id, utcnow(), reason="paused by hand")


def retry_subscription(catalog: SqlCatalog, subscription_id: int) -> Run:
    """A retry run of the subscription now (or the run already queued or running)."""
    from castgraph.api.jobrun import utcnow

    return catalog.subscriptions.run_now(subscription_id, utcnow(), "retry")
