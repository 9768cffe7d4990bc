"""Several feature spaces in one cross-validated fit: banded ridge per outer fold, per-band scores, partitions.

The scientific steps of ``fit-encoder`` with a list of ``features`` (the job, which reads the config and
writes the folder, is :mod:`cogvision.jobs.brain_banded`). Per outer fold :func:`fit_banded_fold` fits the
joint model and the reduced models of :func:`~cogvision.brain.partition.model_subsets` (each band alone; all
but one band when there are three or more) and returns their held-out predictions; :func:`banded_scores` turns
the out-of-fold predictions of every fold into the ``scores.csv`` table (per target: ``r, r2`` of the joint
model, ``r2_<band>`` of each band alone, ``unique_<band>``, ``shared``, with three bands ``shared_<b>&<c>``
(exactly those two bands) and ``shared_higher`` (all three), ``weight_<band>`` (mean band weight over folds)
and ``best_alpha`` (geometric mean)), the per-ROI means and the
:func:`~cogvision.brain.partition.partition_r2` dataset.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cogvision.brain.metrics import pearson_r, r2_per_target
from cogvision.brain.partition import model_subsets, partition_r2, subset_predictions

#: Settings of a banded ``encoder`` section passed to :class:`~cogvision.brain.banded.BandedRidgeCV`.
ENCODER_KEYS = ("alphas", "n_iter", "concentration", "scoring", "solver", "n_targets_batch", "dtype", "refine",
                "refine_lr")


def band_columns(widths: Sequence[int]) -> list[np.ndarray]:
    """Column indices of consecutive bands of the given widths in the stacked feature matrix."""
    edges = np.cumsum([0, *widths])
    return [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]


def fold_key(name: str) -> str:
    """The name a model subset (``single/0``) has in a saved fold file (``single__0``)."""
    return name.replace("/", "__")


def fit_banded_fold(x: np.ndarray, y: np.ndarray, bands: list[np.ndarray], train: np.ndarray, test: np.ndarray,
                    groups: np.ndarray | None, **params) -> dict[str, np.ndarray]:
    """Held-out predictions of the joint and reduced banded models of one outer fold.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features)
        Stacked bands.
    y : ndarray of shape (n_samples, n_targets)
    bands : list of ndarray
        Column indices of each band.
    train, test : ndarray of int
    groups : ndarray of shape (n_samples,) or None
        For the inner CV.
    **params
        :class:`~cogvision.brain.banded.BandedRidgeCV` parameters.

    Returns
    -------
    dict of str to ndarray
        One (n_test, n_targets) prediction per model (keys from :func:`fold_key`), the joint model's
        ``weights`` (n_bands, n_targets) and ``alphas`` (n_targets,).
    """
    result = {}
    for name, subset in model_subsets(len(bands)).items():
        model, result[fold_key(name)] = subset_predictions(x, y, [bands[b] for b in subset], train, test, groups,
                                                           **params)
        if name == "joint":
            result.update(weights=model.band_weights_, alphas=model.best_alphas_)
    return result


def banded_scores(y: np.ndarray, folds: list[dict], names: list[str], targets: pd.DataFrame,
                  correction: str = "clip") -> tuple[pd.DataFrame, pd.DataFrame, xr.Dataset, np.ndarray]:
    """Per-target and per-ROI scores and variance partition from every fold of :func:`fit_banded_fold`.

    Parameters
    ----------
    y : ndarray of shape (n_samples, n_targets)
    folds : list of dict
        Each fold's result with its ``test`` indices added.
    names : list of str
        Band names.
    targets : pandas.DataFrame
        One row per target (``target``, ``roi``, ...); the scores are added as columns.
    correction : {"clip", "none"}
        Of the partition (:func:`~cogvision.brain.partition.partition_r2`).

    Returns
    -------
    scores : pandas.DataFrame
    rois : pandas.DataFrame
        Per ROI: ``n_targets`` and the mean of ``r2``, each ``unique_<band>``, ``shared`` and the pair terms.
    partition : xarray.Dataset
    predictions : ndarray of shape (n_samples, n_targets)
        The joint model's out-of-fold predictions.
    """
    subsets = model_subsets(len(names))
    pred = {name: np.full(y.shape, np.nan) for name in subsets}
    for fold in folds:
        for name in subsets:
            pred[name][fold["test"]] = fold[fold_key(name)]
    tested = ~np.isnan(pred["joint"]).any(1)
    r2 = {name: r2_per_target(y[tested], p[tested]) for name, p in pred.items()}
    part = partition_r2(r2, names, correction)
    scores = targets.copy()
    scores["r"] = pearson_r(y[tested], pred["joint"][tested])
    scores["r2"] = r2["joint"]
    for b, name in enumerate(names):
        scores[f"r2_{name}"] = r2[f"single/{b}"]
        scores[f"unique_{name}"] = part["unique"].values[b]
    scores["shared"] = part["shared"].values
    pair_parts = []
    if "pair_shared" in part:  # three bands: variance explained by exactly two bands, and by all three
        for i, pair in enumerate(part["pair"].values):
            scores[f"shared_{pair}"] = part["pair_shared"].values[i]
            pair_parts.append(f"shared_{pair}")
        scores["shared_higher"] = part["shared_higher"].values
        pair_parts.append("shared_higher")
    mean_weights = np.mean([fold["weights"] for fold in folds], 0)
    for b, name in enumerate(names):
        scores[f"weight_{name}"] = mean_weights[b]
    scores["best_alpha"] = np.exp(np.mean([np.log(fold["alphas"]) for fold in folds], 0))
    parts = ["r2"] + [f"unique_{n}" for n in names] + ["shared"] + pair_parts
    rois = scores.groupby("roi")[parts].mean().reset_index()
    rois.insert(1, "n_targets", scores.groupby("roi").size().values)
    return scores, rois, part, pred["joint"]
