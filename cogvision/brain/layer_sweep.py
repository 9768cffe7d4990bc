"""Per-image encoding of recorded neurons, layer by layer and encoder by encoder (``cogvision fit-encoder``).

A config with a ``model`` section fits every encoder to the features of every layer with the same
outer cross-validation over images::

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

Sections are checked once, on load (:func:`check_sweep_config`): unknown keys, wrong types and unknown
encoder settings are errors before the output folder is created. Outputs: ``scores.csv`` (one row
per layer, encoder and neuroid: ``session, layer, encoder, neuroid, r, r2, r2_noise_corrected,
r_fold_mean, best_alpha``; ``r2_noise_corrected`` is r^2_ER from the raw repeats, NaN when the
session has none), ``summary.csv`` (per layer and encoder: medians over neuroids with 95% bootstrap
intervals over images), ``figures/layer_curves.png`` and ``summary.json`` (written last).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cogvision.brain.metrics import pearson_r, r2_er, r2_per_target

DATASETS = ("cowley_v4",)
SCALES = ("none", "rms")


@dataclass(frozen=True)
class DataSection:
    """``data:`` of a recording session."""

    dataset: str
    session: str
    path: str | None = None


@dataclass(frozen=True)
class ModelSection:
    """``model:``: the network, its weights and the layers to sweep."""

    spec: str
    layers: list
    weights: str | None = None
    pool: int = 4
    size: int = 224
    batch_size: int = 32
    scale: str = "none"


def _typed(section, cls, name: str):
    """Build dataclass ``cls`` from a config mapping, refusing unknown keys and wrong types."""
    if not isinstance(section, dict):
        raise ValueError(f"config {name} must be a mapping, got {type(section).__name__}")
    allowed = {f.name: f for f in fields(cls)}
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"config {name} has unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    values = {}
    for key, f in allowed.items():
        if key not in section:
            if f.default is f.default_factory:  # no default: required
                raise ValueError(f"config {name}.{key} is required")
            continue
        value = section[key]
        kind = {"str": str, "int": int, "list": list, "str | None": str}[f.type]
        if key == "session" and isinstance(value, int):
            value = str(value)
        if value is None and f.type == "str | None":
            values[key] = None
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"config {name}.{key} must be {f.type}, got {type(value).__name__} {value!r}")
        values[key] = value
    return cls(**values)


def _encoder_settings(kind: str) -> set[str]:
    from cogvision.brain.factorized import FactorizedEncoder
    from cogvision.brain.ridge import RidgeCV
    from cogvision.brain.transformer import TransformerBrainEncoder

    cls = {"ridge": RidgeCV, "factorized": FactorizedEncoder, "transformer": TransformerBrainEncoder}[kind]
    extra = {"ridge": {"inner_cv", "n_blocks"}}.get(kind, set())
    return set(cls().get_params()) | extra | {"type", "name"}


def encoder_list(config: dict) -> list[dict]:
    """The encoders of a sweep config (``encoders`` list or one ``encoder``), each checked."""
    from cogvision.brain.fitting import ENCODERS

    encoders = config.get("encoders", [config["encoder"]] if "encoder" in config else None)
    if not isinstance(encoders, list) or not encoders:
        raise ValueError("config needs 'encoders' (a non-empty list) or one 'encoder'")
    names = []
    for k, enc in enumerate(encoders):
        if not isinstance(enc, dict) or enc.get("type") not in ENCODERS:
            raise ValueError(f"config encoders[{k}].type must be one of {ENCODERS}, got "
                             f"{enc.get('type') if isinstance(enc, dict) else enc!r}")
        unknown = sorted(set(enc) - _encoder_settings(enc["type"]))
        if unknown:
            raise ValueError(f"config encoders[{k}] ({enc['type']}) has unknown setting(s) {unknown}")
        names.append(enc.get("name", enc["type"]))
    if len(set(names)) != len(names):
        raise ValueError(f"config encoders have repeated names {names}; give each a distinct 'name'")
    return encoders


def check_sweep_config(config: dict) -> tuple[DataSection, ModelSection, list[dict]]:
    """Validate the ``data``, ``model`` and encoder sections of a layer-sweep config.

    Raises
    ------
    ValueError
        Naming the section and key that is unknown, missing or of the wrong type.
    """
    data = _typed(config.get("data"), DataSection, "data")
    if data.dataset not in DATASETS:
        raise ValueError(f"config data.dataset must be one of {DATASETS} when a 'model' section is given, "
                         f"got {data.dataset!r}")
    model = _typed(config.get("model"), ModelSection, "model")
    if not model.layers or not all(isinstance(x, str) for x in model.layers):
        raise ValueError(f"config model.layers must be a non-empty list of module names, got {model.layers!r}")
    if model.pool < 1 or model.size < 16:
        raise ValueError(f"config model.pool must be >= 1 and model.size >= 16, got {model.pool}, {model.size}")
    if model.scale not in SCALES:
        raise ValueError(f"config model.scale must be one of {SCALES}, got {model.scale!r}")
    if model.weights is not None and not Path(model.weights).is_file():
        raise ValueError(f"config model.weights: file {model.weights} does not exist")
    return data, model, encoder_list(config)


def resolve_paths(config: dict, resolve) -> None:
    """Make ``data.path``, ``model.weights`` and ``cache_dir`` absolute with ``resolve`` (relative to the config)."""
    for section, key in (("data", "path"), ("model", "weights")):
        part = config.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str):
            config[section] = {**part, key: resolve(part[key])}
    if isinstance(config.get("cache_dir"), str):
        config["cache_dir"] = resolve(config["cache_dir"])


def load_session(data: DataSection):
    """The session's images (n, 3, H, W) in [0, 1], responses (n, n_neuroids), repeats or None, neuroids."""
    import torch

    from data_loaders.cowley_v4 import load_v4_session, repeats_array

    ds = load_v4_session(data.session, root=data.path)
    images = torch.from_numpy(ds["images"].values).permute(0, 3, 1, 2).float() / 255.0
    repeats = repeats_array(ds) if "repeats" in ds else None
    return images, ds["responses"].values, repeats, [str(n) for n in ds["neuroid"].values]


