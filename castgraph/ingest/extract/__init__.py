"""Entity and relation extraction behind the ``Extractor`` port, chosen by name.

``offline`` (rules, no model) is the default; ``llm`` asks an OpenAI-compatible endpoint through
LangChain's graph transformer and falls back to the offline rules for chunks it fails on;
``none`` extracts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.util import find_spec

from castgraph.core.errors import DependencyError, InputError
from castgraph.core.models import Chunk, Entity, Relation
from castgraph.core.ports import Extractor
from castgraph.core.settings import ExtractorName

__all__ = ["NullExtractor", "make_extractor"]

_LLM_PACKAGES = (
    ("langchain_experimental", "langchain-experimental"),
    ("langchain_openai", "langchain-openai"),
)


class NullExtractor:
    """Extracts nothing (``extractor = "none"``): episodes are indexed without a graph."""

    def extract(self, chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
        """No entities, no relations."""
        return [], []


def make_extractor(
    name: ExtractorName,
    *,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: str | None = None,
    speakers: Sequence[str] = (),
) -> Extractor:
    """The extractor called ``name``; imports its backend lazily and loads nothing yet.

    ``speakers`` are names known to be people (they type mentions and anchor aliases).
    ``llm`` needs ``llm_model`` and the ``llm`` extra; nothing is contacted until ``extract``.
    """
    if name == "offline":
        from castgraph.ingest.extract.offline import OfflineExtractor

        return OfflineExtractor(speakers=speakers)
    if name == "llm":
        if not llm_model:
            raise InputError("the llm extractor needs a model: set CASTGRAPH_LLM_MODEL")
        for module, package in _LLM_PACKAGES:
            if find_spec(module) is None:
                raise DependencyError(package, "llm")
        from castgraph.ingest.extract.llm import LLMExtractor

        return LLMExtractor(
            base_url=llm_base_url, model=llm_model, api_key=llm_api_key, speakers=speakers
        )
    if name == "none":
        return NullExtractor()
    raise InputError(f"unknown extractor {name!r}: choose offline, llm or none")
