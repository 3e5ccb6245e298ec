"""The URL guard and ``make_source``'s choice of backend (no network: DNS is faked)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from castgraph.core.errors import InputError, SourceError, UnsafeURLError
from castgraph.ingest.sources import LocalSource, make_source
from castgraph.ingest.sources.urlguard import URLGuard, check_url

FAKE_DNS = {
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:4700::1111"],
    "intranet.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "192.168.1.10"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "ula.example": ["fd00::1"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``socket.getaddrinfo`` answering from FAKE_DNS; returns the list of looked-up hosts."""
    calls: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        if host not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out: list[tuple[Any, ...]] = []
        for ip in FAKE_DNS[host]:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (ip, port or 0)))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.xml",
        "http://127.1/x",
        "http://localhost:8000/",
        "http://api.localhost/",
        "http://0.0.0.0/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fd12:3456::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a00:1]/",
        "https://intranet.example/feed",
        "https://metadata.example/",
        "https://mixed.example/",
        "https://mapped.example/",
        "https://ula.example/",
    ],
)
def test_private_and_special_hosts_are_refused(url: str, fake_dns: list[str]) -> None:
    with pytest.raises(UnsafeURLError, match="CASTGRAPH_ALLOW_PRIVATE_URLS"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example/feed.xml",
        "http://public6.example/x.mp3",
        "https://93.184.216.34/",
        "https://[2606:4700::1111]/",
    ],
)
def test_public_hosts_pass(url: str, fake_dns: list[str]) -> None:
    check_url(url, allow_private=False)


def test_private_hosts_pass_when_allowed(fake_dns: list[str]) -> None:
    for url in ("http://127.0.0.1:8000/feed.xml", "https://intranet.example/", "file:///tmp/x"):
        check_url(url, allow_private=True)
    assert fake_dns == []  # nothing is resolved when private URLs are allowed


def test_file_urls_are_refused_with_advice() -> None:
    with pytest.raises(UnsafeURLError, match="give the local path"):
        check_url("file:///etc/passwd", allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp3", "javascript:alert(1)", "rtmp://x/y"])
def test_other_schemes_are_input_errors(url: str) -> None:
    with pytest.raises(InputError, match="unsupported URL scheme") as info:
        check_url(url, allow_private=True)
    assert not isinstance(info.value, UnsafeURLError)


def test_unresolvable_host_is_a_source_error(fake_dns: list[str]) -> None:
    with pytest.raises(SourceError, match=r"could not resolve host nowhere\.example"):
        check_url("https://nowhere.example/feed", allow_private=False)


def test_guard_resolves_each_host_once(fake_dns: list[str]) -> None:
    guard = URLGuard(allow_private=False)
    for n in range(5):
        guard(f"https://public.example/ep{n}.mp3")
    assert fake_dns == ["public.example"]


def test_guard_names_what_it_refused(fake_dns: list[str]) -> None:
    guard = URLGuard(allow_private=False)
    with pytest.raises(
        UnsafeURLError, match=r"feed item 'x' http://169\.254\.169\.254/.*link-local"
    ):
        guard("http://169.254.169.254/a.mp3", what="feed item 'x'")


def test_make_source_local_paths(tmp_path: Path) -> None:
    media = tmp_path / "a.mp3"
    media.write_bytes(b"x")
    assert isinstance(make_source(str(media), allow_private=False), LocalSource)
    assert isinstance(make_source(str(tmp_path), allow_private=False), LocalSource)
    source = make_source(media.as_uri(), allow_private=True)
    assert isinstance(source, LocalSource)
    [item] = source.resolve(media.as_uri())
    assert item.local_path == str(media) and item.title == "a"


def test_make_source_http_url(fake_dns: list[str]) -> None:
    from castgraph.ingest.sources.ytdlp import YtDlpSource

    source = make_source("https://public.example/feed.xml", allow_private=False, timeout=5)
    assert isinstance(source, YtDlpSource)
    assert source.timeout == 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/file.mp3", "no such file or folder: /no/such/file.mp3"),
        ("ftp://example.com/a.mp3", "unsupported URL scheme 'ftp'"),
        ("", "empty source"),
        ("www.youtube.com/@channel", "start it with https://"),
    ],
)
def test_make_source_refuses_before_any_work(source: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_source(source, allow_private=False)


def test_make_source_refuses_private_urls(tmp_path: Path) -> None:
    with pytest.raises(UnsafeURLError):
        make_source("http://127.0.0.1:9/feed.xml", allow_private=False)
    with pytest.raises(UnsafeURLError):
        make_source((tmp_path / "x.mp3").as_uri(), allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1/",  # octal
        "http://0x7f000001/",  # hex
        "http://0x7f.0.0.1/",
        "http://017700000001/",  # octal, one number
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",  # 169.254.169.254 in hex
        "http://2852039166/",  # 169.254.169.254 as decimal
        "http://0xc0a80001/",  # 192.168.0.1
        "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex form
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated) loopback
        "http://[fe80::1%25eth0]/",  # link-local with a zone id
        "http://[fc00::1]/",  # ULA
        "http://127.0.0.1.:8000/",  # trailing dot
        "http://LOCALHOST/",
        "http://localhost./",
        "http://[::ffff:a9fe:a9fe]/",  # metadata, mapped
        "http://0/",  # 0.0.0.0
    ],
)
def test_ip_spellings_are_refused(url: str, fake_dns: list[str]) -> None:
    with pytest.raises(UnsafeURLError, match="CASTGRAPH_ALLOW_PRIVATE_URLS"):
        check_url(url, allow_private=False)


def test_spellings_are_decoded_not_feared(fake_dns: list[str]) -> None:
    check_url("http://0254.0.0.1/", allow_private=False)  # octal 172.0.0.1: a public address
    check_url("http://1572395042/", allow_private=False)  # decimal 93.184.216.34
    assert fake_dns == []  # IP literals are never resolved


@pytest.mark.parametrize(
    "url",
    ["gopher://127.0.0.1:6379/_INFO", "dict://127.0.0.1:11211/", "data:audio/mp3;base64,AAAA",
     "ftp://10.0.0.1/a.mp3", "sftp://host/x", "ws://public.example/", "//public.example/x"],
)  # fmt: skip
def test_non_web_schemes_are_refused_even_when_private_urls_are_allowed(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(InputError, match="unsupported URL scheme"):
            check_url(url, allow_private=allow)
