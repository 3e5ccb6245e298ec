"""``castgraph worker`` and ``castgraph beat``: the distributed queue's processes (Celery)."""

from __future__ import annotations

import socket
from typing import Annotated, Any

import typer

from castgraph.api.cliutil import err, errors, load_settings
from castgraph.core.errors import InputError
from castgraph.core.settings import Settings


def _app(settings: Settings) -> Any:
    from castgraph.api.queue.app import make_app

    return make_app(settings)


def check_queues(text: str) -> list[str]:
    """The queues named in ``text`` (comma-separated), each one castgraph knows."""
    from castgraph.api.queue.app import QUEUES

    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if not names or unknown:
        raise InputError(
            f"--queues {text!r}: name one or more of {', '.join(QUEUES)} (comma-separated)"
        )
    return names


def worker(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="download, asr and/or index, comma-separated.")
    ] = "download,asr,index",
    concurrency: Annotated[
        int, typer.Option(min=1, help="Processes (each loads its own models).")
    ] = 1,
) -> None:
    """Run a queue worker (needs CASTGRAPH_QUEUE_URL): download, speech recognition, indexing."""
    settings = load_settings()
    with errors():
        names = check_queues(queues)
        app = _app(settings)
        err.print(f"castgraph worker on {', '.join(names)} ({settings.queue_url})")
        app.worker_main(
            [
                "worker",
                "--queues",
                ",".join(names),
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"castgraph-{'-'.join(names)}-{socket.gethostname()}@%h",
                "--loglevel",
                settings.log_level,
                "--without-gossip",
                "--without-mingle",
            ]
        )


def beat() -> None:
    """Run the one scheduler process (needs CASTGRAPH_QUEUE_URL): it sends the tick that claims
    due subscriptions every CASTGRAPH_TICK_SECONDS. Run exactly one per deployment."""
    settings = load_settings()
    with errors():
        app = _app(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        schedule = settings.data_dir / "celerybeat-schedule"
        err.print(f"castgraph beat every {settings.tick_seconds:g}s ({settings.queue_url})")
        app.start(["beat", "--schedule", str(schedule), "--loglevel", settings.log_level])
