"""Answers from a local GGUF model through llama-cpp-python (extra ``llamacpp``).

The model loads in ``load()`` (or on the first answer), once, under a lock. One llama.cpp context
cannot generate two answers at once, so answers are written one at a time on a thread of their
own (``serial.SerialWorker``) and handed to their readers through queues: a reader that stops
reading never holds the model. At most ``queue`` answers wait behind the one being written;
past that ``stream`` raises ``BusyError`` at once. Closing the returned iterator early stops
generation (or leaves the line) and frees the model for the next answer.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from castgraph.core.errors import DependencyError, GenerationError, ModelError
from castgraph.core.models import AnswerRequest
from castgraph.retrieval.generation.serial import SerialWorker

_GGUF_MAGIC = b"GGUF"
_NO_SYSTEM_ROLE = frozenset({"gemma"})
"""llama-cpp-python chat formats that silently drop system messages: the rules are folded into
the first user message instead (as Gemma's own template does)."""


def _import_llama_cpp() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise DependencyError("llama-cpp-python", "llamacpp") from exc


class LlamaCppGenerator:
    """Streams chat completions from the GGUF file at ``model_path``, in process.

    ``chat_format`` names a llama-cpp-python chat format (``"gemma"``, ``"chatml"``…) for GGUF
    files without a chat template; by default the file's own template is used. ``queue``: how
    many answers may wait behind the one being written.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_tokens: int = 512,
        temperature: float = 0.1,
        chat_format: str | None = None,
        queue: int = 4,
    ) -> None:
        self.model_path = Path(model_path)
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._llama: Any = None
        self._load_lock = threading.Lock()
        self._worker = SerialWorker(f"the local model {self.model_path.name}", waiting=queue)

    def load(self) -> None:
        """Load the GGUF file; a missing or corrupt file raises ``ModelError`` naming it."""
        with self._load_lock:
            if self._llama is not None:
                return
            llama_cpp = _import_llama_cpp()
            _check_gguf(self.model_path)
            try:
                self._llama = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    chat_format=self.chat_format,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelError(
                    f"cannot load the GGUF model {self.model_path}: {exc} "
                    "(is it a complete llama.cpp GGUF file? check CASTGRAPH_LLM_MODEL_PATH)"
                ) from exc

    def stream(self, request: AnswerRequest) -> Generator[str, None, None]:
        """Yield the answer's text deltas; raise ``GenerationError`` when generation fails, and
        ``BusyError`` here, at once, when the line of answers is full."""
        messages = _messages(request, fold_system=self.chat_format in _NO_SYSTEM_ROLE)
        return self._worker.submit(lambda: self._generate(messages))

    def close(self) -> None:
        """Stop the generation thread (the answer being written is cut short)."""
        self._worker.close()

    def _generate(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """On the worker thread: load the model once, then stream one answer."""
        self.load()
        try:
            chunks = self._llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
            try:
                for chunk in chunks:
                    yield from _deltas(chunk)
            finally:
                chunks.close()
        except (ValueError, RuntimeError) as exc:
            raise GenerationError(
                f"the local model {self.model_path.name} failed: {exc} "
                f"(the prompt must fit in n_ctx={self.n_ctx} tokens)"
            ) from exc


def _deltas(chunk: Any) -> Iterator[str]:
    """The text pieces of one ``chat.completion.chunk`` dict."""
    for choice in chunk.get("choices", ()):
        content = (choice.get("delta") or {}).get("content")
        if content:
            yield str(content)


def _messages(request: AnswerRequest, *, fold_system: bool = False) -> list[dict[str, str]]:
    """The request's chat messages as dicts (the default prompt when it has none)."""
    messages = request.messages
    if not messages:
        from castgraph.retrieval.generation.prompt import build_messages

        messages = build_messages(request.question, request.language, request.blocks)
    result = [{"role": m.role, "content": m.content} for m in messages]
    return _fold_system(result) if fold_system else result


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages without system ones, whose text opens the first user message instead."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    first_user = next((m for m in rest if m["role"] == "user"), None)
    if first_user is None:
        return [{"role": "user", "content": system}, *rest]
    first_user["content"] = f"{system}\n\n{first_user['content']}"
    return rest


def _check_gguf(path: Path) -> None:
    """Fail early, naming the path, when the file is missing or not GGUF."""
    if not path.is_file():
        raise ModelError(f"GGUF model file not found: {path} (check CASTGRAPH_LLM_MODEL_PATH)")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read the GGUF model file {path}: {exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
