"""``fit-encoder`` with several feature spaces: one banded ridge model, per-band scores and partition tables.

A config whose ``features`` is a list fits :class:`~cogvision.brain.banded.BandedRidgeCV` (one band
per entry) with the outer cross-validation of :mod:`cogvision.brain.fitting`::

    stimuli: {images: DIR_OR_GLOB, size: 224}
    features:                                  # each entry as a single `features` section; `model` and
      - {model: SPEC, layer: NAME_A}           # `weights` carry over from the entry before; or {file: X.npy}
      - {layer: NAME_B, name: late}            # name: the band's name (default: the layer or file stem)
    responses: {npy: Y.npy, roi_labels: rois.txt}
    encoder: {type: banded, alphas: [1, 10, 100], n_iter: 20, inner_cv: 5}   # type ridge works too
    cv: {scheme: kfold, n_splits: 5}

Per outer fold it fits the joint model and the reduced models of :func:`~cogvision.brain.partition.model_subsets`
(each band alone; all but one band when there are three or more) and saves their held-out predictions
(``folds/fold_K.npz``, so an interrupted fit resumes). Outputs, written atomically: ``scores.csv`` (per
target: ``target, roi, r, r2`` of the joint model, ``r2_<band>`` of each band alone, ``unique_<band>``,
``shared``, with three bands ``shared_<b>&<c>`` (exactly those two bands) and ``shared_higher`` (all
three), ``weight_<band>`` (mean band weight over folds) and ``best_alpha`` (geometric mean)),
``partition_rois.csv`` (per ROI: number of targets and the mean of each part), ``partition.nc`` (the
:func:`~cogvision.brain.partition.partition_r2` dataset), ``predictions.npy`` (joint model),
``figures/partition.png`` and ``summary.json`` (written last).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cogvision.brain.features import as_matrix
from cogvision.brain.metrics import pearson_r, r2_per_target
from cogvision.brain.partition import model_subsets, partition_r2, subset_predictions

ENCODER_KEYS = ("alphas", "n_iter", "concentration", "scoring", "solver", "n_targets_batch", "dtype", "correction",
                "refine", "refine_lr")


def feature_bands(config: dict, cache_dir: Path | None, device: str):
    """Responses (as :class:`~cogvision.brain.fitting.FitData`), the stacked features (n, p), the column
    indices of each band and the band names, from a config whose ``features`` is a list."""
    from cogvision.brain.fitting import _features, load_data

    entries = config["features"]
    if not isinstance(entries, list) or len(entries) < 2:
        raise ValueError("config features must be a list of at least two feature sections for a banded fit")
    if (config.get("data") or {}).get("dataset"):
        raise ValueError("config features as a list needs stimuli/responses sections, not data.dataset")
    resolved, names, carry = [], [], {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"config features[{i}] must be a mapping like {{layer: NAME}}, got {entry!r}")
        entry = dict(entry)
        name = entry.pop("name", None)
        if "file" not in entry:
            if "layer" not in entry:
                raise ValueError(f"config features[{i}] needs 'layer' (and 'model', here or in an earlier entry) or 'file'")
            entry = {**carry, **entry}
            if "model" not in entry:
                raise ValueError(f"config features[{i}] has no 'model' and no earlier entry gives one")
            carry = {k: entry[k] for k in ("model", "weights") if k in entry}
        names.append(str(name or entry.get("layer") or Path(entry["file"]).stem))
        resolved.append(entry)
    if len(set(names)) != len(names):
        raise ValueError(f"config features gives two bands the same name: {names}; set 'name' in the entries")
    data = load_data({**config, "features": resolved[0]}, cache_dir, device)
    mats = [as_matrix(data.features)]
    mats += [as_matrix(_features({**config, "features": entry}, cache_dir, device)) for entry in resolved[1:]]
    for name, mat in zip(names, mats):
        if len(mat) != len(data.responses):
            raise ValueError(f"features band {name!r} has {len(mat)} rows; the responses have {len(data.responses)}")
    edges = np.cumsum([0] + [m.shape[1] for m in mats])
    bands = [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]
    return data, np.hstack(mats).astype(np.float64), bands, names


def run_banded_fit(config: dict, out_dir: Path, *, overwrite: bool, resume: bool, device: str,
                   progress: bool = True) -> dict:
    """Fit the banded model and its reduced models with outer CV; write the outputs (module docstring)."""
    from tqdm.auto import tqdm

    from cogvision.brain.fitting import _prepare_out, _savez, _write_atomic, outer_splits
    from cogvision.viz.partition import plot_partition

    encoder = config["encoder"]
    unknown = set(encoder) - set(ENCODER_KEYS) - {"type", "inner_cv"}
    if unknown:
        raise ValueError(f"config encoder has unknown key(s) {sorted(unknown)} for a banded fit; "
                         f"expected some of {sorted(ENCODER_KEYS + ('inner_cv',))}")
    _prepare_out(out_dir, config, overwrite, resume)
    data, x, bands, names = feature_bands(config, out_dir / "cache", device)
    y = data.responses.astype(np.float64)
    splits = outer_splits(config, len(y), data.groups)
    params = {k: encoder[k] for k in ENCODER_KEYS if k in encoder and k != "correction"}
    params.update(cv=encoder.get("inner_cv", 5), device=device, random_state=int(config.get("seed", 0)))
    subsets = model_subsets(len(bands))
    pred = {name: np.full(y.shape, np.nan) for name in subsets}
    weights, log_alphas = [], []
    for k, (train, test) in enumerate(tqdm(splits, desc="folds", disable=not progress)):
        path = out_dir / "folds" / f"fold_{k}.npz"
        if not path.is_file():
            result = {}
            for name, subset in subsets.items():
                model, result[name.replace("/", "__")] = subset_predictions(
                    x, y, [bands[b] for b in subset], train, test, data.groups, **params)
                if name == "joint":
                    result.update(weights=model.band_weights_, alphas=model.best_alphas_)
            _write_atomic(path, lambda tmp, r=result, te=test: _savez(tmp, test=te, **r))
        with np.load(path) as saved:
            for name in subsets:
                pred[name][saved["test"]] = saved[name.replace("/", "__")]
            weights.append(saved["weights"])
            log_alphas.append(np.log(saved["alphas"]))
    tested = ~np.isnan(pred["joint"]).any(1)
    r2 = {name: r2_per_target(y[tested], p[tested]) for name, p in pred.items()}
    part = partition_r2(r2, names, encoder.get("correction", "clip"))
    scores = data.targets.copy()
    scores["r"] = pearson_r(y[tested], pred["joint"][tested])
    scores["r2"] = r2["joint"]
    mean_weights = np.mean(weights, 0)
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
    for b, name in enumerate(names):
        scores[f"weight_{name}"] = mean_weights[b]
    scores["best_alpha"] = np.exp(np.mean(log_alphas, 0))
    parts = ["r2"] + [f"unique_{n}" for n in names] + ["shared"] + pair_parts
    rois = scores.groupby("roi")[parts].mean().reset_index()
    rois.insert(1, "n_targets", scores.groupby("roi").size().values)
    _write_atomic(out_dir / "scores.csv", lambda tmp: scores.to_csv(tmp, index=False))
    _write_atomic(out_dir / "partition_rois.csv", lambda tmp: rois.to_csv(tmp, index=False))
    _write_atomic(out_dir / "partition.nc", lambda tmp: part.to_netcdf(tmp, engine="scipy"))
    _write_atomic(out_dir / "predictions.npy", lambda tmp: _savez(tmp, pred["joint"].astype(np.float32)))
    fig = plot_partition(part, scores["roi"].to_numpy(), title="held-out variance partition")
    _write_atomic(out_dir / "figures" / "partition.png", lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    summary = {"encoder": "banded", "bands": {n: len(b) for n, b in zip(names, bands)}, "cv": config["cv"]["scheme"],
               "n_folds": len(splits), "n_samples": int(y.shape[0]), "n_targets": int(y.shape[1]),
               "mean_r": float(scores["r"].mean()), "mean_r2": float(scores["r2"].mean()),
               "mean_unique": {n: float(scores[f"unique_{n}"].mean()) for n in names},
               "mean_shared": float(scores["shared"].mean()), "correction": part.attrs["correction"]}
    _write_atomic(out_dir / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    return summary
