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
        raise ValueError(f"r has shape {r.shape} but noise_ceiling has shape {nc.shape}; expected one ceiling per target")
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
        raise ValueError(f"rois has shape {rois.shape} but scores has shape {scores.shape}; expected one label per target")
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
