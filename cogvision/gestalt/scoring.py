"""Scores from DiSRT trials: accuracy with bootstrap intervals, the graded index, one summary per model.

The single number per model (``score`` in :func:`summary`) is the accuracy at the **readout layer** (the
last model layer probed, as in Brain-Score's behavioural readout) averaged over the distortions and
strengths that are not **degenerate** (:func:`degenerate_cells`), without Top-K (``k = 1``); the graded
index (``index``) is averaged the same way. Trials of one image are averaged first; intervals resample
images. Per-layer means, the best layer, the pixel observer and the two nulls are reported beside it:

- :data:`NULL_STRUCTURE_BLIND` (0): an observer for which the image and its distortion are the same
  (a bag of local features under a shuffle or a patch rotation) always calls the nuisance the odd one;
  its graded index is 0 too;
- :data:`NULL_PIXEL` (1/2): the observer in the space the nuisance is matched in cannot tell the
  nuisance from the distortion; its graded index is 1/2.

:data:`CHANCE` (1/3) is a uniform random guesser, which no deterministic observer of this design is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from cogvision.stats import bootstrap_interval

CHANCE = 1 / 3  # a uniform random guesser
NULL_STRUCTURE_BLIND = 0.0  # accuracy (and graded index) of an observer blind to global structure
NULL_PIXEL = 0.5  # accuracy (and graded index) of the pixel observer on matched trials
MATCH_TOLERANCE = 0.05  # a nuisance within 5% of the distortion's pixel MSE counts as matched
MATCHED_SHARE = 0.95  # a cell with fewer matched trials than this is degenerate
LOCAL_STATISTICS_CHANGED = ("texform",)  # distortions that change local statistics: not tests of layout alone
PIXELS = "pixels"  # the layer name of the pixel-space observer (baseline row)


def add_summary(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
    """Add ``accuracy``, ``accuracy_low``/``accuracy_high`` (95% bootstrap over images of the per-image
    mean over trials), ``n_trials`` (images x trials), ``index_mean`` and ``index_low``/``index_high`` over
    (``layer``, ``distortion``, ``strength``, ``k``)."""
    dims = ("layer", "distortion", "strength", "k")
    summaries = {}
    for name, var in (("accuracy", "correct"), ("index", "index")):
        values = _per_image(ds[var]).transpose(*dims, "image").values
        low, high = bootstrap_interval(values, n_boot, seed)
        mean_name = "accuracy" if name == "accuracy" else "index_mean"
        summaries[mean_name] = (dims, values.mean(axis=-1))
        summaries[f"{name}_low"] = (dims, low)
        summaries[f"{name}_high"] = (dims, high)
    n = ds.sizes["image"] * ds.sizes.get("trial", 1)
    summaries["n_trials"] = (dims, np.full(summaries["accuracy"][1].shape, n, dtype=np.int32))
    return ds.assign(summaries)  # one merge for all (xarray aligns on every assignment)


def model_layers(ds: xr.Dataset) -> list[str]:
    """The probed model layers, in order (the pixel baseline excluded)."""
    return [str(layer) for layer in ds["layer"].values if layer != PIXELS]


def _per_image(values: xr.DataArray) -> xr.DataArray:
    """Mean over the ``trial`` dim when there is one (results of older runs have none)."""
    return values.mean("trial") if "trial" in values.dims else values


def cell_matching(ds: xr.Dataset, tolerance: float = MATCH_TOLERANCE) -> list[dict]:
    """Nuisance matching per (distortion, strength) cell.

    Returns
    -------
    list of dict
        ``distortion, strength, matched_fraction`` (share of image x trial pairs whose nuisance MSE is
        within ``tolerance`` of the distortion's), ``median_ratio`` and ``min_ratio`` (nuisance MSE /
        distortion MSE), ``median_mse_distortion``.
    """
    rows = []
    for d in ds["distortion"].values:
        for g in ds["strength"].values:
            target = ds["mse_distortion"].sel(distortion=d, strength=g).values.ravel()
            achieved = ds["mse_nuisance"].sel(distortion=d, strength=g).values.ravel()
            ratio = np.divide(achieved, target, out=np.ones_like(achieved), where=target > 0)
            rows.append({"distortion": str(d), "strength": int(g),
                         "matched_fraction": float(np.mean(np.abs(ratio - 1) <= tolerance)),
                         "median_ratio": float(np.median(ratio)), "min_ratio": float(ratio.min()),
                         "median_mse_distortion": float(np.median(target))})
    return rows


def nuisance_matched_fraction(ds: xr.Dataset, tolerance: float = MATCH_TOLERANCE) -> float:
    """Share of image x distortion x strength x trial cells whose nuisance reached the target within
    ``tolerance``."""
    target, achieved = ds["mse_distortion"].values, ds["mse_nuisance"].values
    return float(np.mean(np.abs(achieved - target) <= tolerance * target))


def degenerate_cells(ds: xr.Dataset) -> list[dict]:
    """(distortion, strength) cells left out of the summary, each with its reason.

    A cell is degenerate when (a) fewer than :data:`MATCHED_SHARE` of its trials have a matched
    nuisance (the pixel observer is then not at 1/2 and the comparison is unfair), (b) its distortion
    changes local statistics (:data:`LOCAL_STATISTICS_CHANGED`: any local-feature observer detects it,
    so it is no test of global structure), or (c) the distortion leaves most images unchanged (median
    pixel MSE 0).
    """
    out = []
    for row in cell_matching(ds):
        reasons = []
        if not ds.attrs.get("matched", True):
            pass  # an unmatched protocol is reported as such, not cell by cell
        elif row["matched_fraction"] < MATCHED_SHARE:
            reasons.append(f"nuisance matched on {row['matched_fraction']:.0%} of trials (< {MATCHED_SHARE:.0%})")
        if row["distortion"] in LOCAL_STATISTICS_CHANGED:
            reasons.append("changes local statistics (not a test of global structure alone)")
        if row["median_mse_distortion"] == 0:
            reasons.append("the distortion leaves most images unchanged")
        if reasons:
            out.append({"distortion": row["distortion"], "strength": row["strength"], "reason": "; ".join(reasons)})
    return out


def _included(ds: xr.Dataset, excluded: list[dict]) -> xr.DataArray:
    """Boolean (distortion, strength) mask of the cells kept in the summary."""
    mask = xr.DataArray(np.ones((ds.sizes["distortion"], ds.sizes["strength"]), dtype=bool),
                        coords={"distortion": ds["distortion"], "strength": ds["strength"]},
                        dims=("distortion", "strength"))
    for cell in excluded:
        mask.loc[dict(distortion=cell["distortion"], strength=cell["strength"])] = False
    return mask


def summary(ds: xr.Dataset) -> dict:
    """One summary per model (see the module docstring) as a JSON-ready dict.

    Keys: ``score``, ``score_low``/``score_high`` (bootstrap over images of the readout accuracy over the
    included cells), ``index``, ``index_low``/``index_high`` (the graded index likewise),
    ``score_all_cells`` (the readout accuracy over every cell, degenerate ones included),
    ``readout_layer``, ``best_layer``, ``best_layer_score``, ``pixel_score``, ``pixel_index``,
    ``per_layer`` and ``per_layer_index`` (over the included cells), ``included_cells``,
    ``excluded_cells`` (with reasons), ``nuisance_matched_fraction``, ``matching`` (per cell,
    :func:`cell_matching`), ``null_structure_blind``, ``null_pixel``, ``chance``, ``topk`` (readout
    score and mean over layers for each k, with the change from dense), ``human``, ``n_images``,
    ``trials_per_image``.
    """
    layers = model_layers(ds)
    n_boot, seed = int(ds.attrs.get("n_boot", 1000)), int(ds.attrs.get("seed", 0))
    excluded = degenerate_cells(ds)
    mask = _included(ds, excluded)
    cells_left = bool(mask.any())
    kept = mask if cells_left else ~mask  # nothing left: fall back to every cell (and say so)
    correct, index = _per_image(ds["correct"]), _per_image(ds["index"])
    dense_c, dense_i = correct.sel(k=1.0), index.sel(k=1.0)
    per_image = dense_c.where(kept).mean(("distortion", "strength"))  # (layer, image)
    per_image_index = dense_i.where(kept).mean(("distortion", "strength"))
    per_layer, per_layer_index = per_image.mean("image"), per_image_index.mean("image")
    readout = layers[-1]
    low, high = bootstrap_interval(per_image.sel(layer=readout).values, n_boot, seed)
    i_low, i_high = bootstrap_interval(per_image_index.sel(layer=readout).values, n_boot, seed)
    best = max(layers, key=lambda layer: float(per_layer.sel(layer=layer)))
    by_k = correct.where(kept).mean(("distortion", "strength", "image"))  # (layer, k)
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
    has_pixels = PIXELS in ds["layer"].values
    included = [f"{d} {int(g)}x{int(g)}" for d in ds["distortion"].values for g in ds["strength"].values
                if bool(kept.sel(distortion=d, strength=g))]
    return {
        "model": str(ds.attrs.get("model", "")),
        "score": dense_readout,
        "score_low": float(low),
        "score_high": float(high),
        "index": float(per_layer_index.sel(layer=readout)),
        "index_low": float(i_low),
        "index_high": float(i_high),
        "score_all_cells": float(dense_c.sel(layer=readout).mean()),
        "readout_layer": readout,
        "best_layer": best,
        "best_layer_score": float(per_layer.sel(layer=best)),
        "pixel_score": float(per_layer.sel(layer=PIXELS)) if has_pixels else None,
        "pixel_index": float(per_layer_index.sel(layer=PIXELS)) if has_pixels else None,
        "per_layer": {layer: float(per_layer.sel(layer=layer)) for layer in [PIXELS, *layers]
                      if layer in ds["layer"].values},
        "per_layer_index": {layer: float(per_layer_index.sel(layer=layer)) for layer in [PIXELS, *layers]
                            if layer in ds["layer"].values},
        "included_cells": included,
        "excluded_cells": excluded,
        "all_cells_degenerate": not cells_left,
        "nuisance_matched_fraction": nuisance_matched_fraction(ds),
        "match_tolerance": MATCH_TOLERANCE,
        "matching": cell_matching(ds),
        "null_structure_blind": NULL_STRUCTURE_BLIND,
        "null_pixel": NULL_PIXEL,
        "chance": CHANCE,
        "topk": topk,
        "human": None if human is None or (isinstance(human, float) and np.isnan(human)) else float(human),
        "n_images": int(ds.sizes["image"]),
        "trials_per_image": int(ds.sizes.get("trial", 1)),
    }


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy table, one row per (layer, distortion, strength, k).

    Columns: ``layer, distortion, strength, k, accuracy, accuracy_low, accuracy_high, n_trials,
    index_mean, index_low, index_high, chance, null_structure_blind, null_pixel, degenerate``.
    """
    cols = ["accuracy", "accuracy_low", "accuracy_high", "n_trials", "index_mean", "index_low", "index_high"]
    frame = ds[cols].to_dataframe().reset_index()
    frame["chance"] = CHANCE
    frame["null_structure_blind"], frame["null_pixel"] = NULL_STRUCTURE_BLIND, NULL_PIXEL
    bad = {(c["distortion"], c["strength"]) for c in degenerate_cells(ds)}
    frame["degenerate"] = [(str(d), int(g)) in bad for d, g in zip(frame["distortion"], frame["strength"])]
    return frame[["layer", "distortion", "strength", "k", *cols, "chance", "null_structure_blind", "null_pixel",
                  "degenerate"]]


def trials_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Per-trial table: ``layer, distortion, strength, k, image, trial, choice, correct, index, s_in, s_id, s_nd``
    (choice: 0 image, 1 nuisance, 2 distortion)."""
    cols = ["choice", "correct", "index", "s_in", "s_id", "s_nd"]
    keys = ["layer", "distortion", "strength", "k", "image", *(["trial"] if "trial" in ds.dims else [])]
    return ds[cols].to_dataframe().reset_index()[[*keys, *cols]]
