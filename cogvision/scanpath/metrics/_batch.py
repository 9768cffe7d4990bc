"""Batching helpers shared by the pairwise metrics: pad ragged sequences, group pairs by size."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def as_pairs(n: int, pairs) -> np.ndarray:
    """``pairs`` as an ``(n_pairs, 2)`` int array of indices into ``n`` items (all ``i < j`` pairs when None)."""
    if pairs is None:
        i, j = np.triu_indices(n, k=1)
        return np.stack([i, j], 1)
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(f"pair indices must lie in [0, {n}), got [{pairs.min()}, {pairs.max()}]")
    return pairs


def chunks_by_size(len1: np.ndarray, len2: np.ndarray, chunk: int = 2048) -> Iterator[np.ndarray]:
    """Indices of pairs grouped so that pairs of similar lengths are padded together."""
    order = np.lexsort((len2, len1))
    for start in range(0, len(order), chunk):
        yield order[start:start + chunk]


def pad(seqs: Sequence[np.ndarray], fill=0.0, dtype=float) -> np.ndarray:
    """Stack ragged arrays of shape ``(n_i, ...)`` into ``(len(seqs), max n_i, ...)`` filled with ``fill``."""
    width = max((len(s) for s in seqs), default=0)
    tail = np.asarray(seqs[0]).shape[1:] if len(seqs) else ()
    out = np.full((len(seqs), max(width, 1)) + tail, fill, dtype=dtype)
    for k, s in enumerate(seqs):
        out[k, :len(s)] = s
    return out


def needleman_wunsch(sub: np.ndarray, len1: np.ndarray, len2: np.ndarray, gap: float) -> np.ndarray:
    """Best global alignment scores of a batch, maximising substitution scores plus gap penalties.

    Parameters
    ----------
    sub
        Substitution score of element ``i`` of the first and ``j`` of the second sequence, ``(B, n1, n2)``.
    len1, len2
        True lengths ``(B,)`` (``sub`` is padded beyond them).
    gap
        Score added per gap (0 or negative).

    Returns
    -------
    ndarray, shape (B,)
    """
    b, n1, n2 = sub.shape
    score = np.zeros((b, n1 + 1, n2 + 1))
    score[:, :, 0] = gap * np.arange(n1 + 1)
    score[:, 0, :] = gap * np.arange(n2 + 1)
    for i in range(1, n1 + 1):
        diag = score[:, i - 1, :-1] + sub[:, i - 1, :]
        up = score[:, i - 1, 1:] + gap
        best = np.maximum(diag, up)
        row = score[:, i]
        for j in range(1, n2 + 1):  # the left neighbour is this row's previous cell
            row[:, j] = np.maximum(best[:, j - 1], row[:, j - 1] + gap)
    return score[np.arange(b), len1, len2]
