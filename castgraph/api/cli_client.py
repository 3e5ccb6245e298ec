"""The CLI as a client of the running ``castgraph serve`` that holds the data directory."""

from __future__ import annotations

from typing import Any

from castgraph.api.auth import key_headers
from castgraph.api.datadir import serving_url
from castgraph.core.errors import InputError, StorageError
from castgraph.core.settings import Settings


def reachable(url: str) -> str:
    """``url`` as reached from this machine: a server on every interface (0.0.0.0, ::) is
    reached through loopback."""
    return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def server_url(settings: Settings) -> str | None:
    """The running server's URL reachable from here (a wildcard bind is reached via loopback)."""
    url = serving_url(settings.data_dir)
    return reachable(url) if url is not None else None


def call(settings: Settings, base: str, method: str, path: str, body: Any = None) -> Any:
    """One API request with CASTGRAPH_API_KEY; its JSON answer, or a castgraph error."""
    import httpx

    headers = key_headers(settings.api_key)
    try:
        response = httpx.request(method, f"{base}{path}", json=body, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        raise StorageError(
            f"the server at {base} holds the data but did not answer: {exc}"
        ) from exc
    if response.status_code == 401:
        raise InputError(
            f"the server at {base} needs the API key: set CASTGRAPH_API_KEY to the server's key"
        )
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        error = InputError if response.status_code < 500 else StorageError
        raise error(f"{detail} (HTTP {response.status_code} from {base})")
    return response.json() if response.content else None
