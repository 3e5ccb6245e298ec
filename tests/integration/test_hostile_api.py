"""Hostile and malformed requests against a real ``castgraph serve`` on loopback (issue 13).

Each is refused cleanly: a 4xx with castgraph's JSON error body (a message that says what was
wrong), never a 5xx, never a file outside the media folder, never a header the client wrote, and
slow clients never keep the server from answering others. Raw sockets send what HTTP clients
refuse to (raw bytes, lying Content-Length, trickled headers).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests import fuzzing

pytestmark = pytest.mark.integration
MAX_BODY, MAX_URL, TIMEOUT_S = 65_536, 4096, 4
SECRET = "castgraph-secret-outside-media"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, episode key → id) of a server with small limits and one stored media file,
    and a secret file beside the media folder that no request may read."""
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    ids = fuzzing.load_data_dir(data)
    (data / "media" / ids["pan"]).mkdir(parents=True)
    (data / "media" / ids["pan"] / "pan.mp3").write_bytes(b"ID3" + b"\0" * 4096)
    (data / "secret.txt").write_text(SECRET)
    (root / "passwd").write_text(SECRET)
    limits = {
        "CASTGRAPH_MAX_BODY_BYTES": str(MAX_BODY),
        "CASTGRAPH_MAX_URL_BYTES": str(MAX_URL),
        "CASTGRAPH_CLIENT_TIMEOUT_S": str(TIMEOUT_S),
    }
    with fuzzing.served(data, root / "serve.log", key=None, **limits) as base:
        yield base, ids


