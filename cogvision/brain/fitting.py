"""Cross-validated encoding fits on arrays: the encoder registry, outer splits, one fold's fit and its scores.

These are the scientific steps of ``cogvision fit-encoder`` (the job that reads a config, loads a data set and
writes an output folder is :mod:`cogvision.jobs.fit_encoder`). Every function takes arrays and settings, never a
data set name or a file.

Per-target alphas make every target's ridge result independent of the others, so fitting blocks of targets
apart (e.g. on dask workers, see :func:`ridge_block`) gives the result of one fit on all targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold

from cogvision.brain.banded import BandedRidgeCV
from cogvision.brain.factorized import FactorizedEncoder
from cogvision.brain.features import as_grid, as_matrix
from cogvision.brain.metrics import pearson_r, r2_per_target, roi_summary
from cogvision.brain.ridge import RidgeCV, make_splits
from cogvision.brain.transformer import TransformerBrainEncoder

#: Encoder name -> estimator class (the ``type`` of an ``encoder`` config section).
ENCODERS: dict[str, type] = {"ridge": RidgeCV, "factorized": FactorizedEncoder,
                             "transformer": TransformerBrainEncoder, "banded": BandedRidgeCV}
#: Outer cross-validation schemes.
SCHEMES = ("kfold", "logo", "split")
#: Settings of an ``encoder`` section that are not estimator parameters.
RIDGE_JOB_KEYS = ("type", "name", "inner_cv", "n_blocks")


@dataclass
class FitData:
    """Everything a fit needs, in memory.

    Attributes
    ----------
    features : ndarray
        (n_samples, n_features) or (n_samples, C, H, W).
    responses : ndarray of shape (n_samples, n_targets)
    targets : pandas.DataFrame
        One row per target: ``target``, ``roi`` and optional ``hemisphere`` / ``stream``.
    groups : ndarray of shape (n_samples,) or None
    masker : nilearn masker or None
        Set for volume responses, to write maps back as NIfTI.
    """

    features: np.ndarray
    responses: np.ndarray
    targets: pd.DataFrame
    groups: np.ndarray | None = None
    masker: Any = None


def outer_splits(n_samples: int, groups: np.ndarray | None, *, scheme: str = "kfold", n_splits: int = 5,
                 test_fraction: float = 0.1, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer train/test splits of ``n_samples`` samples.

    Parameters
    ----------
    n_samples : int
    groups : ndarray of shape (n_samples,) or None
        Run or session of each sample; ``kfold`` keeps groups together when given.
    scheme : {"kfold", "logo", "split"}
        ``kfold``: ``n_splits`` folds, shuffled with ``seed`` (``GroupKFold`` with groups); ``logo``: leave one
        group out; ``split``: one random split holding out ``test_fraction`` of the samples.
    n_splits, test_fraction, seed
        See ``scheme``.

    Returns
    -------
    list of (train, test) index arrays
    """
    if scheme not in SCHEMES:
        raise ValueError(f"cv.scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "logo":
        if groups is None:
            raise ValueError("cv.scheme 'logo' needs groups (config 'groups', or a dataset that has runs)")
        return make_splits(n_samples, "logo", groups)
    if scheme == "kfold":
        splitter = GroupKFold(n_splits) if groups is not None else KFold(n_splits, shuffle=True, random_state=seed)
        return make_splits(n_samples, splitter, groups)
    if not 0 < test_fraction < 1:
        raise ValueError(f"cv.test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_test = max(1, int(round(test_fraction * n_samples)))
    return [(np.sort(order[n_test:]), np.sort(order[:n_test]))]


def ridge_block(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, groups: np.ndarray | None,
                params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fit RidgeCV on ``train`` for a block of targets; held-out predictions and chosen alphas."""
    model = RidgeCV(**params).fit(x[train], y[train], groups=None if groups is None else groups[train])
    return model.predict(x[test]).reshape(len(test), -1), model.best_alphas_


def ridge_params(encoder: dict, device: str) -> dict:
    """RidgeCV parameters of a ridge ``encoder`` section (``inner_cv`` becomes ``cv``, default 5)."""
    params = {k: v for k, v in encoder.items() if k not in RIDGE_JOB_KEYS}
    params["cv"] = encoder.get("inner_cv", 5)
    params.setdefault("device", device)
    return params


def _fit_ridge(data: FitData, encoder: dict, train, test, client, device: str) -> dict:
    x = as_matrix(data.features)
    params = ridge_params(encoder, device)
    n_blocks = int(encoder.get("n_blocks") or (len(client.scheduler_info()["workers"]) if client else 1))
    blocks = [b for b in np.array_split(np.arange(data.responses.shape[1]), max(1, n_blocks)) if len(b)]
    if client is not None:
        x_future = client.scatter(x, broadcast=True, hash=False)
        futures = [client.submit(ridge_block, x_future, data.responses[:, b], train, test, data.groups, params,
                                 pure=False) for b in blocks]
        parts = client.gather(futures)
    else:
        parts = [ridge_block(x, data.responses[:, b], train, test, data.groups, params) for b in blocks]
    return {"pred": np.concatenate([p for p, _ in parts], 1), "alphas": np.concatenate([a for _, a in parts])}


def fit_fold(data: FitData, encoder: dict, train: np.ndarray, test: np.ndarray, *,
             checkpoint_dir: str | Path | None = None, client: Any = None, device: str = "auto",
             seed: int = 0) -> dict[str, np.ndarray]:
    """Fit one encoder on the ``train`` samples and predict the ``test`` samples.

    Parameters
    ----------
    data : FitData
    encoder : dict
        ``type`` (a key of :data:`ENCODERS` but ``banded``) and the estimator's settings; ridge also takes
        ``inner_cv`` (its CV, default 5) and ``n_blocks`` (blocks of targets fitted apart).
    train, test : ndarray of int
    checkpoint_dir : path, optional
        Where a neural encoder checkpoints every epoch (the fit resumes from it).
    client : distributed.Client, optional
        Ridge sends blocks of targets to its workers.
    device : str
    seed : int
        Seed of a neural encoder unless ``encoder`` gives one.

    Returns
    -------
    dict of str to ndarray
        ``pred`` (n_test, n_targets); ridge: ``alphas``; factorized: ``receptive_fields``; transformer:
        ``routing`` (n_test, n_queries, h, w) and ``query_names``.
    """
    kind = encoder["type"]
    if kind == "ridge":
        return _fit_ridge(data, encoder, train, test, client, device)
    if kind not in ("factorized", "transformer"):
        raise ValueError(f"encoder type must be ridge, factorized or transformer for a fold fit, got {kind!r}")
    settings = {k: v for k, v in encoder.items() if k not in ("type", "name")}
    settings.setdefault("device", device)
    settings.setdefault("seed", seed)
    x = as_grid(data.features)
    if kind == "factorized":
        model = FactorizedEncoder(checkpoint_dir=checkpoint_dir, **settings).fit(x[train], data.responses[train])
        return {"pred": model.predict(x[test]), "receptive_fields": model.receptive_fields_.values}
    info = data.targets.drop(columns=["target"])
    model = TransformerBrainEncoder(checkpoint_dir=checkpoint_dir, **settings).fit(x[train], data.responses[train],
                                                                                  target_info=info)
    routing = model.routing_maps(x[test])
    return {"pred": model.predict(x[test]), "routing": routing.values, "query_names": np.array(model.query_names_)}


def score_folds(data: FitData, results: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Per-target scores of the out-of-fold predictions of ``results`` (each with ``test`` and ``pred``).

    Returns
    -------
    scores : pandas.DataFrame
        ``data.targets`` with ``r``, ``r2`` (of the pooled held-out predictions), ``r_fold_mean`` and, for ridge,
        ``best_alpha`` (geometric mean over folds).
    rois : pandas.DataFrame
        :func:`~cogvision.brain.metrics.roi_summary` of ``r``.
    predictions : ndarray of shape (n_samples, n_targets)
        NaN where a sample was never tested.
    """
    y = data.responses
    pred = np.full(y.shape, np.nan)
    for result in results:
        pred[result["test"]] = result["pred"]
    tested = ~np.isnan(pred).any(1)
    r = pearson_r(y[tested], pred[tested])
    scores = data.targets.copy()
    scores["r"] = r
    scores["r2"] = r2_per_target(y[tested], pred[tested])
    scores["r_fold_mean"] = np.mean([pearson_r(y[res["test"]], res["pred"]) for res in results], 0)
    if "alphas" in results[0]:
        scores["best_alpha"] = np.exp(np.mean([np.log(res["alphas"]) for res in results], 0))
    return scores, roi_summary(r, scores["roi"].to_numpy(), metric="r"), pred


def fit_summary(scores: pd.DataFrame, encoder: str, scheme: str, n_folds: int, n_samples: int) -> dict:
    """The numbers of ``summary.json``: sizes and mean/median/90th percentile/max of ``r``, mean ``r2``."""
    r = scores["r"].to_numpy()
    return {"encoder": encoder, "cv": scheme, "n_folds": n_folds, "n_samples": int(n_samples),
            "n_targets": int(len(r)), "mean_r": float(np.mean(r)), "median_r": float(np.median(r)),
            "p90_r": float(np.percentile(r, 90)), "max_r": float(np.max(r)), "mean_r2": float(np.mean(scores["r2"]))}
