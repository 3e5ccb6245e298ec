"""SSRF through the real fetchers (issue 13): a redirect or a DNS answer that leads to a private
address never reaches it. The "private service" is a loopback server that records every request;
the "public" server is another loopback server that the URL guard is told is public (its name
resolves to a public address for the guard, and its connections are declared public)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from castgraph.core.errors import InputError, UnsafeURLError
from castgraph.core.models import MediaItem
from castgraph.ingest.captions import fetch_captions
from castgraph.ingest.sources import urlguard
from castgraph.ingest.sources.ytdlp import YtDlpSource
from tests.mediaserver import MediaServer, alias_public_host, media_server  # noqa: F401
from tests.recorder import recording_server

pytestmark = pytest.mark.integration

MP3 = b"\xff\xfb\x90\x00" * 4096


@pytest.fixture
def internal() -> Iterator[tuple[str, list[str]]]:
    """A private service on loopback: its base URL, and the paths it was asked for."""
    with recording_server(MP3, "audio/mpeg") as served:
        yield served


@pytest.fixture
def public(media_server: MediaServer, monkeypatch: pytest.MonkeyPatch) -> MediaServer:  # noqa: F811
    alias_public_host(monkeypatch)
    return media_server


def _public(server: MediaServer, name: str) -> str:
    return server.url(name).replace("127.0.0.1", "public.test")


def test_the_public_stand_in_is_fetched(public: MediaServer, tmp_path: Path) -> None:
    """The control: without a private hop, the same calls succeed."""
    public.add_file("ok.mp3", MP3)
    source = YtDlpSource(allow_private=False, timeout=5)
    (item,) = source.resolve(_public(public, "ok.mp3"))
    assert source.fetch(item, tmp_path).is_file()


@pytest.mark.parametrize("step", ["resolve", "details", "fetch"])
def test_a_redirect_to_a_private_address_is_never_followed(
    public: MediaServer, internal: tuple[str, list[str]], tmp_path: Path, step: str
) -> None:
    base, hits = internal
    hop = public.add_redirect("hop.mp3", f"{base}/secret.mp3")
    url = hop.replace("127.0.0.1", "public.test")
    source = YtDlpSource(allow_private=False, timeout=5)
    item = MediaItem("generic:hop", url, "hop")
    with pytest.raises(
        UnsafeURLError, match=r"redirect.*127\.0\.0\.1.*CASTGRAPH_ALLOW_PRIVATE_URLS"
    ):
        if step == "resolve":
            source.resolve(url)
        elif step == "details":
            source.details(item)
        else:
            source.fetch(item, tmp_path)
    assert hits == []  # not one request reached the private service
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_to_the_metadata_address_is_refused_before_connecting(
    public: MediaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        connected.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    hop = public.add_redirect("meta.mp3", "http://169.254.169.254/latest/meta-data/iam")
    source = YtDlpSource(allow_private=False, timeout=5)
    with pytest.raises(UnsafeURLError, match=r"169\.254\.169\.254.*link-local"):
        source.fetch(MediaItem("generic:m", hop.replace("127.0.0.1", "public.test"), "m"), tmp_path)
    assert all(address[0] != "169.254.169.254" for address in connected)


def test_a_public_name_that_resolves_to_loopback_at_connect_time_is_refused(
    internal: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DNS rebinding: the guard's lookup says public, the connection's lookup says 127.0.0.1."""
    base, hits = internal
    real_getaddrinfo = socket.getaddrinfo

    def guard_view(name: str, port: int, *args: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    def connect_view(name: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if name == "rebind.test" else name, *args, **kwargs)

    monkeypatch.setattr(urlguard, "system_resolver", guard_view)
    monkeypatch.setattr(socket, "getaddrinfo", connect_view)
    url = base.replace("127.0.0.1", "rebind.test") + "/secret.mp3"
    source = YtDlpSource(allow_private=False, timeout=5)
    for call in (
        lambda: source.resolve(url),
        lambda: source.fetch(MediaItem("generic:r", url, "r"), tmp_path),
    ):
        with pytest.raises(UnsafeURLError, match=r"rebind\.test.*127\.0\.0\.1.*loopback"):
            call()
    with pytest.raises(UnsafeURLError, match=r"rebind\.test.*127\.0\.0\.1.*loopback"):
        fetch_captions(url, allow_private=False, timeout=5)
    assert hits == []


def test_feed_items_with_private_or_file_urls_fail_alone(
    public: MediaServer, internal: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, hits = internal
    public.add_file("ok.mp3", MP3)
    enclosures = {
        "file": "file:///etc/passwd",
        "loopback": f"{base}/secret.mp3",
        "decimal": "http://2130706433/secret.mp3",
        "mapped": "http://[::ffff:7f00:1]/secret.mp3",
        "ok": _public(public, "ok.mp3"),
    }
    items = "".join(
        f'<item><title>{name}</title><guid>urn:{name}</guid><enclosure url="{url}" '
        'type="audio/mpeg"/></item>'
        for name, url in enclosures.items()
    )
    public.add_file(
        "feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
    )
    source = YtDlpSource(allow_private=False, timeout=5)
    listed = {i.title: i for i in source.resolve(_public(public, "feed.xml"))}
    assert source.fetch(listed.pop("ok"), tmp_path / "ok").is_file()
    for title, item in listed.items():  # a file:// enclosure may be dropped by yt-dlp itself
        with pytest.raises(InputError, match=r"refusing|unsupported URL scheme"):
            source.fetch(item, tmp_path / title)
    assert set(listed) >= {"loopback", "decimal", "mapped"}
    assert hits == []
