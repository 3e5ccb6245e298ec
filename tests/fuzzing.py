"""Property-based fuzzing of castgraph's whole OpenAPI schema against a real ``castgraph serve``.

Shared by ``tests/integration/test_fuzz_api.py`` (a bounded run in ``make test``) and
``bench/fuzz.py`` (a larger run that prints figures). The server is a real subprocess on a free
loopback port, serving a data directory loaded with ``tests/corpus.py`` (real catalog, keyword,
vector and graph indexes; the ``hash`` embedder so it starts in seconds).

Every operation of ``/openapi.json`` is fuzzed with schemathesis's positive (schema-valid) and
negative (schema-violating) data. Checks: no 5xx, status codes, content types, headers and bodies
as the schema declares, schema-violating data refused with a 4xx, and every error a JSON body
with a non-empty message (``{"detail"}``, or OpenAI's ``{"error": {"message"}}`` under ``/v1``).

Nothing is skipped. Endpoints that would start long work (``POST /api/ingest`` and
``POST /api/subscriptions``: a download and a transcription) are fuzzed with a source that the
server must refuse with 422 and no network: its generated URL behind a scheme that is not http(s)
(``nohttp:…``), which only ``CASTGRAPH_ALLOW_PRIVATE_URLS`` would let through.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from castgraph.api import wiring
from castgraph.core.settings import Settings
from tests import corpus
from tests.procs import serve

KEY = "fuzz-k3y"
REFUSED_SCHEME = "nohttp:"
LONG_WORK = {("POST", "/api/ingest"): "url", ("POST", "/api/subscriptions"): "source"}
"""Operations that start a download and a transcription → the body field given a refused URL."""


def load_data_dir(data_dir: Path) -> dict[str, str]:
    """``tests/corpus.py`` through the real stores of ``data_dir``; episode key → id."""
    services = wiring.open_services(Settings(data_dir=data_dir, embedding_model="hash"))
    try:
        return corpus.load(services)
    finally:
        services.close()


def fuzz_env(data_dir: Path, *, key: str | None, **extra: str) -> dict[str, str]:
    """A serving environment: the data dir, the hash embedder, no rate limits (each example must
    reach its handler, not a 429), private URLs refused, and ``key`` (reads private with it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTGRAPH_")}
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_EMBEDDING_MODEL="hash",
        CASTGRAPH_RATE_LIMIT_SEARCH="0",
        CASTGRAPH_RATE_LIMIT_CHAT="0",
        CASTGRAPH_ALLOW_PRIVATE_URLS="0",
    )
    if key is not None:
        env.update(CASTGRAPH_API_KEY=key, CASTGRAPH_PUBLIC_READ="false")
    env.update(extra)
    return env


@contextmanager
def served(data_dir: Path, log: Path, *, key: str | None, **extra: str) -> Iterator[str]:
    """``castgraph serve`` on loopback over ``data_dir``: its base URL until the block ends."""
    with serve(fuzz_env(data_dir, key=key, **extra), log) as (base, _proc):
        yield base


