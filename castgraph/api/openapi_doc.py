"""The OpenAPI document says what the server really answers (issue 13, found by fuzzing it).

FastAPI documents every 422 as ``{"detail": [ValidationError, ...]}``, but castgraph's handler
(``castgraph.api.errors``) answers ``{"detail": "sentence", "errors": [...]}``, and under ``/v1``
OpenAI's ``{"error": {...}}``. And the refusals that come before any route (``limits``,
``httpserver``, ``auth``) were not documented at all. This rewrites the generated document once:

- the validation error schema is castgraph's shape; every error under ``/v1`` is OpenAI's;
- every operation documents 400 (not UTF-8, a body that cannot be decoded) and 414 (URL too
  long); those with a body 408 (too slow) and 413 (too large); those behind the read or write
  key (all but ``/healthz``) 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_OPENAI_ERROR = {"$ref": "#/components/schemas/OpenAIError"}
_PUBLIC = frozenset({"/healthz"})

_ALWAYS = {
    "400": "Malformed request: the URL or body is not valid UTF-8, or the body cannot be decoded",
    "414": "The URL is longer than CASTGRAPH_MAX_URL_BYTES",
}
_WITH_BODY = {
    "408": "The body did not arrive within CASTGRAPH_CLIENT_TIMEOUT_S",
    "413": "The body is larger than CASTGRAPH_MAX_BODY_BYTES",
}
_KEYED = {"401": "The API key is needed (writes; reads when CASTGRAPH_PUBLIC_READ is off)"}

_SCHEMAS: dict[str, Any] = {
    "ErrorOut": {
        "title": "ErrorOut",
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "string", "title": "Detail"}},
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {"type": "string", "description": "Every problem, one sentence each"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        },
    },
    "OpenAIError": {
        "title": "OpenAIError",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "code": {"type": "integer"},
                },
            }
        },
    },
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the corrected document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = corrected(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with castgraph's error shapes and the refusals that precede the routes."""
    schema.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            _document(path, operation)
    return schema


def _document(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    added = dict(_ALWAYS)
    if "requestBody" in operation:
        added.update(_WITH_BODY)
    if path not in _PUBLIC:
        added.update(_KEYED)
    for status, description in added.items():
        responses.setdefault(status, {"description": description})
    error = _OPENAI_ERROR if path.startswith("/v1/") else _ERROR
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.setdefault("content", {}).setdefault("application/json", {})
        if path.startswith("/v1/") or "schema" not in content:
            content["schema"] = error
