"""Text embedders behind the ``Embedder`` port, chosen by model name and imported lazily.

Every embedder returned here is a ``TextEmbedder``:

- ``embed(texts)`` embeds passages (the chunks that get indexed);
- ``embed_query(text)`` embeds a search query. Asymmetric models such as ``multilingual-e5-*``
  need ``"query: "`` and ``"passage: "`` prefixes; the embedder adds them, so callers only pick
  the right method;
- ``name`` and ``dimension`` identify the vector space (vector collections are keyed on both);
- ``load()`` loads the model up front; otherwise the first call loads it.

Vectors are L2-normalised lists of floats; all methods are safe to call from several threads.

Model names:

- ``hash`` or ``hash-<dimension>``: the deterministic test embedder (no model);
- ``use-multilingual-v3``: multilingual Universal Sentence Encoder (numpy, packaged weights);
- anything else: a sentence-transformers model, found as ``<models_dir>/embeddings/<name>``
  first (``all-MiniLM-L6-v2`` is packaged), or a directory path, or a hub name to download.
"""

from __future__ import annotations

import re
from pathlib import Path

from castgraph.core.errors import InputError
from castgraph.retrieval.embeddings.base import TextEmbedder

__all__ = ["TextEmbedder", "make_embedder"]

_HASH = re.compile(r"^hash(?:-(\d+))?$")


def make_embedder(
    model: str,
    *,
    models_dir: Path,
    device: str = "cpu",
    batch_size: int = 32,
    query_prefix: str | None = None,
    passage_prefix: str | None = None,
) -> TextEmbedder:
    """The embedder for ``model``, not loaded yet (call ``load()`` or just use it).

    ``query_prefix``/``passage_prefix`` override the prompts of a sentence-transformers model
    (``""`` turns a known prefix off); the other backends take no prompts.
    """
    model = model.strip()
    if not model:
        raise InputError("no embedding model given")
    hashed = _HASH.match(model)
    if hashed:
        from castgraph.retrieval.embeddings.hashing import HashEmbedder

        return HashEmbedder(int(hashed.group(1) or 256))
    if model == "use-multilingual-v3":
        from castgraph.retrieval.embeddings.universal import UniversalSentenceEncoder

        return UniversalSentenceEncoder(models_dir=models_dir, batch_size=batch_size)
    from castgraph.retrieval.embeddings.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        model,
        models_dir=models_dir,
        device=device,
        batch_size=batch_size,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
    )
