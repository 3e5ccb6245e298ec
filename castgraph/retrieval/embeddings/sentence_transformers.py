"""Embeddings with sentence-transformers: local model directories first, then the Hugging Face hub.

A model given by name is looked up as ``<models_dir>/embeddings/<name>`` (installed from the
packaged weights when castgraph knows them) before it is handed to sentence-transformers, which
downloads hub models into ``<models_dir>/hub``. A model given as a path must exist.

Asymmetric models get their query and passage prompts: the ones given explicitly, else the ones
known for the model family (e5, BGE English), else whatever the model's own configuration says.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castgraph.core.errors import DependencyError, ModelError
from castgraph.retrieval.embeddings.base import batched, normalised_rows

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

HUB_ORGANISATION = "sentence-transformers/"
"""Names under this organisation are also found locally by their short name."""

E5_INSTRUCT_QUERY = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
)
BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "

KNOWN_PROMPTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"multilingual-e5-[a-z]+-instruct$"), E5_INSTRUCT_QUERY, ""),
    (re.compile(r"(^|-)e5-"), "query: ", "passage: "),
    (re.compile(r"^bge-[a-z]+-en(-v1\.5)?$"), BGE_EN_QUERY, ""),
)
"""(pattern on the lower-cased last name component, query prefix, passage prefix); first wins."""


def known_prompts(model: str) -> tuple[str, str] | None:
    """The (query, passage) prefixes a model family was trained with, when castgraph knows them."""
    short = re.split(r"[\\/]", model.rstrip("/\\"))[-1].lower()
    for pattern, query, passage in KNOWN_PROMPTS:
        if pattern.search(short):
            return query, passage
    return None


def looks_like_path(model: str) -> bool:
    """Whether ``model`` names a directory rather than a hub id such as ``org/name``."""
    return model.startswith((".", "~", "/", "\\")) or Path(model).is_absolute() or "\\" in model


class SentenceTransformerEmbedder:
    """A sentence-transformers model behind the ``TextEmbedder`` interface; loads lazily.

    Model calls hold a lock: Hugging Face fast tokenizers are not safe to share between threads
    ("Already borrowed"), and one forward pass already uses every core.
    """

    def __init__(
        self,
        model: str,
        *,
        models_dir: Path,
        device: str = "cpu",
        batch_size: int = 32,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        self.model = model
        self.name = model.removeprefix(HUB_ORGANISATION)
        self.models_dir = models_dir
        self.device = device
        self.batch_size = max(1, batch_size)
        self._prompts = _prompt_overrides(model, query_prefix, passage_prefix)
        self._lock = threading.RLock()
        self._model: SentenceTransformer | None = None
        self._dimension = 0

    @property
    def dimension(self) -> int:
        """Vector length; loads the model when needed."""
        self._loaded()
        return self._dimension

    @property
    def query_prefix(self) -> str:
        """The text put before each query (empty for symmetric models); loads the model."""
        return self._loaded().prompts.get("query", "") or ""

    @property
    def passage_prefix(self) -> str:
        """The text put before each passage (empty for symmetric models); loads the model."""
        prompts = self._loaded().prompts
        keys = [k for k in ("document", "passage", "corpus") if k in prompts]
        return (prompts[keys[0]] or "") if keys else ""

    def load(self) -> None:
        """Resolve the model (local files first) and load it; idempotent."""
        self._loaded()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors, computed ``batch_size`` texts at a time so queries can interleave."""
        model = self._loaded()
        vectors: list[list[float]] = []
        for batch in batched(list(texts), self.batch_size):
            with self._lock:
                raw = _encode(model.encode_document, batch, self.batch_size)
            vectors.extend(normalised_rows(raw, expected=len(batch)))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search query (with the model's query prompt)."""
        model = self._loaded()
        with self._lock:
            raw = _encode(model.encode_query, [text], 1)
        return normalised_rows(raw, expected=1)[0]

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
                self._dimension = _dimension_of(self._model)
            return self._model

    def _load_model(self) -> SentenceTransformer:
        source = self._source()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise DependencyError("sentence-transformers") from e
        logger.info("loading sentence-transformers model %s (%s)", source, self.device)
        try:
            return SentenceTransformer(
                source,
                device=self.device,
                prompts=self._prompts or None,
                cache_folder=str(self.models_dir / "hub"),
            )
        except Exception as e:  # huggingface_hub, transformers and torch raise many kinds
            raise ModelError(
                f"cannot load embedding model {self.model!r} from {source}: {e}; install the "
                "offline models with  castgraph models install , or check the model name and "
                "the internet connection"
            ) from e

    def _source(self) -> str:
        """A local directory for the model when there is one, else the hub name."""
        if looks_like_path(self.model):
            path = Path(self.model).expanduser()
            if not path.is_dir():
                raise ModelError(f"embedding model directory {path} does not exist")
            return str(path)
        from castgraph.modelfiles import resolve_embedding_model

        for name in dict.fromkeys((self.model, self.name)):
            local = resolve_embedding_model(name, self.models_dir)
            if local is not None:
                return str(local)
        return self.model


def _prompt_overrides(
    model: str, query_prefix: str | None, passage_prefix: str | None
) -> dict[str, str]:
    """Prompts to pass to sentence-transformers; absent keys keep the model's own configuration."""
    known = known_prompts(model)
    prompts: dict[str, str] = {}
    query = query_prefix if query_prefix is not None else (known[0] if known else None)
    passage = passage_prefix if passage_prefix is not None else (known[1] if known else None)
    if query is not None:
        prompts["query"] = query
    if passage is not None:
        prompts["document"] = passage
    return prompts


def _encode(method: Any, texts: Sequence[str], batch_size: int) -> Any:
    try:
        return method(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    except RuntimeError as e:  # torch failures (out of memory, bad device) surface as this
        raise ModelError(f"embedding model failed: {e}") from e


def _dimension_of(model: SentenceTransformer) -> int:
    dimension = model.get_embedding_dimension()
    if not isinstance(dimension, int) or dimension <= 0:
        raise ModelError("the embedding model does not report its vector dimension")
    return dimension
