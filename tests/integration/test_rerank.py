"""The cross-encoder reranker loads a real (tiny, locally built) model from the models directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from castgraph.core.errors import ModelError
from castgraph.retrieval.rerank import CrossEncoderReranker, installed_reranker

pytestmark = pytest.mark.integration


def _tiny_cross_encoder(folder: Path, vocab_from: Path) -> None:
    """A randomly initialised 2-layer BERT classifier with MiniLM's tokenizer (no download)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(vocab_from))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def test_installed_reranker_is_found_loaded_and_scores(tmp_path: Path, models_dir: Path) -> None:
    minilm = models_dir / "embeddings" / "all-MiniLM-L6-v2"
    if not minilm.is_dir():
        pytest.skip("packaged MiniLM tokenizer not installed: run `castgraph models install`")
    assert installed_reranker(tmp_path) is None
    _tiny_cross_encoder(tmp_path / "rerankers" / "tiny", minilm)
    assert installed_reranker(tmp_path) == "tiny"
    reranker = CrossEncoderReranker("tiny", models_dir=tmp_path)
    scores = reranker.score("¿Dónde trabaja Valeria?", ["En el Observatorio.", "Hola a todos."])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert reranker.score("q", []) == []


def test_unknown_reranker_is_a_model_error(tmp_path: Path) -> None:
    reranker = CrossEncoderReranker(str(tmp_path / "missing"), models_dir=tmp_path)
    with pytest.raises(ModelError, match="cannot load the reranker"):
        reranker.score("q", ["p"])
