"""Shared pieces of the command line: consoles, settings loading, error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from castgraph.api.cli_client import reachable
from castgraph.api.datadir import reader_lock, serving_url
from castgraph.api.logs import configure_logging
from castgraph.core.errors import CastgraphError, InputError
from castgraph.core.settings import Settings
from castgraph.core.text import strip_control

if TYPE_CHECKING:
    from castgraph.api.services import Services

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Many = Annotated[list[str] | None, typer.Option(help="Repeat to allow several.")]


def load_settings(*, quiet: bool = False) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CASTGRAPH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        err.print(f"[red]error:[/red] invalid settings: {plain(problems)}", highlight=False)
        raise typer.Exit(2) from exc
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_format)
    return settings


def link_base(settings: Settings) -> str:
    """Where printed ``/media`` links point: CASTGRAPH_PUBLIC_URL, else the running server, else
    where ``castgraph serve`` would listen. A terminal cannot follow a server-relative link."""
    if settings.public_url:
        return settings.public_url
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return reachable(serving_url(settings.data_dir) or f"http://{host}:{settings.port}")


def clean(text: object) -> str:
    """Text from episodes and feeds, without terminal control characters."""
    return strip_control(str(text))


def plain(text: object) -> str:
    """Untrusted text made safe to print through rich: no control characters, no markup."""
    return escape(clean(text))


@contextmanager
def errors() -> Iterator[None]:
    """Map castgraph errors to a message on stderr and an exit code (2 = bad input)."""
    try:
        yield
    except InputError as exc:
        err.print(f"[red]error:[/red] {plain(exc)}", highlight=False)
        raise typer.Exit(2) from exc
    except CastgraphError as exc:
        err.print(f"[red]error:[/red] {plain(exc)}", highlight=False)
        raise typer.Exit(1) from exc
    except OSError as exc:  # e.g. a data directory that cannot be created or written
        err.print(f"[red]error:[/red] {plain(exc)}", highlight=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt as exc:
        err.print("interrupted: run the same command again to finish the work")
        raise typer.Exit(130) from exc


def parse_date(value: str | None, option: str = "--since") -> date | None:
    """``YYYY-MM-DD`` or None; a bad value is an InputError naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from exc


@contextmanager
def read_services(settings: Settings, command: str) -> Iterator[Services]:
    """The stores, opened read-only, for a read command with no server. While the data directory
    is free this process holds it (as a reader) and may open the embedded Chroma database, which
    has no read-only mode; beside a writer it searches the other indexes only, and says so (the
    flat vector index opens read-only, so it is searched either way)."""
    from castgraph.api import wiring

    with reader_lock(settings.data_dir, command) as holder:
        if holder is not None and settings.resolved_vector_backend == "chroma":
            err.print(
                f"[yellow]note:[/yellow] {plain(holder)} is writing {plain(settings.data_dir)}: "
                "searching the keyword and graph indexes only (the vector database cannot be "
                "read beside its writer). To search everything while ingesting, run "
                "`castgraph serve` and ingest through it.",
                highlight=False,
            )
        services = wiring.open_services(settings, read_only=True, local_vectors=holder is None)
        try:
            yield services
        finally:
            services.close()
