"""String metrics on object (or bin) sequences: Sequence Score, edit distance and ScanMatch.

All take lists of integer sequences and score many pairs at once with a batched dynamic programme.

Sources
-------
- Sequence Score: Needleman-Wunsch with 0/1 similarity and gap 0, normalised by the longer length
  (Yang et al. 2020, COCO-Search18; used on object strings by Fang et al. 2024, OAT).
- Edit distance: Levenshtein distance (insert, delete, substitute cost 1), reported raw as in OAT.
- ScanMatch: Cristino et al. 2010, Behav. Res. Methods 42:692. Clean-room: fixations are binned on a
  spatial grid, repeated once per ``temporal_bin`` of duration, aligned with Needleman-Wunsch using the
  substitution score ``threshold - distance(bin_i, bin_j)`` (in bins) and gap 0, and the score is divided by
  ``threshold * max(len1, len2)``, the score of a perfect alignment.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cogvision.scanpath.metrics._batch import as_pairs, chunks_by_size, needleman_wunsch, pad


def _pairwise(seqs, pairs, score_chunk):
    seqs = [np.asarray(s) for s in seqs]
    pairs = as_pairs(len(seqs), pairs)
    lens = np.array([len(s) for s in seqs], int)
    out = np.full(len(pairs), np.nan)
    for idx in chunks_by_size(lens[pairs[:, 0]], lens[pairs[:, 1]]):
        a = [seqs[k] for k in pairs[idx, 0]]
        b = [seqs[k] for k in pairs[idx, 1]]
        out[idx] = score_chunk(a, b, lens[pairs[idx, 0]], lens[pairs[idx, 1]])
    return out


def _equal(a, b):
    pa, pb = pad(a, -1, int), pad(b, -2, int)
    return pa[:, :, None] == pb[:, None, :]


def sequence_score(seqs: Sequence[np.ndarray], pairs=None) -> np.ndarray:
    """Sequence Score of pairs of integer sequences, in [0, 1] (1 = identical).

    Parameters
    ----------
    seqs
        Integer sequences (object or cluster ids).
    pairs
        ``(n_pairs, 2)`` indices into ``seqs``; every ``i < j`` pair when None.

    Returns
    -------
    ndarray, shape (n_pairs,)
        NaN where both sequences are empty.
    """
    def chunk(a, b, la, lb):
        score = needleman_wunsch(_equal(a, b).astype(float), la, lb, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return score / np.maximum(la, lb)
    return _pairwise(seqs, pairs, chunk)


def edit_distance(seqs: Sequence[np.ndarray], pairs=None) -> np.ndarray:
    """Levenshtein distance of pairs of integer sequences (number of edits; 0 = identical).

    Returns
    -------
    ndarray, shape (n_pairs,)
    """
    def chunk(a, b, la, lb):
        return -needleman_wunsch(-(~_equal(a, b)).astype(float), la, lb, -1.0)
    return _pairwise(seqs, pairs, chunk)


def scanmatch_bins(xy: np.ndarray, duration: np.ndarray | None, screen_size: tuple[float, float],
                   bins: tuple[int, int] = (12, 8), temporal_bin: float = 0.0) -> np.ndarray:
    """ScanMatch string of one scanpath: row-major spatial bin per fixation, repeated by duration.

    Parameters
    ----------
    xy
        Fixations, ``(n, 2)`` pixels.
    duration
        ``(n,)`` durations (ms), or None.
    screen_size
        ``(width, height)`` pixels.
    bins
        ``(n_x, n_y)`` spatial bins.
    temporal_bin
        Duration per repeat (ms); 0 disables temporal binning. A fixation repeats ``round(duration / temporal_bin)``
        times (at least once).
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    nx, ny = bins
    bx = np.clip((xy[:, 0] / screen_size[0] * nx).astype(int), 0, nx - 1)
    by = np.clip((xy[:, 1] / screen_size[1] * ny).astype(int), 0, ny - 1)
    codes = by * nx + bx
    if temporal_bin > 0 and duration is not None:
        repeats = np.maximum(np.round(np.asarray(duration, float) / temporal_bin), 1).astype(int)
        codes = np.repeat(codes, repeats)
    return codes


def scanmatch(strings: Sequence[np.ndarray], pairs=None, bins: tuple[int, int] = (12, 8),
              threshold: float = 3.5) -> np.ndarray:
    """ScanMatch score of pairs of bin strings (from :func:`scanmatch_bins`), in [0, 1] (1 = identical).

    Parameters
    ----------
    strings
        Bin strings.
    bins
        The ``(n_x, n_y)`` grid the strings were made on.
    threshold
        Bin distance at which substitution turns from reward to penalty (Cristino et al. use about 2
        standard deviations of the saccade amplitude in bins).

    Returns
    -------
    ndarray, shape (n_pairs,)
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    nx, ny = bins
    cx, cy = np.arange(nx * ny) % nx, np.arange(nx * ny) // nx
    sub_matrix = threshold - np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])

    def chunk(a, b, la, lb):
        pa, pb = pad(a, 0, int), pad(b, 0, int)
        score = needleman_wunsch(sub_matrix[pa[:, :, None], pb[:, None, :]], la, lb, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return score / (threshold * np.maximum(la, lb))
    return _pairwise(strings, pairs, chunk)
