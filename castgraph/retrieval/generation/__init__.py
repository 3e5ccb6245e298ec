"""Answer generators: an OpenAI-compatible endpoint, a local GGUF, or the extractive answerer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from castgraph.core.errors import InputError
from castgraph.core.ports import Generator

GeneratorBackend = Literal["extractive", "openai", "llamacpp"]


def make_generator(
    backend: GeneratorBackend,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    model_path: Path | None = None,
    timeout: float = 60.0,
    max_tokens: int = 512,
    queue: int = 4,
    embedder: Any = None,
) -> Generator:
    """The generator for ``backend``, imported lazily (nothing loads or connects here)."""
    if backend == "openai":
        if not base_url or not model:
            raise InputError(
                "the OpenAI-compatible generator needs CASTGRAPH_LLM_BASE_URL and "
                "CASTGRAPH_LLM_MODEL (e.g. http://localhost:11434/v1 and llama3.2)"
            )
        from castgraph.retrieval.generation.openai_compat import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator(
            base_url, model, api_key, timeout=timeout, max_tokens=max_tokens
        )
    if backend == "llamacpp":
        if model_path is None:
            raise InputError("the llama.cpp generator needs CASTGRAPH_LLM_MODEL_PATH (a GGUF file)")
        from castgraph.retrieval.generation.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(model_path, max_tokens=max_tokens, queue=queue)
    from castgraph.retrieval.generation.extractive import ExtractiveGenerator

    return ExtractiveGenerator(embedder=embedder)
