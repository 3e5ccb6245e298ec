"""The API key: who may write, who may read, and where ``castgraph serve`` may listen.

The key travels as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` (``X-API-Key`` wins
when both are sent: a proxy in front may use ``Authorization`` for itself). Reads also accept the
``castgraph_key`` cookie, set by the web UI, because ``<audio src="/media/…">`` cannot send a
header; writes never do, so a cross-site page cannot make a browser write with its cookie (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import unquote_to_bytes

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.datastructures import Headers

from castgraph.core.settings import Settings, is_header_token

COOKIE = "castgraph_key"
_HOW = "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"

# auto_error=False: these only give /docs its Authorize button; every refusal below is ours,
# with a message that says what to send.
_X_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="X-API-Key")
_BEARER = HTTPBearer(auto_error=False, scheme_name="Bearer")
_COOKIE = APIKeyCookie(name=COOKIE, auto_error=False, scheme_name="castgraph_key cookie")

XKey = Annotated[str | None, Security(_X_API_KEY)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
Cookie = Annotated[str | None, Security(_COOKIE)]


class MalformedKeyError(Exception):
    """A key header that is present but unusable: malformed, or not printable ASCII."""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _token(text: str, where: str) -> bytes:
    # Starlette decodes header bytes as latin-1 (one character per byte as sent), so checking
    # the characters checks the bytes; an unquoted cookie may exceed latin-1: just as malformed.
    token = text.strip()
    if not token:
        raise MalformedKeyError(f"malformed API key: {where} is empty; {_HOW}")
    if not is_header_token(token):
        raise MalformedKeyError(f"malformed API key: {where} must be printable ASCII; {_HOW}")
    return token.encode("ascii")


def header_key(headers: Headers) -> bytes | None:
    """The key sent in a header; None when none was sent; MalformedKeyError when unusable."""
    x_api_key = headers.get("x-api-key")
    if x_api_key is not None:
        return _token(x_api_key, "X-API-Key")
    authorization = headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():  # Basic …, a bare "Bearer", …
        raise MalformedKeyError(
            f"malformed API key header: Authorization must be 'Bearer <key>'; {_HOW}"
        )
    return _token(token, "the Bearer token")


def cookie_key(cookies: Mapping[str, str]) -> bytes | None:
    """The key in the UI's cookie (URL-encoded by the UI: keys may hold ``;`` or ``,``)."""
    cookie = cookies.get(COOKIE)
    if cookie is None:
        return None
    return _token(unquote_to_bytes(cookie).decode("latin-1"), f"the {COOKIE} cookie")


def matches(given: bytes, key: SecretStr) -> bool:
    """Constant-time comparison; hashing first keeps the key's length from leaking too."""
    expected = key.get_secret_value().encode("ascii")
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


def _refuse(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _sent_key(request: Request, *, cookie: bool) -> bytes | None:
    """The key in a header, else (``cookie``) in the UI's cookie; MalformedKeyError if unusable."""
    given = header_key(request.headers)
    return given if given is not None or not cookie else cookie_key(request.cookies)


def _presented(request: Request, *, cookie: bool) -> bytes | None:
    try:
        return _sent_key(request, cookie=cookie)
    except MalformedKeyError as exc:
        raise _refuse(str(exc)) from exc


def _check(given: bytes | None, key: SecretStr, what: str) -> None:
    if given is None:
        raise _refuse(f"{what} needs the API key: {_HOW}")
    if not matches(given, key):
        raise _refuse("wrong API key")


# The Security parameters below only declare the schemes in OpenAPI; the checks read the raw
# headers themselves, so that a malformed one gets a 401 saying what is wrong with it.


async def require_api_key(request: Request, _x_api_key: XKey, _bearer: Bearer) -> None:
    """Write endpoints: when CASTGRAPH_API_KEY is set, the key must come in a header."""
    key = _settings(request).api_key
    if key is not None:
        _check(_presented(request, cookie=False), key, "this endpoint")


async def require_read_access(
    request: Request, _x_api_key: XKey, _bearer: Bearer, _cookie: Cookie
) -> None:
    """Read endpoints: open unless CASTGRAPH_PUBLIC_READ is off; then a header or cookie key."""
    settings = _settings(request)
    if settings.public_read or settings.api_key is None:
        return  # public reads ignore whatever key is sent, even a malformed one
    given = _presented(request, cookie=True)
    _check(given, settings.api_key, "reading (CASTGRAPH_PUBLIC_READ is off)")


def holds_key(request: Request) -> bool:
    """Whether the request carries the right key (header or cookie); never raises."""
    key = _settings(request).api_key
    if key is None:
        return False
    try:
        given = _sent_key(request, cookie=True)
    except MalformedKeyError:
        return False
    return given is not None and matches(given, key)


WriteAccess = Depends(require_api_key)
"""On every route that changes data (``dependencies=[WriteAccess]``)."""
ReadAccess = Depends(require_read_access)
"""On every router of ``/api``, ``/v1`` and ``/media`` (``app.include_router``)."""


def key_headers(api_key: SecretStr | None) -> dict[str, str]:
    """Headers for castgraph's own HTTP clients (the CLI talking to a running server)."""
    return {"X-API-Key": api_key.get_secret_value()} if api_key is not None else {}


LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """Only this machine can connect: a loopback address or localhost (no DNS lookups: a name
    that merely resolves to loopback today may not tomorrow)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def binding_refusal(host: str, api_key: SecretStr | None, *, insecure: bool) -> str | None:
    """Why ``castgraph serve`` must not listen on ``host``, or None when it may."""
    if api_key is not None or insecure or is_loopback(host):
        return None
    return (
        f"refusing to serve on {host} without an API key: anyone who can reach this machine "
        "could delete episodes and rename speakers. Set CASTGRAPH_API_KEY (e.g. "
        "`export CASTGRAPH_API_KEY=$(openssl rand -hex 32)`), or serve on 127.0.0.1, or pass "
        "--insecure to serve without a key anyway."
    )
