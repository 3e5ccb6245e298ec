"""Where ``castgraph serve`` may listen without a key (the compose checks: test_compose.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from castgraph.api.auth import binding_refusal, is_loopback
from castgraph.api.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    assert binding_refusal(host, None, insecure=False) is None


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "[::]", "192.168.1.20", "10.0.0.5", "fe80::1", "example.org", "my-laptop"],
)
def test_beyond_loopback_without_a_key_is_refused(host: str) -> None:
    assert not is_loopback(host)
    refusal = binding_refusal(host, None, insecure=False)
    assert refusal is not None
    assert "CASTGRAPH_API_KEY" in refusal and "--insecure" in refusal and "127.0.0.1" in refusal
    assert binding_refusal(host, SecretStr("k"), insecure=False) is None
    assert binding_refusal(host, None, insecure=True) is None


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record uvicorn.run instead of serving."""
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    for name in ("CASTGRAPH_API_KEY", "CASTGRAPH_HOST", "CASTGRAPH_PUBLIC_READ"):
        monkeypatch.delenv(name, raising=False)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda _app, **kw: calls.append(kw))
    return calls


def test_serve_refuses_every_interface_without_a_key(served: list[dict[str, Any]]) -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and served == []
    message = " ".join(result.stderr.split())
    assert "refusing to serve on 0.0.0.0 without an API key" in message
    assert "CASTGRAPH_API_KEY" in message and "--insecure" in message


def test_serve_refuses_a_lan_host_from_the_environment(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASTGRAPH_HOST", "192.168.1.20")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and served == []


def test_insecure_serves_anyway_with_a_warning(served: list[dict[str, Any]]) -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--insecure"])
    assert result.exit_code == 0, result.output
    assert served[0]["host"] == "0.0.0.0" and "without an API key" in result.stderr


def test_with_a_key_or_on_loopback_it_serves(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["serve"]).exit_code == 0  # 127.0.0.1 by default
    monkeypatch.setenv("CASTGRAPH_API_KEY", "k3y")
    keyed = runner.invoke(app, ["serve", "--host", "::"])
    assert keyed.exit_code == 0 and "warning" not in keyed.stderr
    assert [c["host"] for c in served] == ["127.0.0.1", "::"]


def test_the_dockerfile_and_compose_serve_every_interface_only_with_a_key() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    assert "CASTGRAPH_HOST: 0.0.0.0" in compose
    assert "CASTGRAPH_API_KEY: ${CASTGRAPH_API_KEY:?" in compose
    assert "--insecure" not in compose + (REPO / "Dockerfile").read_text()
