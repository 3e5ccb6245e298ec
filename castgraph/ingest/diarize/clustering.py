"""Clustering of speaker embeddings with an estimated number of speakers.

Pure numpy/scipy/scikit-learn, no model. The input is one L2-normalised embedding per sliding
window, in time order. Two regimes:

* enough speech: spectral clustering on a refined cosine affinity (Wang et al. 2018, "Speaker
  diarization with LSTM": diagonal cropping, Gaussian blur along time, row-wise thresholding,
  symmetrisation, diffusion, row-wise max normalisation). The number of speakers is the largest
  eigengap ratio of the refined affinity: first on the raw embeddings, where k = 1 (one voice)
  is a possible answer, then, when there are several, on embeddings with the file's mean
  removed (a per-file channel normalisation that sharpens the contrast between similar voices),
  which are also the ones clustered. A speaker too brief to shape the eigengap is recovered
  afterwards when a cluster splits into two clearly distinct voices, and each large cluster is
  examined again on its own (similar voices hide next to very different ones).
* little speech (a short clip): the eigen-structure of a few dozen overlapping windows reflects
  time more than voice, so centroid-linkage agglomeration with a conservative "different voice"
  threshold decides instead.

Labels are then smoothed in time by :func:`viterbi_smooth` (a sticky HMM on cosine scores).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ClusteringOptions:
    """Tunables; the defaults suit 1.5 s resemblyzer windows on a 0.25 s hop."""

    max_speakers: int = 8
    min_spectral_windows: int = 60
    """Below this many windows (about 15 s of speech) the agglomerative fallback decides."""
    row_percentile: float = 0.5
    """Row-wise threshold of the refined affinity: smaller values are damped by ``soft``."""
    blur_sigma: float = 1.0
    soft: float = 0.01
    distinct_voice: float = 0.7
    """Centroids less cosine-similar than this are different voices, whatever the eigengap says."""
    min_cluster_windows: int = 6
    """A speaker needs this many windows (on a 0.25 s hop, about 2.75 s of speech)..."""
    min_cluster_fraction: float = 0.01
    """...and this share of all windows (36 s of a one-hour episode) to be split off."""
    seed: int = 0


def normalize_rows(x: NDArray[np.floating]) -> FloatArray:
    """L2-normalise each row (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float64)


def centroids(x: FloatArray, labels: IntArray, k: int | None = None) -> FloatArray:
    """L2-normalised mean embedding of each label 0..k-1 (zeros for an empty label)."""
    k = int(labels.max()) + 1 if k is None else k
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, labels, x)
    return normalize_rows(sums)


def relabel_by_first_appearance(labels: IntArray) -> IntArray:
    """Renumber labels 0, 1, 2… in order of first appearance."""
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=np.int64)


def refine_affinity(similarity: FloatArray, opts: ClusteringOptions) -> FloatArray:
    """The refinement sequence of Wang et al. on a cosine similarity matrix in time order."""
    from scipy.ndimage import gaussian_filter

    a = np.clip(similarity, 0.0, None)
    np.fill_diagonal(a, 0.0)
    np.fill_diagonal(a, a.max(axis=1))
    if opts.blur_sigma > 0:
        a = gaussian_filter(a, opts.blur_sigma)
    threshold = np.quantile(a, opts.row_percentile, axis=1, keepdims=True)
    a = np.where(a >= threshold, a, a * opts.soft)
    a = np.maximum(a, a.T)
    a = a @ a.T
    return np.asarray(a / np.maximum(a.max(axis=1, keepdims=True), 1e-12), dtype=np.float64)


def _symmetric(a: FloatArray) -> FloatArray:
    return (a + a.T) / 2.0


def estimate_num_speakers(affinity: FloatArray, max_speakers: int, min_speakers: int = 1) -> int:
    """Largest eigengap ratio of the refined affinity among the top ``max_speakers`` + 1."""
    from scipy.linalg import eigh

    n = affinity.shape[0]
    top = min(max_speakers + 1, n)
    values = eigh(_symmetric(affinity), eigvals_only=True, subset_by_index=[n - top, n - 1])
    values = np.sort(values)[::-1]
    if len(values) < 2:
        return 1
    ratios = values[:-1] / np.maximum(values[1:], 1e-10)
    first = min(max(min_speakers, 1), len(ratios)) - 1
    return int(np.argmax(ratios[first:])) + first + 1


def spectral_labels(affinity: FloatArray, k: int, seed: int = 0) -> IntArray:
    """K-means on the top-``k`` eigenvectors of the refined affinity (rows L2-normalised)."""
    from scipy.linalg import eigh
    from sklearn.cluster import KMeans

    n = affinity.shape[0]
    if k <= 1 or n <= k:
        return np.zeros(n, dtype=np.int64) if k <= 1 else np.arange(n, dtype=np.int64)
    _, vectors = eigh(_symmetric(affinity), subset_by_index=[n - k, n - 1])
    spectral = normalize_rows(vectors)
    km = KMeans(n_clusters=k, n_init=10, random_state=seed)
    return np.asarray(km.fit_predict(spectral), dtype=np.int64)


