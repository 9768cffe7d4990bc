"""Per-image encoding of recorded neurons, layer by layer and encoder by encoder (``cogvision fit-encoder``).

A config with a ``model`` block fits every encoder to the features of every layer with the same outer
cross-validation over images::

    data: {dataset: cowley_v4, path: DIR, session: "190925"}    # path: the V4 folder (default ../shared)
    model: {spec: "torchvision:mobilenet_v2", weights: FILE, layers: [features.4, features.7],
            pool: 4, size: 224, scale: rms}                      # weights null: the seeded random init;
                                                                 # scale rms: each layer / its RMS (default none)
    encoders:                                                    # or one `encoder: {...}`
      - {type: ridge, alphas: [1, 10, 100, 1000, 10000, 100000]}
      - {type: factorized, epochs: 20}
      - {type: transformer, queries: vertex, name: transformer}  # one query per neuron
    cv: {scheme: kfold, n_splits: 5}
    cache_dir: DIR                                               # feature cache (default OUT/cache)
    seed: 0

Outputs: ``scores.csv`` (one row per layer, encoder and neuroid; columns in
:mod:`cogvision.brain.layer_sweep`; also as Parquet), ``summary.csv`` (per layer and encoder: medians over
neuroids with 95% bootstrap intervals over images), ``figures/layer_curves.png`` and ``summary.json`` (written
last).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cogvision.brain.features import pooled_layer_features
from cogvision.brain.fitting import FitData, fit_fold
from cogvision.brain.layer_sweep import layer_scores, rms_scaled
from cogvision.brain.metrics import pearson_r
from cogvision.io import save_figure, write_table
from cogvision.jobs.brain_folds import DONE, FitContext, saved_fold, write_json
from cogvision.reporting import progress
from cogvision.viz.brain import plot_layer_curves


def fit_sweep(ctx: FitContext, images: torch.Tensor, y: np.ndarray, repeats: np.ndarray | None,
              neuroids: list[str]) -> dict:
    """Fit every encoder on every layer with the same outer CV folds; write the outputs (module description)."""
    config, model = ctx.config, ctx.config.model
    weights = None if model.weights is None else str(config.path(model.weights))
    feats = pooled_layer_features(model.spec, images, list(model.layers), ctx.cache_dir, weights=weights,
                                  pool=model.pool, size=model.size, seed=config.seed, batch_size=model.batch_size,
                                  device=ctx.device, allow_code=config.allow_code)
    if model.scale == "rms":
        feats = {layer: rms_scaled(values) for layer, values in feats.items()}
    splits = ctx.splits(len(y), None)
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": "all"})
    rows, summary_rows = [], []
    jobs = [(layer, enc) for layer in model.layers for enc in config.encoder_list()]
    for layer, enc in progress(jobs, desc="layer x encoder", disable=not ctx.progress):
        name = enc.get("name", enc["type"])
        fit_data = FitData(feats[layer], y, targets)
        pred = np.full(y.shape, np.nan)
        log_alphas, fold_r = [], []
        safe = "".join(ch if ch.isalnum() else "_" for ch in f"{layer}__{name}")
        for k, (train, test) in enumerate(splits):
            def compute(k=k, train=train, test=test) -> dict:
                result = fit_fold(fit_data, enc, train, test, checkpoint_dir=ctx.folder / "checkpoints" / f"{safe}_{k}",
                                  client=ctx.client, device=ctx.device, seed=config.seed)
                return {"test": test, **{key: result[key] for key in ("pred", "alphas") if key in result}}

            saved = saved_fold(ctx.folder / "folds" / f"{safe}__fold_{k}.npz", compute)
            pred[saved["test"]] = saved["pred"]
            fold_r.append(pearson_r(y[saved["test"]], saved["pred"]))
            if "alphas" in saved:
                log_alphas.append(np.log(saved["alphas"]))
        part, row = layer_scores(y, pred, repeats=repeats, neuroids=neuroids, fold_r=fold_r, log_alphas=log_alphas,
                                 session=config.data.session, layer=layer, encoder=name, seed=config.seed)
        rows.append(part)
        summary_rows.append(row)
    scores = pd.concat(rows, ignore_index=True)
    table = pd.DataFrame(summary_rows)
    write_table(scores, ctx.folder / "scores.csv")
    write_table(table, ctx.folder / "summary.csv")
    save_figure(plot_layer_curves(table), ctx.folder / "figures" / "layer_curves.png", dpi=100)
    best = table.loc[table.groupby("encoder")["median_r2"].idxmax()]
    summary = {"session": config.data.session, "model": model.spec, "weights": weights,
               "n_stimuli": int(y.shape[0]), "n_neuroids": int(y.shape[1]), "n_folds": len(splits),
               "has_repeats": repeats is not None,
               "best_layer": {row.encoder: row.layer for row in best.itertuples()},
               "best_median_r2": {row.encoder: float(row.median_r2) for row in best.itertuples()}}
    write_json(ctx.folder / DONE, summary)
    return summary
