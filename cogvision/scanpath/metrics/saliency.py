"""Distribution metrics: SIM and NSS.

Sources: Bylinskii et al. 2019, "What do different evaluation metrics tell us about saliency models?"
(IEEE TPAMI 41:740). SIM (histogram intersection) = ``sum_i min(P_i, Q_i)`` of two maps each normalised
to sum 1, in [0, 1]; NSS = mean of the z-scored saliency map at fixated locations. OAT reports SIM
between the model's teacher-forced next-object distribution and the one-hot true next object, which
is the probability given to the true object.
"""

from __future__ import annotations

import numpy as np


def sim(p: np.ndarray, q: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Similarity (histogram intersection) of non-negative maps ``p`` and ``q`` of equal shape, in [0, 1].

    Parameters
    ----------
    axis
        Axis (or None for all) over which each map is normalised and summed.
    """
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.shape != q.shape:
        raise ValueError(f"SIM needs maps of one shape, got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("SIM needs non-negative maps")
    p = p / p.sum(axis=axis, keepdims=axis is not None)
    q = q / q.sum(axis=axis, keepdims=axis is not None)
    return np.minimum(p, q).sum(axis=axis)


def nss(saliency: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Normalised scanpath saliency: mean of ``(saliency - mean) / std`` at the fixated pixels or cells.

    Parameters
    ----------
    saliency
        Map of shape ``(H, W)`` (or a 1-D vector of object scores with ``rows`` all zero).
    rows, cols
        Integer indices of the fixations.
    """
    s = np.atleast_2d(np.asarray(saliency, float))
    sd = s.std()
    if sd == 0:
        return float("nan")
    z = (s - s.mean()) / sd
    return float(z[np.asarray(rows, int), np.asarray(cols, int)].mean())
