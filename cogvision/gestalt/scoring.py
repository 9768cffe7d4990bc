"""Scores from DiSRT trials: accuracy with bootstrap intervals, the graded index, one summary per model.

The single number per model (``score`` in :func:`summary`) is the accuracy at the **readout layer** (the
last model layer probed, as in Brain-Score's behavioural readout) averaged over every distortion and
strength, without Top-K (``k = 1``). Per-layer means, the best layer and the pixel-space baseline are
reported beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

CHANCE = 1 / 3
PIXELS = "pixels"  # the layer name of the pixel-space observer (baseline row)


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


def add_summary(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
    """Add ``accuracy``, ``accuracy_low``/``accuracy_high`` (95% bootstrap over images), ``n_trials``,
    ``index_mean`` and ``index_low``/``index_high`` over (``layer``, ``distortion``, ``strength``, ``k``)."""
    dims = ("layer", "distortion", "strength", "k")
    summaries = {}
    for name, var in (("accuracy", "correct"), ("index", "index")):
        values = ds[var].transpose(*dims, "image").values
        low, high = bootstrap_interval(values, n_boot, seed)
        mean_name = "accuracy" if name == "accuracy" else "index_mean"
        summaries[mean_name] = (dims, values.mean(axis=-1))
        summaries[f"{name}_low"] = (dims, low)
        summaries[f"{name}_high"] = (dims, high)
    summaries["n_trials"] = (dims, np.full(summaries["accuracy"][1].shape, ds.sizes["image"], dtype=np.int32))
    return ds.assign(summaries)  # one merge for all (xarray aligns on every assignment)


def model_layers(ds: xr.Dataset) -> list[str]:
    """The probed model layers, in order (the pixel baseline excluded)."""
    return [str(layer) for layer in ds["layer"].values if layer != PIXELS]


def summary(ds: xr.Dataset) -> dict:
    """One summary per model (see the module docstring) as a JSON-ready dict.

    Keys: ``score``, ``score_low``/``score_high`` (bootstrap over images of the readout score),
    ``index`` (graded index at the readout layer), ``readout_layer``, ``best_layer``,
    ``best_layer_score``, ``pixel_score``, ``pixel_index``, ``per_layer`` (mean accuracy per layer),
    ``topk`` (readout score and mean over layers for each k, with the change from dense), ``chance``,
    ``human``, ``n_images``.
    """
    layers = model_layers(ds)
    dense = ds.sel(k=1.0)
    per_image = dense["correct"].mean(("distortion", "strength"))  # (layer, image)
    per_layer = per_image.mean("image")
    readout = layers[-1]
    low, high = bootstrap_interval(per_image.sel(layer=readout).values, n_boot=int(ds.attrs.get("n_boot", 1000)),
                                   seed=int(ds.attrs.get("seed", 0)))
    best = max(layers, key=lambda layer: float(per_layer.sel(layer=layer)))
    by_k = ds["correct"].mean(("distortion", "strength", "image"))  # (layer, k)
    dense_readout, dense_mean = float(by_k.sel(layer=readout, k=1.0)), float(by_k.sel(layer=layers).sel(k=1.0).mean())
    topk = {}
    for k in ds["k"].values:
        if k == 1.0:
            continue
        at_k = by_k.sel(k=k)
        topk[f"{float(k):g}"] = {
            "readout_score": float(at_k.sel(layer=readout)),
            "mean_over_layers": float(at_k.sel(layer=layers).mean()),
            "readout_change": float(at_k.sel(layer=readout)) - dense_readout,
            "mean_change": float(at_k.sel(layer=layers).mean()) - dense_mean,
        }
    human = ds.attrs.get("human")
    return {
        "model": str(ds.attrs.get("model", "")),
        "score": dense_readout,
        "score_low": float(low),
        "score_high": float(high),
        "index": float(dense["index"].sel(layer=readout).mean()),
        "readout_layer": readout,
        "best_layer": best,
        "best_layer_score": float(per_layer.sel(layer=best)),
        "pixel_score": float(per_layer.sel(layer=PIXELS)) if PIXELS in ds["layer"].values else None,
        "pixel_index": float(dense["index"].sel(layer=PIXELS).mean()) if PIXELS in ds["layer"].values else None,
        "per_layer": {layer: float(per_layer.sel(layer=layer)) for layer in [PIXELS, *layers]
                      if layer in ds["layer"].values},
        "topk": topk,
        "chance": CHANCE,
        "human": None if human is None or (isinstance(human, float) and np.isnan(human)) else float(human),
        "n_images": int(ds.sizes["image"]),
    }


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy table, one row per (layer, distortion, strength, k).

    Columns: ``layer, distortion, strength, k, accuracy, accuracy_low, accuracy_high, n_trials,
    index_mean, index_low, index_high, chance``.
    """
    cols = ["accuracy", "accuracy_low", "accuracy_high", "n_trials", "index_mean", "index_low", "index_high"]
    frame = ds[cols].to_dataframe().reset_index()
    frame["chance"] = CHANCE
    return frame[["layer", "distortion", "strength", "k", *cols, "chance"]]


def trials_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Per-trial table: ``layer, distortion, strength, k, image, choice, correct, index, s_in, s_id, s_nd``
    (choice: 0 image, 1 nuisance, 2 distortion)."""
    cols = ["choice", "correct", "index", "s_in", "s_id", "s_nd"]
    return ds[cols].to_dataframe().reset_index()[["layer", "distortion", "strength", "k", "image", *cols]]