def error_message(response: requests.Response | Any) -> str | None:
    """The message of an error body (``detail`` or ``error.message``), None when there is none."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if isinstance(body.get("error"), dict):
        detail = body["error"].get("message")
    return detail if isinstance(detail, str) and detail.strip() else None


def json_error_body(ctx: Any, response: Any, case: Case) -> bool | None:
    """Every 4xx/5xx (but HEAD's, which has no body) is JSON with a non-empty message."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return None
    kind = response.headers.get("content-type", [""])
    kind = kind[0] if isinstance(kind, list) else kind
    if not kind.startswith("application/json") or error_message(response) is None:
        raise AssertionError(
            f"{response.status_code} without a JSON message: {kind!r} {response.content[:200]!r}"
        )
    return True


WIRE_STRINGS: set[str] = set()
"""Query parameters typed ``list[str]`` (filled from the schema): a value schemathesis generates
as a number to violate them is, on the wire, a string like any other (``?speaker=0.0``)."""
WIRE_STRING: set[str] = set()
"""Query parameters typed ``str``: a number, a boolean or a one-item list sent for them is, on
the wire, one string value (``?q=false``), as valid as any other."""


def negative_data_refused(ctx: Any, response: Any, case: Case) -> bool | None:
    """schemathesis's ``negative_data_rejection``, but for the mutations that vanish on the wire:
    a number in a ``list[str]`` query parameter is sent as its text, a valid string."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AssertionError:
        data = case.meta.phase.data if case.meta is not None else None
        names = {getattr(m, "parameter", None) for m in getattr(data, "mutations", ()) or ()}
        names.add(getattr(data, "parameter", None))
        names.discard(None)
        where = getattr(getattr(data, "parameter_location", None), "name", "")
        if names and where.lower() == "query" and all(_wire_valid(n, response) for n in names):
            return None
        raise


def _wire_valid(name: str, response: Any) -> bool:
    """Whether what was sent for query parameter ``name`` is a valid value of its schema."""
    if name in WIRE_STRINGS:
        return True
    sent = parse_qs(urlsplit(response.request.url).query, keep_blank_values=True).get(name, [])
    return name in WIRE_STRING and len(sent) <= 1


def string_parameters(raw: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the query parameters whose schema is a list of strings, and a string (or null);
    a name typed otherwise in any operation is in neither."""
    lists: set[str] = set()
    scalars: set[str] = set()
    other: set[str] = set()
    for operations in raw.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                schema = parameter.get("schema", {})
                kinds = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
                if all(o.get("type") == "string" and "format" not in o for o in kinds):
                    scalars.add(parameter["name"])
                elif all(
                    o.get("type") == "array" and o.get("items", {}).get("type") == "string"
                    for o in kinds
                ):
                    lists.add(parameter["name"])
                else:
                    other.add(parameter["name"])
    return lists - other - scalars, scalars - other - lists


CHECKS: tuple[Callable[..., bool | None], ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_refused,
    json_error_body,
)


@dataclass
class Report:
    """Figures of one fuzzing run: per operation, examples sent and failures by check."""

    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def operations(self) -> int:
        return len(self.examples)

    def record(self, label: str, response: Any, failed: FailureGroup | None) -> None:
        self.examples[label] += 1
        self.statuses[response.status_code] += 1
        for failure in failed.exceptions if failed is not None else ():
            name = f"{getattr(failure, 'title', type(failure).__name__)}"
            self.failures[name] += 1
            self.samples.setdefault(f"{name} — {label}", _sample(failure, response))

    def lines(self) -> list[str]:
        """A summary a person reads: totals, statuses, failures by check with one example each."""
        total = sum(self.examples.values())
        out = [
            f"operations {self.operations}, examples {total}, {self.seconds:.1f} s",
            "statuses " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            f"failures {sum(self.failures.values())}",
        ]
        out += [f"  {name}: {n}" for name, n in self.failures.most_common()]
        out += [f"  e.g. {where}: {what}" for where, what in self.samples.items()]
        return out


def _sample(failure: Any, response: Any) -> str:
    text = " ".join(str(getattr(failure, "message", failure)).split())[:300]
    return f"{text} [{response.request.method} {response.request.url[:200]}]"


def fence_long_work(case: Case) -> None:
    """Give an ingest or subscription body a source the server refuses without a download."""
    name = LONG_WORK.get((case.method.upper(), case.path))
    if name and isinstance(case.body, dict) and isinstance(case.body.get(name), str):
        case.body[name] = REFUSED_SCHEME + case.body[name]


def fuzz(
    base: str,
    *,
    key: str | None,
    max_examples: int,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    seed: int | None = 0,
) -> Report:
    """Fuzz every operation of the server at ``base``, sending ``key`` when given."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", timeout=30)
    lists, scalars = string_parameters(schema.raw_schema)
    WIRE_STRINGS.update(lists)
    WIRE_STRING.update(scalars)
    headers = {"X-API-Key": key} if key is not None else {}
    report, session, started = Report(), requests.Session(), time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(*(operation.as_strategy(generation_mode=m) for m in modes))
        run = _Run(base, headers, session, report, max_examples, seed)
        run.operation(operation.label, strategy)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class _Run:
    base: str
    headers: dict[str, str]
    session: requests.Session
    report: Report
    max_examples: int
    seed: int | None

    def operation(self, label: str, strategy: st.SearchStrategy[Case]) -> None:
        """Up to ``max_examples`` cases of one operation, each sent, checked and counted."""
        base, headers, session, report = self.base, self.headers, self.session, self.report

        @settings(
            max_examples=self.max_examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # failures are counted, never shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Case) -> None:
            fence_long_work(case)
            response = case.call(base_url=base, session=session, headers=headers, timeout=30)
            try:
                case.validate_response(response, checks=list(CHECKS), headers=headers)
            except FailureGroup as failed:
                report.record(label, response, failed)
            else:
                report.record(label, response, None)

        (seeded(self.seed)(run) if self.seed is not None else run)()
