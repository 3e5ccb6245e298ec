"""Speaker clustering on synthetic embeddings (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from castgraph.ingest.diarize.clustering import (
    ClusteringOptions,
    absorb_small,
    agglomerate,
    centroids,
    cluster_embeddings,
    relabel_by_first_appearance,
    split_distinct,
    viterbi_smooth,
)

DIM = 256


def _voices(n: int, rng: np.random.Generator, shared: float = 1.0) -> np.ndarray:
    """``n`` unit voice centres, about 0.5 cosine-similar to each other (like resemblyzer)."""
    common = rng.normal(size=DIM)
    centres = shared * common + rng.normal(size=(n, DIM))
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _windows(
    centres: np.ndarray, plan: list[tuple[int, int]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings for a plan of (speaker, windows) turns; within-speaker cosine about 0.8.

    Each turn drifts a little (turn centroids of one voice about 0.97 cosine-similar).
    """
    rows, truth = [], []
    for speaker, count in plan:
        drift = rng.normal(scale=0.01, size=DIM)
        for _ in range(count):
            rows.append(centres[speaker] + drift + rng.normal(scale=0.045, size=DIM))
            truth.append(speaker)
    x = np.array(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(truth)


def _agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of windows whose label maps to the truth under the best one-to-one mapping."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((labels.max() + 1, truth.max() + 1))
    np.add.at(counts, (labels, truth), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def test_two_alternating_speakers_are_found() -> None:
    rng = np.random.default_rng(1)
    x, truth = _windows(_voices(2, rng), [(0, 20), (1, 15), (0, 25), (1, 20), (0, 10)], rng)
    labels = cluster_embeddings(x)
    assert labels.max() + 1 == 2
    assert labels[0] == 0
    assert _agreement(labels, truth) > 0.95


def test_a_brief_distinct_third_speaker_is_kept() -> None:
    rng = np.random.default_rng(2)
    plan = [(0, 60), (2, 10), (1, 50), (0, 30), (1, 40)]
    x, truth = _windows(_voices(3, rng), plan, rng)
    labels = cluster_embeddings(x)
    assert labels.max() + 1 == 3
    assert _agreement(labels, truth) > 0.95


def test_four_speakers() -> None:
    rng = np.random.default_rng(3)
    plan = [(s, 15) for s in (0, 1, 2, 3, 1, 0, 3, 2)]
    x, truth = _windows(_voices(4, rng), plan, rng)
    labels = cluster_embeddings(x)
    assert labels.max() + 1 == 4
    assert _agreement(labels, truth) > 0.95


def test_one_speaker_with_drift_stays_one() -> None:
    rng = np.random.default_rng(4)
    x, _ = _windows(_voices(1, rng), [(0, 40), (0, 40), (0, 40)], rng)
    assert cluster_embeddings(x).max() == 0


@pytest.mark.parametrize("speakers", [1, 2])
def test_short_clips_use_the_agglomerative_fallback(speakers: int) -> None:
    rng = np.random.default_rng(5)
    plan = [(i % speakers, 8) for i in range(4)]
    x, truth = _windows(_voices(2, rng), plan, rng)
    labels = cluster_embeddings(x)
    assert labels.max() + 1 == speakers
    assert _agreement(labels, truth) == 1.0


def test_num_speakers_forces_the_count() -> None:
    rng = np.random.default_rng(6)
    x, _ = _windows(_voices(2, rng), [(0, 40), (1, 40)], rng)
    assert cluster_embeddings(x, num_speakers=3).max() + 1 == 3
    assert cluster_embeddings(x[:20], num_speakers=2).max() + 1 == 2
    assert cluster_embeddings(x, num_speakers=1).max() == 0


def test_max_speakers_caps_the_estimate() -> None:
    rng = np.random.default_rng(7)
    plan = [(s, 15) for s in (0, 1, 2, 3, 0, 1, 2, 3)]
    x, _ = _windows(_voices(4, rng), plan, rng)
    assert cluster_embeddings(x, options=ClusteringOptions(max_speakers=2)).max() + 1 <= 2


def test_empty_input() -> None:
    assert cluster_embeddings(np.zeros((0, DIM))).shape == (0,)


def test_agglomerate_and_helpers() -> None:
    x = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert agglomerate(x, threshold=0.9).tolist() == [0, 0, 1, 1]
    assert agglomerate(x, target=1).tolist() == [0, 0, 0, 0]
    assert absorb_small(x, np.array([0, 0, 1, 0]), 2).tolist() == [0, 0, 0, 0]
    cents = centroids(x, np.array([0, 0, 1, 1]))
    assert np.allclose(np.linalg.norm(cents, axis=1), 1.0)
    assert relabel_by_first_appearance(np.array([2, 2, 0, 1, 0])).tolist() == [0, 0, 1, 2, 1]


def test_viterbi_removes_short_flips_but_not_free_breaks() -> None:
    scores = np.array([[0.9, 0.5]] * 5 + [[0.5, 0.6]] + [[0.9, 0.5]] * 5)
    assert viterbi_smooth(scores, 0.3).tolist() == [0] * 11
    assert viterbi_smooth(scores, 0.0)[5] == 1
    assert viterbi_smooth(scores, 0.3, breaks=[5, 6])[5] == 1
    assert viterbi_smooth(np.zeros((0, 2)), 0.3).shape == (0,)


def test_two_similar_voices_next_to_distinct_ones_are_told_apart() -> None:
    rng = np.random.default_rng(8)
    distinct = _voices(2, rng, shared=0.0)
    base = rng.normal(size=DIM)
    pair = np.array([base + 0.3 * rng.normal(size=DIM) for _ in range(2)])  # cosine ~0.91
    pair /= np.linalg.norm(pair, axis=1, keepdims=True)
    centres = np.vstack([distinct, pair])
    plan = [(0, 120), (1, 120)] + [(2 + i % 2, 12) for i in range(16)] + [(0, 60)]
    x, truth = _windows(centres, plan, rng)
    labels = cluster_embeddings(x)
    assert labels.max() + 1 == 4
    assert _agreement(labels, truth) > 0.9


def test_forced_count_merges_or_splits_the_estimate() -> None:
    rng = np.random.default_rng(9)
    x, truth = _windows(_voices(3, rng), [(0, 40), (1, 40), (2, 40), (0, 40)], rng)
    assert cluster_embeddings(x).max() + 1 == 3
    two = cluster_embeddings(x, num_speakers=2)
    assert two.max() + 1 == 2
    four = cluster_embeddings(x, num_speakers=4)
    assert four.max() + 1 == 4
    assert _agreement(four, truth) > 0.7


def test_misplaced_windows_of_a_known_voice_are_not_a_new_speaker() -> None:
    """Windows of B that landed in A's cluster are distinct from A but are B: they join B."""
    rng = np.random.default_rng(5)
    x, truth = _windows(_voices(2, rng), [(0, 40), (1, 30), (0, 40), (1, 30)], rng)
    labels = truth.copy()
    strays = np.flatnonzero(truth == 1)[:8]
    labels[strays] = 0
    fixed = split_distinct(x, labels, ClusteringOptions())
    assert fixed.max() + 1 == 2
    assert _agreement(fixed, truth) == 1.0