def agglomerate(
    x: FloatArray, *, threshold: float | None = None, target: int | None = None
) -> IntArray:
    """Centroid-linkage agglomeration on cosine similarity.

    Merges the two most similar clusters while their similarity is at least ``threshold``
    (or until ``target`` clusters remain when a target is given).
    """
    sums = [row.copy() for row in x]
    members: list[list[int]] = [[i] for i in range(len(x))]
    while len(sums) > 1:
        cents = normalize_rows(np.array(sums))
        sim = cents @ cents.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if target is not None:
            if len(sums) <= target:
                break
        elif threshold is None or sim[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        sums[i] = sums[i] + sums[j]
        members[i].extend(members[j])
        del sums[j], members[j]
    labels = np.zeros(len(x), dtype=np.int64)
    for label, group in enumerate(members):
        labels[group] = label
    return labels


def _min_size(n: int, opts: ClusteringOptions) -> int:
    """Fewest windows a speaker split off by re-examination must have."""
    return max(opts.min_cluster_windows, int(np.ceil(opts.min_cluster_fraction * n)))


def split_distinct(x: FloatArray, labels: IntArray, opts: ClusteringOptions) -> IntArray:
    """Split clusters that hold two clearly distinct voices (each side long enough).

    A side whose voice is already another cluster's (windows the spectral step put on the
    wrong side, e.g. when a codec blurs the contrast) joins that cluster instead: a new
    speaker must be distinct from every voice found, not only from the rest of its cluster.
    """
    labels = labels.copy()
    for _ in range(4 * opts.max_speakers):
        if labels.max() + 1 >= opts.max_speakers:
            break
        split = _distinct_split(x, labels, opts)
        if split is None:
            break
        part, target = split
        labels[part] = labels.max() + 1 if target is None else target
    return relabel_by_first_appearance(labels)


def _distinct_split(
    x: FloatArray, labels: IntArray, opts: ClusteringOptions
) -> tuple[IntArray, int | None] | None:
    """The first cluster side that is a distinct voice, and the cluster it joins (None: new)."""
    from sklearn.cluster import KMeans

    min_size = _min_size(len(x), opts)
    k = int(labels.max()) + 1
    cents = centroids(x, labels, k)
    for label in range(k):
        idx = np.flatnonzero(labels == label)
        if len(idx) < 2 * min_size:
            continue
        km = KMeans(n_clusters=2, n_init=10, random_state=opts.seed)
        sub = np.asarray(km.fit_predict(x[idx]), dtype=np.int64)
        if min(np.bincount(sub, minlength=2)) < min_size:
            continue
        halves = centroids(x[idx], sub, 2)
        if float(halves[0] @ halves[1]) >= opts.distinct_voice:
            continue
        others = halves @ np.delete(cents, label, axis=0).T
        if others.size == 0 or others.max() < opts.distinct_voice:
            return idx[sub == 1], None
        side, other = np.unravel_index(int(np.argmax(others)), others.shape)
        return idx[sub == side], int(np.delete(np.arange(k), label)[other])
    return None


def absorb_small(x: FloatArray, labels: IntArray, min_size: int) -> IntArray:
    """Move the members of clusters smaller than ``min_size`` to the nearest larger cluster."""
    counts = np.bincount(labels)
    big = np.flatnonzero(counts >= min_size)
    if len(big) == 0:
        big = np.array([int(np.argmax(counts))])
    if len(big) == len(counts):
        return labels
    cents = centroids(x, labels, len(counts))[big]
    nearest = big[np.argmax(x @ cents.T, axis=1)]
    return np.where(np.isin(labels, big), labels, nearest).astype(np.int64)


def _take_turns(sub: IntArray, k: int, min_run: int) -> bool:
    """Whether every sub-label returns after another one spoke (runs shorter than min_run
    ignored): voices in conversation alternate, while one voice drifting over time does not."""
    runs: list[int] = []
    start = 0
    for i in range(1, len(sub) + 1):
        if i == len(sub) or sub[i] != sub[start]:
            if i - start >= min_run and (not runs or runs[-1] != sub[start]):
                runs.append(int(sub[start]))
            start = i
    return all(runs.count(label) >= 2 for label in range(k))


def split_mixed(x: FloatArray, labels: IntArray, opts: ClusteringOptions) -> IntArray:
    """Re-examine each large cluster on its own and split it when it holds several voices.

    The eigengap is relative: next to very different voices, two similar ones may share a
    cluster. Seen alone (same one-voice test, same mean removal), they separate. The parts must
    also take turns, so that one voice whose sound drifts over an episode stays whole.
    """
    labels = labels.copy()
    min_size = _min_size(len(x), opts)
    for label in range(int(labels.max()) + 1):
        idx = np.flatnonzero(labels == label)
        room = opts.max_speakers - int(labels.max())
        if len(idx) < opts.min_spectral_windows or room < 2:
            continue
        part = x[idx]
        centred = normalize_rows(part - part.mean(axis=0))
        affinity = refine_affinity(centred @ centred.T, opts)
        k = min(_estimate(part, affinity, opts), room)
        if k <= 1:
            continue
        sub = spectral_labels(affinity, k, opts.seed)
        if np.bincount(sub, minlength=k).min() < min_size:
            continue
        if not _take_turns(sub, k, opts.min_cluster_windows // 2):
            continue
        base = int(labels.max())
        for s in range(1, k):
            labels[idx[sub == s]] = base + s
    return labels


def _estimate(x: FloatArray, centred_affinity: FloatArray, opts: ClusteringOptions) -> int:
    """One voice or several on the raw affinity; how many on the mean-removed one."""
    if estimate_num_speakers(refine_affinity(x @ x.T, opts), opts.max_speakers) == 1:
        return 1
    return estimate_num_speakers(centred_affinity, opts.max_speakers, min_speakers=2)


def _count_short(x: FloatArray, opts: ClusteringOptions) -> int:
    """Speaker count of a short clip: clearly distinct voices with enough windows each."""
    labels = agglomerate(x, threshold=opts.distinct_voice)
    return len(np.unique(absorb_small(x, labels, opts.min_cluster_windows)))


def _bisect(x: FloatArray, opts: ClusteringOptions) -> IntArray:
    """Best two-way split of one cluster's windows."""
    if len(x) < 6:
        return agglomerate(x, target=2)
    centred = normalize_rows(x - x.mean(axis=0))
    return spectral_labels(refine_affinity(centred @ centred.T, opts), 2, opts.seed)


def force_count(x: FloatArray, labels: IntArray, k: int, opts: ClusteringOptions) -> IntArray:
    """Merge the closest clusters, or split the one that splits most distinctly, until k."""
    labels = relabel_by_first_appearance(labels)
    while int(labels.max()) + 1 > k:
        cents = centroids(x, labels)
        sim = cents @ cents.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        labels = relabel_by_first_appearance(np.where(labels == max(i, j), min(i, j), labels))
    while int(labels.max()) + 1 < k:
        best: tuple[float, NDArray[np.int64], IntArray] | None = None
        for label in range(int(labels.max()) + 1):
            idx = np.flatnonzero(labels == label)
            if len(idx) < 2:
                continue
            sub = _bisect(x[idx], opts)
            if sub.min() == sub.max():
                continue
            cents = centroids(x[idx], sub, 2)
            score = float(cents[0] @ cents[1])
            if best is None or score < best[0]:
                best = (score, idx, sub)
        if best is None:
            break
        labels = labels.copy()
        labels[best[1][best[2] == 1]] = int(labels.max()) + 1
    return labels


def cluster_embeddings(
    embeddings: NDArray[np.floating],
    *,
    num_speakers: int | None = None,
    options: ClusteringOptions | None = None,
) -> IntArray:
    """Label each window 0..k-1 (in order of first appearance); ``num_speakers`` forces k.

    A forced count starts from the estimated clustering, then merges or splits clusters.
    """
    opts = options or ClusteringOptions()
    x = normalize_rows(embeddings)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    centred = normalize_rows(x - x.mean(axis=0))
    affinity = refine_affinity(centred @ centred.T, opts)
    if n < opts.min_spectral_windows:
        k = _count_short(x, opts)
        labels = agglomerate(x, target=k) if n < 3 * k else spectral_labels(affinity, k, opts.seed)
    else:
        k = _estimate(x, affinity, opts)
        labels = spectral_labels(affinity, k, opts.seed)
        labels = split_mixed(x, split_distinct(x, labels, opts), opts)
    if num_speakers is not None:
        labels = force_count(x, labels, max(1, min(num_speakers, n)), opts)
    logger.debug("clustered %d windows into %d speakers", n, int(labels.max()) + 1)
    return relabel_by_first_appearance(labels)


def viterbi_smooth(
    scores: FloatArray, switch_penalty: float, breaks: Sequence[int] = ()
) -> IntArray:
    """Best label path through ``scores`` (windows x labels) paying ``switch_penalty`` per change.

    ``breaks`` are window indices where a change is free (e.g. the start of a new speech region).
    """
    n, k = scores.shape
    if n == 0 or k == 0:
        return np.zeros(n, dtype=np.int64)
    free = np.zeros(n, dtype=bool)
    free[[b for b in breaks if 0 <= b < n]] = True
    back = np.zeros((n, k), dtype=np.int64)
    total = scores[0].copy()
    penalty = switch_penalty * (1.0 - np.eye(k))
    for t in range(1, n):
        cand = total[:, None] - (0.0 * penalty if free[t] else penalty)
        back[t] = np.argmax(cand, axis=0)
        total = cand[back[t], np.arange(k)] + scores[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