def _raw(base: str, request: bytes, *, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; (status, headers, body) of the answer (read until close)."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port or 80), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return _parse(received)


def _parse(received: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _get(target: bytes, *extra: bytes) -> bytes:
    return (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: t\r\n"
        + b"".join(extra)
        + b"Connection: close\r\n\r\n"
    )


def _refused(status: int, body: bytes, expected: int | tuple[int, ...], *words: str) -> str:
    """The message of a clean refusal: the expected status, JSON with a message naming ``words``."""
    assert status in (expected if isinstance(expected, tuple) else (expected,)), (status, body)
    message = fuzzing.error_message(httpx.Response(status, content=body))
    assert message, body
    for word in words:
        assert word in message, message
    return message


def test_oversized_bodies_are_refused_unread(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    declared = (
        b"POST /api/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\nConnection: close\r\n\r\n"
    )  # a gigabyte announced, none sent: the answer comes at once
    status, _, body = _raw(base, declared)
    _refused(status, body, 413, "1000000000 bytes", "CASTGRAPH_MAX_BODY_BYTES")
    # Not declared (chunked): counted as it arrives. /v1 answers in OpenAI's envelope.
    big = json.dumps({"messages": [{"role": "user", "content": "x" * (2 * MAX_BODY)}]})
    response = httpx.post(f"{base}/v1/chat/completions", content=iter([big.encode()]), timeout=30)
    assert (
        response.status_code == 413
        and "CASTGRAPH_MAX_BODY_BYTES" in (response.json()["error"]["message"])
    )
    # Any route, even one that never reads a body.
    status, _, body = _raw(base, _get(b"/healthz", b"Content-Length: 999999999\r\n"))
    _refused(status, body, 413, "CASTGRAPH_MAX_BODY_BYTES")


def test_oversized_urls(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    status, _, body = _raw(base, _get(b"/api/search?q=" + b"pan+" * MAX_URL))
    _refused(status, body, 414, "CASTGRAPH_MAX_URL_BYTES")
    status, _, body = _raw(base, _get(b"/api/episodes/" + b"a" * (2 * MAX_URL)))
    _refused(status, body, 414)
    # Past what the HTTP parser takes at all: still a JSON answer, from the protocol.
    status, _, body = _raw(base, _get(b"/api/search?q=" + b"a" * 2_000_000))
    _refused(status, body, (400, 414))


def test_invalid_utf8(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    for target in (b"/api/search?q=%ff%fe", b"/api/episodes/%C3%28", b"/media/%80abc"):
        status, _, body = _raw(base, _get(target))
        _refused(status, body, 400, "not valid UTF-8")
    status, _, body = _raw(base, _get(b"/api/search?q=\xff\xfe"))  # raw bytes: the parser's
    _refused(status, body, 400, "malformed HTTP request")
    for path in ("/api/chat", "/v1/chat/completions"):
        response = httpx.post(
            f"{base}{path}",
            content=b'{"question": "\xff\xfe", "messages": [{"role": "user", "content": "\xff"}]}',
            headers={"Content-Type": "application/json"},
        )
        message = fuzzing.error_message(response)
        assert response.status_code == 400 and message and "UTF-8" in message, response.text


def test_deeply_nested_json(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    for body in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        for path in ("/api/chat", "/v1/chat/completions", "/api/ingest"):
            response = httpx.post(
                f"{base}{path}", content=body, headers={"Content-Type": "application/json"}
            )
            message = fuzzing.error_message(response)
            assert response.status_code == 400 and message and "nested too deeply" in message
    assert httpx.get(f"{base}/healthz").status_code == 200  # no crash, no recursion error


def test_huge_k_negative_numbers_and_malformed_json(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    cases = {
        "/api/search?q=pan&k=100000000000000000000000000": "k: ",
        "/api/search?q=pan&k=-3": "k: ",
        "/api/search?q=pan&k=1e9": "k: ",
        "/api/episodes?offset=-1": "offset: ",
        "/api/episodes?limit=-5": "limit: ",
        "/api/people?offset=-10": "offset: ",
        "/api/jobs?limit=99999999999999999999": "limit: ",
        "/api/search?q=pan&date_from=-0001-01-01": "date_from: ",
        "/api/search?q=" + "pan " * 600: "limit is 1000",
        "/api/search?q=pan&q=calor": "give the query once",
        "/api/search?q=pan&query=calor": "give the query once",
    }
    for target, said in cases.items():
        response = httpx.get(f"{base}{target}")
        assert response.status_code == 422, (target, response.text)
        assert said in response.json()["detail"], (target, response.text)
    response = httpx.post(
        f"{base}/api/chat",
        content=b'{"question": "x"',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "the body is not valid JSON at character" in response.json()["detail"]
    for date in (0, 1700000000, True, ["2024-01-01"]):  # no number read as a Unix timestamp
        body = {"question": "pan", "filters": {"date_from": date}, "stream": False}
        response = httpx.post(f"{base}/api/chat", json=body)
        assert response.status_code == 422 and "date_from" in response.json()["detail"], date
    response = httpx.post(f"{base}/api/chat", json=["not", "an", "object"])
    assert response.status_code == 422 and response.json()["detail"].startswith("the body: ")


def test_negative_and_malformed_media_ranges(served: tuple[str, dict[str, str]]) -> None:
    base, ids = served
    for value in ("bytes=-1--5", "bytes=5-1", "bytes=99999999-", "bytes=-0", "bytes=a-b", "x"):
        response = httpx.get(f"{base}/media/{ids['pan']}", headers={"Range": value})
        assert response.status_code in (200, 206, 400, 416), (value, response.status_code)
    whole = httpx.get(f"{base}/media/{ids['pan']}")
    assert whole.status_code == 200 and whole.content.startswith(b"ID3")


def test_unknown_ids_are_json_404s(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    for path in (
        "/api/episodes/zzzz",
        "/media/zzzz",
        "/api/jobs/999999",
        "/api/subscriptions/999999",
        "/api/runs/999999",
        "/api/people/Nobody%20At%20All",
        "/api/topics/no-such-topic",
    ):
        response = httpx.get(f"{base}{path}")
        message = fuzzing.error_message(response)
        assert response.status_code == 404 and message, (path, response.text)
    response = httpx.delete(f"{base}/api/episodes/zzzz")
    assert response.status_code == 404 and fuzzing.error_message(response)


TRAVERSALS = (
    b"/media/..%2f..%2fetc/passwd",
    b"/media/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    b"/media/..%252f..%252fetc%252fpasswd",
    b"/media/%2e%2e%2f%2e%2e%2fsecret.txt",
    b"/media/%2e%2e/secret.txt",
    b"/media/../secret.txt",
    b"/media/....//....//etc/passwd",
    b"/media/..\\..\\secret.txt",
    b"/media/%2fetc%2fpasswd",
    b"/media//etc/passwd",
    b"/media/%00..%2fsecret.txt",
    b"/media/.%2e/.%2e/passwd",
    b"/static/..%2f..%2fpyproject.toml",
    b"/static/%2e%2e/%2e%2e/pyproject.toml",
)


def test_path_traversal_never_leaves_the_media_folder(served: tuple[str, dict[str, str]]) -> None:
    base, ids = served
    targets = [*TRAVERSALS, f"/media/{ids['pan']}%2f..%2f..%2fsecret.txt".encode()]
    targets.append(f"/media/{ids['pan']}/../../secret.txt".encode())
    for target in targets:
        status, headers, body = _raw(base, _get(target))
        assert status in (400, 404), (target, status, body)
        assert SECRET.encode() not in body and b"root:" not in body and b"[project]" not in body
        assert headers.get("content-type", "").startswith("application/json"), (target, headers)


def test_no_header_injection(served: tuple[str, dict[str, str]]) -> None:
    """CR/LF in a path or query is never written into a response header (redirects included:
    Starlette's trailing-slash redirect reflects the path in Location, percent-encoded)."""
    base, ids = served
    evil = b"%0D%0AX-Injected:%20yes%0D%0ASet-Cookie:%20pwned=1"
    for target in (
        b"/media/" + evil,
        b"/media/" + ids["pan"].encode() + b"?name=a" + evil,
        b"/api/episodes/x" + evil + b"/",
        b"/e/x" + evil + b"/",
        b"/api/search?q=pan" + evil,
        b"/api/people/x" + evil,
    ):
        status, headers, _ = _raw(base, _get(target))
        assert status < 500, (target, status)
        assert "x-injected" not in headers and "set-cookie" not in headers, (target, headers)
        assert all("\r" not in v and "\n" not in v for v in headers.values())


def _slow_header_client(base: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=60)
    sock.sendall(b"GET /api/episodes HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never finished
    return sock


def _slow_body_client(base: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=60)
    sock.sendall(
        b"POST /api/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\nConnection: close\r\n\r\n{"question": "'
    )  # 985 bytes still owed
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return _parse(received)


def test_slow_clients_do_not_block_others(served: tuple[str, dict[str, str]]) -> None:
    base, _ = served
    slow = [_slow_header_client(base) for _ in range(10)]
    slow += [_slow_body_client(base) for _ in range(10)]
    try:
        # While all 20 hold their connections, others are served.
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(5):
                assert client.get("/healthz").status_code == 200
            assert client.get("/api/search", params={"q": "pan"}).status_code == 200
        # And each slow client is answered, then cut off, once CLIENT_TIMEOUT_S has passed.
        answers = [_answer(sock) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    for status, _, body in answers[:10]:
        _refused(status, body, 408, "request headers", "CASTGRAPH_CLIENT_TIMEOUT_S")
    for status, _, body in answers[10:]:
        _refused(status, body, 408, "request body", "CASTGRAPH_CLIENT_TIMEOUT_S")


def test_a_silent_connection_is_closed(served: tuple[str, dict[str, str]]) -> None:
    """A connection that never sends a byte is answered 408 and closed, not held for ever."""
    base, _ = served
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port or 80), timeout=60) as sock:
        status, _, body = _parse(b"".join(iter(lambda: sock.recv(65536), b"")))
    _refused(status, body, 408, "CASTGRAPH_CLIENT_TIMEOUT_S")  # else recv times out: an error
