"""``fit-encoder`` with several feature spaces: one banded ridge model, per-band scores and partition tables.

A config whose ``features`` is a list fits :class:`~cogvision.brain.banded.BandedRidgeCV` (one band per block)
with the outer cross-validation of the config::

    stimuli: {images: DIR_OR_GLOB, size: 224}
    features:                                  # each block as a single `features` block; `model` and
      - {model: SPEC, layer: NAME_A}           # `weights` carry over from the block before; or {file: X.npy}
      - {layer: NAME_B, name: late}            # name: the band's name (default: the layer or file stem)
    responses: {npy: Y.npy, roi_labels: rois.txt}
    encoder: {type: banded, alphas: [1, 10, 100], n_iter: 20, inner_cv: 5}   # type ridge works too
    cv: {scheme: kfold, n_splits: 5}

Each fold's predictions of the joint and reduced models are saved (``folds/fold_K.npz``, so an interrupted
fit resumes). Outputs: ``scores.csv`` and ``partition_rois.csv`` (columns in
:mod:`cogvision.brain.banded_fit`; also as Parquet), ``partition.nc`` (the
:func:`~cogvision.brain.partition.partition_r2` dataset), ``predictions.npy`` (joint model),
``figures/partition.png`` and ``summary.json`` (written last).
"""

from __future__ import annotations

import numpy as np

from cogvision.brain.banded_fit import ENCODER_KEYS, band_columns, banded_scores, fit_banded_fold
from cogvision.io import atomic_write, save_figure, write_dataset, write_table
from cogvision.jobs.brain_data import Inputs, band_features, stacked_bands
from cogvision.jobs.brain_folds import DONE, FitContext, npy_bytes, saved_fold, write_json
from cogvision.reporting import progress
from cogvision.viz.partition import plot_partition


def fit_banded(ctx: FitContext, inputs: Inputs) -> dict:
    """Fit the banded model and its reduced models with outer CV; write the outputs (module description)."""
    encoder = ctx.config.encoder_list()[0]
    x, widths = stacked_bands(band_features(ctx.config, inputs, ctx.cache_dir, ctx.device))
    bands = band_columns(widths)
    data = inputs.data
    y = data.responses.astype(np.float64)
    params = {k: encoder[k] for k in ENCODER_KEYS if k in encoder}
    params.update(cv=encoder.get("inner_cv", 5), device=ctx.device, random_state=ctx.config.seed)
    folds = []
    for k, (train, test) in enumerate(progress(ctx.splits(len(y), data.groups), desc="folds",
                                               disable=not ctx.progress)):
        def compute(train=train, test=test) -> dict:
            return {"test": test, **fit_banded_fold(x, y, bands, train, test, data.groups, **params)}

        folds.append(saved_fold(ctx.folder / "folds" / f"fold_{k}.npz", compute))
    names = inputs.names
    scores, rois, part, joint = banded_scores(y, folds, names, data.targets, encoder.get("correction", "clip"))
    write_table(scores, ctx.folder / "scores.csv")
    write_table(rois, ctx.folder / "partition_rois.csv")
    write_dataset(part, ctx.folder / "partition.nc")
    atomic_write(ctx.folder / "predictions.npy", npy_bytes(joint.astype(np.float32)))
    fig = plot_partition(part, scores["roi"].to_numpy(), title="held-out variance partition")
    save_figure(fig, ctx.folder / "figures" / "partition.png", dpi=100)
    summary = {"encoder": "banded", "bands": {n: len(b) for n, b in zip(names, bands)},
               "cv": ctx.config.cv.scheme, "n_folds": len(folds), "n_samples": int(y.shape[0]),
               "n_targets": int(y.shape[1]), "mean_r": float(scores["r"].mean()), "mean_r2": float(scores["r2"].mean()),
               "mean_unique": {n: float(scores[f"unique_{n}"].mean()) for n in names},
               "mean_shared": float(scores["shared"].mean()), "correction": part.attrs["correction"]}
    write_json(ctx.folder / DONE, summary)
    return summary
