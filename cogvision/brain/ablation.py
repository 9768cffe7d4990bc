"""The transformer encoder's claim on the synthetic brain, ablated.

On the synthetic brain (``data_loaders.synthetic_brain``) the transformer encoder beats ridge on the
category voxels. Those voxels are built by content-gated pooling (the transformer's own mechanism) and
the encoder is given their true ROIs as queries, so the win could be true by construction.
:func:`ablate_brain` refits, on the same train/test split of a seed (the job over seeds and both
brains is :func:`cogvision.jobs.brain_ablation.ablation_study`):

- ``ridge`` (all grid positions x channels, RidgeCV) and ``factorized`` (Gaussian "where x what");
- ``transformer``: one query per ROI (the design of ``docs/brain.md``);
- ``single``: one shared query for every voxel;
- ``hemisphere``: one query per hemisphere (retinotopic voxels contralateral to their RF, category
  voxels split evenly);
- ``shuffled_roi``: one query per ROI, but the ROI labels permuted over voxels;
- ``roi+hemisphere``: the reference's multi-membership readout, a query per ROI and one per hemisphere,
  each voxel reading the sum of its two queries' outputs;

on a brain whose category voxels pool content-gated (``pooling="content"``) and, as the control, on the
same brain with fixed-location pooling (``pooling="fixed"``; same stimuli, weights and noise). Every seed
draws a new brain (stimuli, network, receptive fields, weights, noise) and split.
:func:`summarize` gives means over seeds with t intervals and paired differences.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from cogvision.brain.factorized import FactorizedEncoder
from cogvision.brain.metrics import pearson_r
from cogvision.brain.ridge import RidgeCV
from cogvision.brain.transformer import TransformerBrainEncoder
from cogvision.reporting import get_logger

log = get_logger(__name__)

TRANSFORMER_VARIANTS = {"transformer": "roi", "single": "single", "hemisphere": "hemisphere",
                        "shuffled_roi": "roi", "roi+hemisphere": "roi+hemisphere"}
ENCODERS = ("ridge", "factorized", *TRANSFORMER_VARIANTS)
DEFAULT_PLAN = {"content": ENCODERS, "fixed": ("ridge", "factorized", "transformer")}


def target_table(ds, encoder: str, seed: int) -> pd.DataFrame:
    """Per-voxel ``roi`` and ``hemisphere`` labels the transformer variant ``encoder`` is given.

    ``shuffled_roi`` permutes the ROI labels over voxels (seeded by ``seed``), keeping every ROI's size.
    """
    info = pd.DataFrame({"roi": ds["roi"].values.astype(str), "hemisphere": ds["hemisphere"].values.astype(str)})
    if encoder == "shuffled_roi":
        info["roi"] = np.random.default_rng(seed + 1000).permutation(info["roi"].to_numpy())
    return info


def fit_predict(encoder: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, info: pd.DataFrame,
                *, seed: int, alphas: Sequence[float], factorized: dict, transformer: dict,
                device: str = "cpu") -> np.ndarray:
    """Fit one encoder of :data:`ENCODERS` on (n, C, H, W) features and predict the test stimuli."""
    if encoder == "ridge":
        model = RidgeCV(alphas=alphas, cv=5, device=device, dtype="float32")
        model.fit(x_train.reshape(len(x_train), -1), y_train)
        return model.predict(x_test.reshape(len(x_test), -1))
    if encoder == "factorized":
        return FactorizedEncoder(device=device, seed=seed, **factorized).fit(x_train, y_train).predict(x_test)
    if encoder not in TRANSFORMER_VARIANTS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    model = TransformerBrainEncoder(queries=TRANSFORMER_VARIANTS[encoder], device=device, seed=seed, **transformer)
    return model.fit(x_train, y_train, target_info=info).predict(x_test)


def ablate_brain(ds: xr.Dataset, encoders: Sequence[str], *, seed: int, train_fraction: float = 0.8,
                 alphas: Sequence[float] = tuple(np.logspace(0, 6, 7)), factorized: dict | None = None,
                 transformer: dict | None = None, device: str = "cpu") -> pd.DataFrame:
    """Held-out mean r of each encoder on one synthetic brain, per voxel kind, on one seeded split.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`data_loaders.synthetic_brain.make_synthetic_brain` (``features``, ``responses``, ``kind``,
        ``roi``, ``hemisphere``; ``attrs["noise_ceiling"]``).
    encoders : sequence of str
        Of :data:`ENCODERS`.
    seed : int
        Seed of the split, the encoders and the ROI shuffle.
    train_fraction : float
        Share of stimuli fitted; the rest is scored. The split is the same for every encoder.
    alphas : sequence of float
        Ridge penalties.
    factorized, transformer : dict, optional
        Settings of :class:`FactorizedEncoder` and :class:`TransformerBrainEncoder` (all variants).
    device : str
        Where the encoders fit.

    Returns
    -------
    pandas.DataFrame
        ``encoder, kind, mean_r, ceiling, seconds``; one line per fit is logged.
    """
    unknown = sorted(set(encoders) - set(ENCODERS))
    if unknown:
        raise ValueError(f"unknown encoder(s) {unknown}; choose from {ENCODERS}")
    x, y = ds["features"].values, ds["responses"].values
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(train_fraction * len(x)))
    train, test = np.sort(order[:n_train]), np.sort(order[n_train:])
    kind = ds["kind"].values
    ceiling = float(np.sqrt(ds.attrs["noise_ceiling"]))
    rows = []
    for encoder in encoders:
        start = time.perf_counter()
        pred = fit_predict(encoder, x[train], y[train], x[test], target_table(ds, encoder, seed), seed=seed,
                           alphas=alphas, factorized=factorized or {}, transformer=transformer or {}, device=device)
        r = pearson_r(y[test], pred)
        seconds = time.perf_counter() - start
        for k in ("retinotopic", "category"):
            rows.append({"encoder": encoder, "kind": k, "mean_r": float(r[kind == k].mean()), "ceiling": ceiling,
                         "seconds": seconds})
        log.info("seed %d %-15s retinotopic %.3f category %.3f (%.0f s)", seed, encoder, rows[-2]["mean_r"],
                 rows[-1]["mean_r"], seconds)
    return pd.DataFrame(rows)


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of ``values`` (NaN bounds for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def summarize(table: pd.DataFrame, baselines: Sequence[str] = ("ridge", "transformer"),
              level: float = 0.95) -> pd.DataFrame:
    """Mean r over seeds with t intervals, and paired (same seed and split) differences from baselines.

    Parameters
    ----------
    table
        From :func:`cogvision.jobs.brain_ablation.ablation_study`.
    baselines
        Encoders subtracted seed by seed: column ``minus_<baseline>`` with ``_low`` / ``_high``.
    level
        Interval coverage.

    Returns
    -------
    pandas.DataFrame
        One row per ``pooling, encoder, kind``: ``n_seeds, mean_r, low, high`` and the differences.
    """
    rows = []
    for (pooling, encoder, kind), group in table.groupby(["pooling", "encoder", "kind"], sort=False):
        mean, low, high = t_interval(group["mean_r"], level)
        row = {"pooling": pooling, "encoder": encoder, "kind": kind, "n_seeds": len(group),
               "mean_r": mean, "low": low, "high": high}
        mine = group.set_index("seed")["mean_r"]
        for base in baselines:
            ref = table[(table.pooling == pooling) & (table.encoder == base) & (table.kind == kind)]
            ref = ref.set_index("seed")["mean_r"].reindex(mine.index)
            if base == encoder or ref.isna().any():
                diff = (np.nan, np.nan, np.nan)
            else:
                diff = t_interval(mine - ref, level)
            row.update({f"minus_{base}": diff[0], f"minus_{base}_low": diff[1], f"minus_{base}_high": diff[2]})
        rows.append(row)
    return pd.DataFrame(rows)
