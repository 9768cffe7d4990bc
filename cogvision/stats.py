"""Statistics shared by every module: intervals over resampled items."""

from __future__ import annotations

import numpy as np


def bootstrap_interval(values: np.ndarray, n_boot: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean over the last axis (images), resampled with replacement.

    Parameters
    ----------
    values
        (..., n_images); every cell uses the same resampled image sets.
    n_boot
        Bootstrap resamples.
    seed
        Seed of the resampling.
    level
        Coverage of the interval.

    Returns
    -------
    low, high : numpy.ndarray
        Shape ``values.shape[:-1]``.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    if n == 0:
        raise ValueError("bootstrap needs at least one image")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    means = values[..., idx].mean(axis=-1)  # (..., n_boot)
    tail = (1 - level) / 2 * 100
    return np.percentile(means, tail, axis=-1), np.percentile(means, 100 - tail, axis=-1)
