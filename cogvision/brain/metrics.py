"""Encoding-model scores: per-target Pearson r and R^2, noise-ceiling-normalised scores, explainable
variance from repeats, per-ROI summaries and checks of response matrices.

All functions take targets (voxels or vertices) along the last axis.

Examples
--------
>>> import numpy as np
>>> from cogvision.brain.metrics import noise_normalized_score
>>> noise_normalized_score(np.array([0.5, -0.2, 0.9]), np.array([50.0, 50.0, 50.0]), ceiling_unit="percent")
array([ 50.,   0., 100.])
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

CEILING_UNITS = ("percent", "fraction")


def pearson_r(y_true, y_pred, dim: int = 0):
    """Pearson correlation along ``dim`` (samples), one value per target.

    Parameters
    ----------
    y_true, y_pred : ndarray or torch.Tensor
        Same shape, e.g. (n_samples, n_targets).
    dim : int
        The sample axis.

    Returns
    -------
    ndarray or torch.Tensor
        The same type as the inputs, with ``dim`` reduced; 0 where either side is constant.
    """
    as_numpy = not isinstance(y_true, torch.Tensor)
    a = torch.tensor(np.asarray(y_true, dtype=np.float64)) if as_numpy else y_true
    b = torch.tensor(np.asarray(y_pred, dtype=np.float64)) if as_numpy else y_pred
    if a.shape != b.shape:
        raise ValueError(f"y_true has shape {tuple(a.shape)} but y_pred has shape {tuple(b.shape)}")
    a = a - a.mean(dim, keepdim=True)
    b = b - b.mean(dim, keepdim=True)
    denom = torch.sqrt((a * a).sum(dim) * (b * b).sum(dim))
    r = torch.where(denom > 0, (a * b).sum(dim) / denom.clamp_min(torch.finfo(denom.dtype).tiny),
                    torch.zeros_like(denom))
    return r.numpy() if as_numpy else r


def r2_per_target(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each target (column), as scikit-learn's ``r2_score(multioutput="raw_values")``.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples, n_targets)

    Returns
    -------
    ndarray of shape (n_targets,)
        1 - SSE/SST; for a constant target 1 when predicted exactly, else 0.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    sse = ((y_true - y_pred) ** 2).sum(0)
    sst = ((y_true - y_true.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), (sse == 0).astype(float))


def score_predictions(y_true, y_pred, metric: str = "r2", per_target: bool = False):
    """Score predictions per target (``"r2"`` or ``"pearson"``), or their mean over targets.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
    metric : {"r2", "pearson"}
    per_target : bool
        Return an ndarray of shape (n_targets,) instead of the mean (a float).
    """
    if metric not in ("r2", "pearson"):
        raise ValueError(f"metric must be 'r2' or 'pearson', got {metric!r}")
    pred = np.asarray(y_pred, dtype=np.float64)
    pred = pred.reshape(len(pred), -1)
    y = np.asarray(y_true, dtype=np.float64)
    if y.size != pred.size:
        raise ValueError(f"y has shape {y.shape} but the predictions have shape {pred.shape}")
    y = y.reshape(pred.shape)
    values = r2_per_target(y, pred) if metric == "r2" else pearson_r(y, pred)
    return values if per_target else float(np.mean(values))


def noise_normalized_score(r: np.ndarray, noise_ceiling: np.ndarray, *, ceiling_unit: str) -> np.ndarray:
    """Algonauts 2023 noise-normalised encoding accuracy of each target, in percent.

    ``100 * r^2 / NC`` with negative ``r`` set to 0 and the result capped at 100; a noise ceiling of 0
    is replaced by 1e-14 as in the challenge's own scoring (so any r > 0 scores 100 there).

    Parameters
    ----------
    r : ndarray of shape (n_targets,)
        Held-out Pearson r.
    noise_ceiling : ndarray of shape (n_targets,)
        Noise ceiling (explainable fraction of variance).
    ceiling_unit : {"percent", "fraction"}
        Whether ``noise_ceiling`` is in percent (0-100, the NSD/Algonauts files) or a fraction (0-1).
        No default: say which.

    Returns
    -------
    ndarray of shape (n_targets,)
        Scores in [0, 100].
    """
    if ceiling_unit not in CEILING_UNITS:
        raise ValueError(f"ceiling_unit must be 'percent' or 'fraction', got {ceiling_unit!r}")
    r = np.asarray(r, dtype=np.float64)
    nc = np.asarray(noise_ceiling, dtype=np.float64)
    if r.shape != nc.shape:
        raise ValueError(
            f"r has shape {r.shape} but noise_ceiling has shape {nc.shape}; expected one ceiling per target"
        )
    if ceiling_unit == "percent":
        if np.nanmax(nc) <= 1.0:
            raise ValueError("noise_ceiling looks like a fraction (max <= 1) but ceiling_unit='percent'")
        nc = nc / 100.0
    elif np.nanmax(nc) > 1.0:
        raise ValueError(f"noise_ceiling has values up to {np.nanmax(nc):.3g} but ceiling_unit='fraction' (0-1)")
    nc = np.where(nc == 0, 1e-14, nc)
    return np.minimum(100.0 * np.clip(r, 0, None) ** 2 / nc, 100.0)


def explainable_variance(repeats: np.ndarray, bias_correction: bool = True) -> np.ndarray:
    """Fraction of each target's variance that repeats of the same stimuli share.

    ``ev = var(mean over repeats) / mean(var of each repeat)``, bias-corrected as
    ``ev - (1 - ev) / (n_repeats - 1)`` (the voxelwise-modelling convention).

    Parameters
    ----------
    repeats : ndarray of shape (n_repeats, n_samples, n_targets)
    bias_correction : bool

    Returns
    -------
    ndarray of shape (n_targets,)
    """
    repeats = np.asarray(repeats, dtype=np.float64)
    if repeats.ndim != 3 or repeats.shape[0] < 2:
        raise ValueError(f"repeats has shape {repeats.shape}; expected (n_repeats >= 2, n_samples, n_targets)")
    mean_var = repeats.var(axis=1).mean(0)
    ev = np.divide(repeats.mean(0).var(axis=0), mean_var, out=np.zeros_like(mean_var), where=mean_var > 0)
    if bias_correction:
        ev = ev - (1 - ev) / (repeats.shape[0] - 1)
    return ev


def roi_summary(scores: np.ndarray, rois, metric: str = "r") -> pd.DataFrame:
    """Per-ROI summary of per-target scores.

    Parameters
    ----------
    scores : ndarray of shape (n_targets,)
    rois : array-like of shape (n_targets,)
        ROI label of each target.
    metric : str
        Name recorded in the ``metric`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``roi, metric, n_targets, mean, median, q25, q75, max``, one row per ROI (sorted).
    """
    scores = np.asarray(scores, dtype=np.float64)
    rois = np.asarray(rois)
    if rois.shape != scores.shape:
        raise ValueError(
            f"rois has shape {rois.shape} but scores has shape {scores.shape}; expected one label per target"
        )
    frame = pd.DataFrame({"roi": rois, "score": scores})
    rows = []
    for roi, group in frame.groupby("roi", sort=True):
        values = group["score"].to_numpy()
        rows.append({"roi": roi, "metric": metric, "n_targets": len(values), "mean": np.nanmean(values),
                     "median": np.nanmedian(values), "q25": np.nanpercentile(values, 25),
                     "q75": np.nanpercentile(values, 75), "max": np.nanmax(values)})
    return pd.DataFrame(rows, columns=["roi", "metric", "n_targets", "mean", "median", "q25", "q75", "max"])


def check_responses(responses, n_samples: int | None = None, name: str = "responses") -> np.ndarray:
    """Validate a response matrix at the boundary.

    Parameters
    ----------
    responses : array-like of shape (n_samples, n_targets)
    n_samples : int, optional
        Expected number of samples (stimuli or volumes).
    name : str
        Used in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_targets), float64

    Raises
    ------
    ValueError
        When the array is not 2-D, has the wrong number of samples, holds NaN/Inf (naming the first
        targets concerned) or has zero-variance targets.
    """
    y = np.asarray(responses, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"{name} has shape {y.shape}; expected (n_samples, n_targets)")
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(f"{name} has {y.shape[0]} samples but the features have {n_samples}; they must match")
    bad = np.flatnonzero(~np.isfinite(y).all(0))
    if bad.size:
        raise ValueError(f"{name} holds NaN or Inf in {bad.size} targets (first: {bad[:5].tolist()}); "
                         "drop or impute them first")
    flat = np.flatnonzero(y.std(0) == 0)
    if flat.size:
        raise ValueError(f"{name} has {flat.size} zero-variance targets (first: {flat[:5].tolist()}); "
                         "remove them (e.g. voxels outside the brain) before fitting")
    return y


def _check_repeats(repeats, name: str = "repeats") -> np.ndarray:
    """(n_repeats, n_stimuli, n_targets) float64 with NaN padding; every stimulus needs >= 2 repeats."""
    repeats = np.asarray(repeats, dtype=np.float64)
    if repeats.ndim != 3 or repeats.shape[0] < 2:
        raise ValueError(f"{name} has shape {repeats.shape}; expected (n_repeats >= 2, n_stimuli, n_targets), "
                         "NaN-padded where a stimulus has fewer repeats")
    if np.isinf(repeats).any():
        raise ValueError(f"{name} holds Inf; only NaN (padding for missing repeats) is allowed")
    counts = np.isfinite(repeats).sum(0)
    if counts.min() < 2:
        where = np.argwhere(counts < 2)[0]
        raise ValueError(f"{name}: stimulus {where[0]} of target {where[1]} has {counts.min()} repeat(s); "
                         "noise estimates need at least 2 per stimulus")
    return repeats


def trial_variance(repeats) -> tuple[np.ndarray, np.ndarray]:
    """Trial-to-trial (noise) variance of each target and the number of repeats of each stimulus.

    The noise variance is pooled over stimuli: the sum of squared deviations from each stimulus' own
    mean over the pooled degrees of freedom, ``sum_j sum_k (y_jk - ybar_j)^2 / sum_j (n_j - 1)``
    (with equal repeats, the mean over stimuli of the unbiased per-stimulus variances).

    Parameters
    ----------
    repeats : ndarray of shape (n_repeats, n_stimuli, n_targets)
        NaN-padded when stimuli have unequal numbers of repeats (at least 2 each).

    Returns
    -------
    sigma2 : ndarray of shape (n_targets,)
    n_repeats : ndarray of shape (n_stimuli, n_targets)
    """
    repeats = _check_repeats(repeats)
    n = np.isfinite(repeats).sum(0)
    dev = repeats - np.nanmean(repeats, 0, keepdims=True)
    sigma2 = np.nansum(dev ** 2, axis=(0, 1)) / (n - 1).sum(0)
    return sigma2, n


def split_half_reliability(repeats, n_splits: int = 50, seed: int = 0) -> np.ndarray:
    """Split-half reliability of each target's repeat-averaged response, Spearman-Brown corrected.

    For each of ``n_splits`` random splits, each stimulus' available repeats are shuffled and cut in
    two halves; the two half means are correlated over stimuli (Pearson, per target) and stepped up
    to the full number of repeats by Spearman-Brown, ``2 r / (1 + r)``. The mean over splits is
    returned. For a neuron with signal variance ``s2`` and noise variance ``v`` over ``n`` repeats
    it estimates ``s2 / (s2 + v / n)``, the squared correlation of the repeat mean with the
    expected response (the ceiling of any model's r^2).

    Parameters
    ----------
    repeats : ndarray of shape (n_repeats, n_stimuli, n_targets)
        NaN-padded for unequal repeats (at least 2 per stimulus).
    n_splits : int
        Random splits averaged.
    seed : int
        Seed of the splits.

    Returns
    -------
    ndarray of shape (n_targets,)
    """
    repeats = _check_repeats(repeats)
    rng = np.random.default_rng(seed)
    finite = np.isfinite(repeats)
    n = finite.sum(0)
    values = np.nan_to_num(repeats)
    out = np.zeros(repeats.shape[2])
    for _ in range(n_splits):
        # a random rank per repeat; the valid repeats get ranks 0..n_j-1, the first half is rank < n_j // 2
        keys = np.where(finite, rng.random(repeats.shape), np.inf)
        rank = keys.argsort(0).argsort(0)
        first = finite & (rank < (n // 2)[None])
        second = finite & ~first
        a = (values * first).sum(0) / first.sum(0)
        b = (values * second).sum(0) / second.sum(0)
        r = pearson_r(a, b)
        out += 2 * r / (1 + r)
    return out / n_splits


def r2_er(prediction, repeats) -> np.ndarray:
    """Noise-corrected R^2 of a model prediction, r^2_ER (Pospisil & Bair 2021), per target.

    Estimates the squared correlation between the prediction and the *expected* response (the mean
    over infinitely many repeats) from a finite, noisy number of repeats. With ``x`` the centred
    prediction, ``ybar`` the centred repeat mean of each stimulus, ``sigma2`` the pooled
    trial-to-trial variance and ``n_j`` the repeats of stimulus ``j``::

        r2_ER = [(x . ybar)^2 - sigma2 * sum_j x_j^2 / n_j]
                / [|x|^2 * (|ybar|^2 - sigma2 * (1 - 1/m) * sum_j 1/n_j)]

    which with equal repeats ``n`` is the paper's
    ``[(x.y)^2 - sigma2/n |x|^2] / [|x|^2 (|y|^2 - (m-1) sigma2/n)]``. Unbiased in numerator and
    denominator separately, so single neurons can give values below 0 or above 1 (not clipped).

    Parameters
    ----------
    prediction : ndarray of shape (n_stimuli, n_targets)
    repeats : ndarray of shape (n_repeats, n_stimuli, n_targets)
        NaN-padded where stimuli have fewer repeats (at least 2 each).

    Returns
    -------
    ndarray of shape (n_targets,)
        NaN for a target whose estimated signal variance is not positive.
    """
    sigma2, n = trial_variance(repeats)
    x = np.asarray(prediction, dtype=np.float64)
    if x.shape != n.shape:
        raise ValueError(f"prediction has shape {x.shape} but the repeats give (n_stimuli, n_targets) = {n.shape}")
    m = x.shape[0]
    x = x - x.mean(0)
    y = np.nanmean(repeats, 0)
    y = y - y.mean(0)
    xy2 = (x * y).sum(0) ** 2 - sigma2 * (x ** 2 / n).sum(0)
    y2 = (y ** 2).sum(0) - sigma2 * (1 - 1 / m) * (1 / n).sum(0)
    den = (x ** 2).sum(0) * y2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, xy2 / np.where(den > 0, den, 1), np.nan)
