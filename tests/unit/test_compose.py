"""The compose deployment and its image, checked through the compose client's own `config`.

`config` interpolates, merges the override and validates the files without a Docker engine, so
these tests read what compose would run, not the YAML as written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: a dependency of chromadb, one of castgraph's own

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "docker-compose.yml"
GPU = REPO / "docker-compose.gpu.yml"

CASTGRAPH_SERVICES = ("api", "worker", "beat", "migrate")
STORES = ("redis", "postgres", "neo4j", "chroma")
ONE_SHOT = ("migrate", "demo")
# What every castgraph process must agree on: one catalog, queue, vector store, graph and key.
SHARED_SETTINGS = (
    "CASTGRAPH_DATA_DIR",
    "CASTGRAPH_API_KEY",
    "CASTGRAPH_DATABASE_URL",
    "CASTGRAPH_QUEUE_URL",
    "CASTGRAPH_CHROMA_URL",
    "CASTGRAPH_GRAPH_BACKEND",
    "CASTGRAPH_NEO4J_URI",
    "CASTGRAPH_NEO4J_USER",
    "CASTGRAPH_NEO4J_PASSWORD",
)
SECRETS = {"CASTGRAPH_API_KEY": "k3y-from-env", "CASTGRAPH_POSTGRES_PASSWORD": "pg-pass-from-env"}


def _compose() -> list[str]:
    """The compose client: the docker plugin, else the standalone docker-compose.

    Without either the test fails (``make system-deps`` installs docker-compose), unless
    ``CASTGRAPH_SKIP_COMPOSE=1`` says to skip it on purpose.
    """
    if os.environ.get("CASTGRAPH_SKIP_COMPOSE") == "1":
        pytest.skip("CASTGRAPH_SKIP_COMPOSE=1")
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is not None:
        return [standalone]
    pytest.fail(
        "no compose client to validate docker-compose.yml with (neither the `docker compose` "
        "plugin nor docker-compose): run `make system-deps` or `apt-get install docker-compose`, "
        "or set CASTGRAPH_SKIP_COMPOSE=1 to skip this test on purpose",
        pytrace=False,
    )


def _run_config(
    tmp_path: Path, files: list[Path], secrets: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """``compose config`` over ``files`` with only ``secrets`` set (no developer env or .env)."""
    empty = tmp_path / "empty.env"  # not a developer's own .env beside the compose file
    empty.write_text("")
    command = [*_compose(), "--env-file", str(empty)]
    for file in files:
        command += ["-f", str(file)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTGRAPH_")}
    return subprocess.run(
        [*command, *extra, "config"],
        env={**env, **secrets},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )


def _config(tmp_path: Path, *files: Path, profile: str | None = None) -> dict[str, Any]:
    extra = ("--profile", profile) if profile else ()
    done = _run_config(tmp_path, [BASE, *files], SECRETS, *extra)
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return services


@pytest.fixture
def base(tmp_path: Path) -> dict[str, Any]:
    return _config(tmp_path, profile="demo")


@pytest.fixture
def gpu(tmp_path: Path) -> dict[str, Any]:
    return _config(tmp_path, GPU)


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(c) for c in command]


def _queues(service: dict[str, Any]) -> set[str]:
    command = _command(service)
    assert command[0] == "worker", command
    if "--queues" not in command:
        return {"download", "asr", "index"}  # the worker's default: all three
    return set(command[command.index("--queues") + 1].split(","))


def _replicas(service: dict[str, Any]) -> int:
    return int(service.get("deploy", {}).get("replicas", 1))


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("CASTGRAPH_API_KEY", "set CASTGRAPH_API_KEY"),
        ("CASTGRAPH_POSTGRES_PASSWORD", "set CASTGRAPH_POSTGRES_PASSWORD"),
    ],
)
@pytest.mark.parametrize("with_gpu", [False, True], ids=["base", "base+gpu"])
def test_config_refuses_to_start_without_a_secret(
    tmp_path: Path, missing: str, message: str, with_gpu: bool
) -> None:
    files = [BASE, GPU] if with_gpu else [BASE]
    others = {k: v for k, v in SECRETS.items() if k != missing}
    refused = _run_config(tmp_path, files, others)
    assert refused.returncode != 0
    assert message in refused.stderr
    accepted = _run_config(tmp_path, files, SECRETS)
    assert accepted.returncode == 0, accepted.stderr
    assert SECRETS[missing] in accepted.stdout


def test_every_service_exists(base: dict[str, Any], gpu: dict[str, Any]) -> None:
    assert set(base) >= {*CASTGRAPH_SERVICES, *STORES, "demo", "worker-gpu"}
    assert set(gpu) >= {*CASTGRAPH_SERVICES, *STORES, "worker-gpu"}
    assert base["redis"]["image"] == "redis:7"
    assert "--appendonly" in _command(base["redis"])
    assert base["postgres"]["image"] == "postgres:15"
    assert base["neo4j"]["image"] == "neo4j:5"
    assert base["chroma"]["image"] == "chromadb/chroma:1.5.9"


def test_every_long_running_service_has_a_healthcheck(
    base: dict[str, Any], gpu: dict[str, Any]
) -> None:
    for services in (base, gpu):
        for name, service in services.items():
            if name in ONE_SHOT:
                assert service.get("restart", "no") == "no", name
                continue
            check = service.get("healthcheck") or {}
            assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    checks = {
        name: " ".join(s["healthcheck"]["test"]) for name, s in base.items() if name in STORES
    }
    checks["api"] = " ".join(base["api"]["healthcheck"]["test"])
    assert "redis-cli ping" in checks["redis"]
    assert "pg_isready" in checks["postgres"]
    assert "cypher-shell" in checks["neo4j"]
    assert "/api/v2/heartbeat" in checks["chroma"]
    assert "/healthz" in checks["api"] and "urllib" in checks["api"]


def test_castgraph_services_share_one_environment(
    base: dict[str, Any], gpu: dict[str, Any]
) -> None:
    reference = base["api"]["environment"]
    assert reference["CASTGRAPH_API_KEY"] == SECRETS["CASTGRAPH_API_KEY"]
    assert SECRETS["CASTGRAPH_POSTGRES_PASSWORD"] in reference["CASTGRAPH_DATABASE_URL"]
    assert reference["CASTGRAPH_DATABASE_URL"].startswith("postgresql+psycopg://castgraph:")
    assert reference["CASTGRAPH_DATABASE_URL"].endswith("@postgres:5432/castgraph")
    assert reference["CASTGRAPH_QUEUE_URL"] == "redis://redis:6379/0"
    assert reference["CASTGRAPH_CHROMA_URL"] == "http://chroma:8000"
    assert reference["CASTGRAPH_GRAPH_BACKEND"] == "neo4j"
    assert reference["CASTGRAPH_DATA_DIR"] == "/data"
    sharing = [(base, name) for name in (*CASTGRAPH_SERVICES, "demo", "worker-gpu")]
    for services, name in [*sharing, (gpu, "worker-gpu"), (gpu, "worker")]:
        environment = services[name]["environment"]
        for setting in SHARED_SETTINGS:
            assert environment.get(setting) == reference[setting], f"{name}: {setting}"
        assert "castgraph-data:/data" in " ".join(map(str, services[name]["volumes"])), name
    # Neo4j's own password is the one castgraph logs in with.
    assert base["neo4j"]["environment"]["NEO4J_AUTH"] == (
        f"neo4j/{reference['CASTGRAPH_NEO4J_PASSWORD']}"
    )
    assert (
        base["postgres"]["environment"]["POSTGRES_PASSWORD"]
        == (SECRETS["CASTGRAPH_POSTGRES_PASSWORD"])
    )


def test_castgraph_services_wait_for_the_migration_and_healthy_stores(
    base: dict[str, Any],
) -> None:
    for name in ("api", "worker", "beat", "worker-gpu", "demo"):
        depends = base[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for store in STORES:
            assert depends[store]["condition"] == "service_healthy", f"{name} on {store}"
    assert _command(base["migrate"])[:1] == ["migrate"] or "castgraph migrate" in " ".join(
        base["migrate"].get("entrypoint") or []
    )
    assert base["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert _command(base["api"])[:1] == ["serve"]
    assert _command(base["beat"])[:1] == ["beat"]
    assert _replicas(base["beat"]) == 1  # one scheduler, or every tick is sent twice


def test_the_cpu_worker_takes_every_queue_without_the_gpu_override(base: dict[str, Any]) -> None:
    assert _queues(base["worker"]) == {"download", "asr", "index"}
    assert _replicas(base["worker"]) >= 1
    assert _replicas(base["worker-gpu"]) == 0  # no GPU assumed without the override


def test_the_gpu_override_routes_asr_only_to_a_gpu_worker(gpu: dict[str, Any]) -> None:
    worker, gpu_worker = gpu["worker"], gpu["worker-gpu"]
    assert _queues(worker) == {"download", "index"}
    assert _queues(gpu_worker) == {"asr"}
    assert _replicas(gpu_worker) >= 1
    for name, service in gpu.items():
        if name != "worker-gpu" and _command(service)[:1] == ["worker"]:
            assert "asr" not in _queues(service), f"{name} still takes asr"
    devices = gpu_worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    environment = gpu_worker["environment"]
    assert environment["CASTGRAPH_WHISPER_DEVICE"] == "cuda"
    assert environment["CASTGRAPH_WHISPER_COMPUTE_TYPE"] == "float16"
    assert environment["CASTGRAPH_WHISPER_MODEL"]  # a larger model than the CPU default
    assert "nvidia-cublas-cu12" in gpu_worker["build"]["args"]["GPU_PACKAGES"]


def _pip_extras(dockerfile: str) -> tuple[int, set[str]]:
    """Where the Dockerfile installs castgraph and with which extras."""
    match = re.search(r"pip install[^\n]*?\"\.\[([^\]]*)\]\"", dockerfile)
    assert match, "the Dockerfile installs castgraph with no extras"
    return match.start(), {e.strip() for e in match.group(1).split(",")}


def test_the_image_installs_the_scale_out_extras_after_cpu_torch() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    at, extras = _pip_extras(dockerfile)
    wanted = {"offline-models", "openai-whisper", "neo4j", "langchain", "llm", "postgres", "queue"}
    assert extras >= wanted, f"missing extras: {sorted(wanted - extras)}"
    torch = dockerfile.find('pip install --no-cache-dir "torch==')
    assert 0 <= torch < at, "torch must be installed (CPU build) before the extras"
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE), "the image runs as root"
    assert ".env" in (REPO / ".dockerignore").read_text().split()