def rms_scaled(features: np.ndarray) -> np.ndarray:
    """Features divided by their root mean square over all stimuli and features (one scalar per layer).

    Ridge penalties are in the units of the features' power. An untrained network's activations shrink
    by about 10x per block (MobileNetV2 at its initial BatchNorm statistics: RMS about 1e-2 at
    features.2, 1e-9 at features.17), so a fixed alpha grid over-regularises its deep layers into
    predicting the mean. One scalar per layer, from the features alone, puts every layer on the same
    scale; it equals rescaling that layer's alpha grid and uses no responses.
    """
    features = np.asarray(features, dtype=np.float64)
    rms = float(np.sqrt(np.mean(features**2)))
    if not np.isfinite(rms) or rms == 0:
        raise ValueError("features are all zero or not finite; cannot scale them by their RMS")
    return features / rms


def interval_of_median(y: np.ndarray, pred: np.ndarray, metric: str, n_boot: int = 200, seed: int = 0):
    """95% bootstrap interval (over stimuli) of the median over targets of per-target r or R^2."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        per = pearson_r(y[idx], pred[idx]) if metric == "r" else r2_per_target(y[idx], pred[idx])
        values.append(np.median(per))
    return tuple(np.percentile(values, [2.5, 97.5]))


def run_layer_sweep(config: dict, out_dir: Path, *, overwrite: bool, resume: bool, dask, device: str,
                    progress: bool = True) -> dict:
    """Fit every encoder on every layer with the same outer CV folds; write the outputs (module docstring)."""
    from cogvision.brain.features import pooled_layer_features
    from cogvision.brain.fitting import (
        FitData, _client, _fit_fold, _prepare_out, _savez, _write_atomic, outer_splits,
    )

    data_cfg, model_cfg, encoders = check_sweep_config(config)
    images, y, repeats, neuroids = load_session(data_cfg)  # bad sessions fail before anything is written
    _prepare_out(out_dir, config, overwrite, resume)
    cache = Path(config["cache_dir"]) if config.get("cache_dir") else out_dir / "cache"
    feats = pooled_layer_features(model_cfg.spec, images, list(model_cfg.layers), cache, weights=model_cfg.weights,
                                  pool=model_cfg.pool, size=model_cfg.size, seed=int(config.get("seed", 0)),
                                  batch_size=model_cfg.batch_size, device=device)
    if model_cfg.scale == "rms":
        feats = {layer: rms_scaled(values) for layer, values in feats.items()}
    splits = outer_splits(config, len(y), None)
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": "all"})
    client, own_client = _client(dask)
    rows, summary_rows = [], []
    jobs = [(layer, enc) for layer in model_cfg.layers for enc in encoders]
    try:
        for layer, enc in tqdm(jobs, desc="layer x encoder", disable=not progress):
            name = enc.get("name", enc["type"])
            fit_data = FitData(feats[layer], y, targets)
            fold_config = {**config, "encoder": {k: v for k, v in enc.items() if k != "name"}}
            pred = np.full(y.shape, np.nan)
            alphas, fold_r = [], []
            safe = "".join(ch if ch.isalnum() else "_" for ch in f"{layer}__{name}")
            for k, (train, test) in enumerate(splits):
                path = out_dir / "folds" / f"{safe}__fold_{k}.npz"
                if not path.is_file():
                    result = _fit_fold(fit_data, fold_config, train, test, out_dir / "checkpoints" / f"{safe}_{k}",
                                       client, device)
                    keep = {key: result[key] for key in ("pred", "alphas") if key in result}
                    _write_atomic(path, lambda tmp, r=keep, te=test: _savez(tmp, test=te, **r))
                with np.load(path) as saved:
                    pred[saved["test"]] = saved["pred"]
                    fold_r.append(pearson_r(y[saved["test"]], saved["pred"]))
                    if "alphas" in saved.files:
                        alphas.append(np.log(saved["alphas"]))
            r = pearson_r(y, pred)
            r2 = r2_per_target(y, pred)
            r2_nc = r2_er(pred, repeats) if repeats is not None else np.full(y.shape[1], np.nan)
            rows.append(pd.DataFrame({
                "session": data_cfg.session, "layer": layer, "encoder": name, "neuroid": neuroids, "r": r, "r2": r2,
                "r2_noise_corrected": r2_nc, "r_fold_mean": np.mean(fold_r, 0),
                "best_alpha": np.exp(np.mean(alphas, 0)) if alphas else np.nan}))
            r_lo, r_hi = interval_of_median(y, pred, "r", seed=int(config.get("seed", 0)))
            r2_lo, r2_hi = interval_of_median(y, pred, "r2", seed=int(config.get("seed", 0)))
            summary_rows.append({"session": data_cfg.session, "layer": layer, "encoder": name,
                                 "n_neuroids": y.shape[1], "median_r": float(np.median(r)), "median_r_low": r_lo,
                                 "median_r_high": r_hi, "median_r2": float(np.median(r2)), "median_r2_low": r2_lo,
                                 "median_r2_high": r2_hi, "median_r2_noise_corrected": float(np.median(r2_nc))})
    finally:
        if own_client:
            client.close()
    scores = pd.concat(rows, ignore_index=True)
    table = pd.DataFrame(summary_rows)
    _write_atomic(out_dir / "scores.csv", lambda tmp: scores.to_csv(tmp, index=False))
    _write_atomic(out_dir / "summary.csv", lambda tmp: table.to_csv(tmp, index=False))
    _write_atomic(out_dir / "figures" / "layer_curves.png", lambda tmp: _layer_figure(table).savefig(tmp, format="png"))
    best = table.loc[table.groupby("encoder")["median_r2"].idxmax()]
    summary = {"session": data_cfg.session, "model": model_cfg.spec, "weights": model_cfg.weights,
               "n_stimuli": int(y.shape[0]), "n_neuroids": int(y.shape[1]), "n_folds": len(splits),
               "has_repeats": repeats is not None,
               "best_layer": {row.encoder: row.layer for row in best.itertuples()},
               "best_median_r2": {row.encoder: float(row.median_r2) for row in best.itertuples()}}
    _write_atomic(out_dir / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    return summary


def network_differences(out: Path, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Trained minus untrained R^2, neuron by neuron, at each network's best layer, per session and encoder.

    Parameters
    ----------
    out
        The sweep's output folder (``trained_<session>/scores.csv`` and ``untrained_<session>/scores.csv``).
    n_boot, seed
        Bootstrap over neurons of the median difference.

    Returns
    -------
    pandas.DataFrame
        ``session, encoder, trained_layer, untrained_layer, n_neuroids, median_difference, low, high,
        fraction_trained_better``. The best layers are chosen on the same held-out scores, so the
        difference is that of the best layers as reported, not of layers chosen on separate data.
    """
    rows = []
    rng = np.random.default_rng(seed)
    for folder in sorted(out.glob("trained_*")):
        session = folder.name.removeprefix("trained_")
        other = out / f"untrained_{session}" / "scores.csv"
        if not (folder / "scores.csv").is_file() or not other.is_file():
            continue
        scores = {"trained": pd.read_csv(folder / "scores.csv", dtype={"session": str}),
                  "untrained": pd.read_csv(other, dtype={"session": str})}
        for encoder in scores["trained"]["encoder"].unique():
            best = {network: _best_layer(table[table["encoder"] == encoder]) for network, table in scores.items()}
            diff = (best["trained"][1] - best["untrained"][1].reindex(best["trained"][1].index)).to_numpy()
            rows.append({"session": session, "encoder": encoder, "trained_layer": best["trained"][0],
                         "untrained_layer": best["untrained"][0], "n_neuroids": len(diff),
                         **_median_difference(diff, rng, n_boot), "fraction_trained_better": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)


def encoder_differences(scores: pd.DataFrame, reference: str = "ridge", n_boot: int = 2000,
                        seed: int = 0) -> pd.DataFrame:
    """Each encoder minus ``reference``, neuron by neuron, each at its own best layer (by median R^2).

    Parameters
    ----------
    scores
        A sweep's ``scores.csv`` (columns ``layer, encoder, neuroid, r2``) with several encoders.
    n_boot, seed
        Bootstrap over neurons of the median difference.

    Returns
    -------
    pandas.DataFrame
        ``encoder, layer, reference_layer, n_neuroids, median_difference, low, high, fraction_better``.
    """
    if reference not in set(scores["encoder"]):
        raise ValueError(f"reference encoder {reference!r} is not in the scores (have {sorted(set(scores['encoder']))})")
    rng = np.random.default_rng(seed)
    ref_layer, ref = _best_layer(scores[scores["encoder"] == reference])
    rows = []
    for encoder in scores["encoder"].unique():
        if encoder == reference:
            continue
        layer, values = _best_layer(scores[scores["encoder"] == encoder])
        diff = (values - ref.reindex(values.index)).to_numpy()
        rows.append({"encoder": encoder, "layer": layer, "reference_layer": ref_layer, "n_neuroids": len(diff),
                     **_median_difference(diff, rng, n_boot), "fraction_better": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)


def _best_layer(part: pd.DataFrame) -> tuple[str, pd.Series]:
    """The layer with the highest median R^2 and its per-neuron R^2 (indexed by ``neuroid``)."""
    layer = part.groupby("layer")["r2"].median().idxmax()
    return layer, part[part["layer"] == layer].set_index("neuroid")["r2"]


def _median_difference(diff: np.ndarray, rng: np.random.Generator, n_boot: int) -> dict[str, float]:
    """Median of per-neuron differences with a 95% bootstrap interval over neurons."""
    boots = [np.median(diff[rng.integers(0, len(diff), len(diff))]) for _ in range(n_boot)]
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"median_difference": float(np.median(diff)), "low": float(low), "high": float(high)}


def _layer_figure(table: pd.DataFrame):
    """Median held-out R^2 (with its bootstrap interval) against layer, one line per encoder."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for name, group in table.groupby("encoder", sort=False):
        x = np.arange(len(group))
        ax.plot(x, group["median_r2"], marker="o", label=name)
        ax.fill_between(x, group["median_r2_low"], group["median_r2_high"], alpha=0.2)
        ax.set_xticks(x, group["layer"], rotation=45, ha="right")
    ax.set_ylabel("median held-out R^2")
    ax.legend()
    fig.tight_layout()
    return fig
