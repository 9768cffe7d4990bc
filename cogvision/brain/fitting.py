"""Config-driven encoding fits: ``cogvision fit-encoder CONFIG.yaml`` and :func:`run_fit` from Python.

A config (YAML or dict) names where the data come from, the encoder and the cross-validation::

    data:                        # one of: dataset: haxby | synthetic, or the three sections below
      dataset: haxby
      design: hrf                # haxby: category regressors, "hrf" or "lagged"
    stimuli: {images: DIR_OR_GLOB, size: 224}           # images for a feature model
    features: {model: SPEC, layer: NAME, weights: null}  # or {file: X.npy | X.nc}
    responses: {nifti: bold.nii.gz, mask: mask.nii.gz}   # or {npy: Y.npy, roi_labels: rois.txt, rois: [..]}
    groups: runs.npy             # optional: run/session of each sample (for cv scheme logo)
    encoder: {type: ridge, alphas: [1, 10, 100], inner_cv: logo}  # ridge | factorized | transformer | banded
    cv: {scheme: logo}           # kfold (n_splits) | logo | split (test_fraction)
    seed: 0

Held-out predictions come from the outer CV; each fold's predictions are saved as soon as the fold
ends (``folds/fold_K.npz``), features are cached (``cache/``), neural encoders checkpoint every epoch
(``checkpoints/fold_K/``), so an interrupted fit resumes where it stopped (``resume=True``). The
outputs are written atomically: ``scores.csv`` (per target: ``target, roi, r, r2`` and ``best_alpha``
for ridge), ``roi_summary.csv``, ``predictions.npy``, ``summary.json`` (written last), maps
(``scores.nii.gz`` for volumes, ``scores_lh.func.gii``/``scores_rh.func.gii`` per-vertex in input order
for surfaces, ``receptive_fields.nc``, ``routing_maps.nc``) and ``figures/``.
With a dask client, ridge fits send blocks of targets to the workers; per-target alphas make every
target's result independent of the others, so the result equals the single-process fit.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from tqdm.auto import tqdm

from cogvision.brain.factorized import FactorizedEncoder
from cogvision.brain.features import as_grid, as_matrix, cached_features
from cogvision.brain.metrics import check_responses, pearson_r, r2_per_target, roi_summary
from cogvision.brain.ridge import RidgeCV, make_splits
from cogvision.brain.transformer import TransformerBrainEncoder

ENCODERS = ("ridge", "factorized", "transformer", "banded")
SCHEMES = ("kfold", "logo", "split")
DONE = "summary.json"


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


def load_config(config: str | os.PathLike | dict) -> dict:
    """Read a YAML config (or take a dict) and check its sections.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        Naming the section or field that is missing or unknown.
    """
    if not isinstance(config, dict):
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"config {path} does not exist")
        config = yaml.safe_load(path.read_text()) or {}
        base = path.parent
    else:
        base = Path(".")
    config = dict(config)
    config.setdefault("base_dir", str(base))
    known = {"data", "stimuli", "features", "responses", "groups", "encoder", "cv", "seed", "base_dir", "device",
             "model", "encoders", "cache_dir"}
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"config has unknown section(s) {sorted(unknown)}; expected some of {sorted(known)}")
    encoder = config.get("encoder") or {}
    if "model" in config:  # a layer sweep on recorded neurons (cogvision.brain.layer_sweep)
        from cogvision.brain.layer_sweep import check_sweep_config, resolve_paths

        resolve_paths(config, lambda value: str(_path(config, value)))
        check_sweep_config(config)
    elif encoder.get("type") not in ENCODERS:
        raise ValueError(f"config encoder.type must be one of {ENCODERS}, got {encoder.get('type')!r}")
    cv = config.setdefault("cv", {"scheme": "kfold", "n_splits": 5})
    if cv.get("scheme") not in SCHEMES:
        raise ValueError(f"config cv.scheme must be one of {SCHEMES}, got {cv.get('scheme')!r}")
    if "data" not in config and not {"features", "responses"} <= set(config):
        raise ValueError("config needs a 'data' section (dataset: haxby | synthetic) or both 'features' and 'responses'")
    return config


def _path(config: dict, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else Path(config["base_dir"]) / path


def _read_array(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix == ".nc":
        with xr.open_dataarray(path, engine="scipy") as da:
            return da.values
    if path.suffix == ".txt":
        return np.array([line.strip() for line in path.read_text().splitlines() if line.strip()])
    if path.suffix == ".csv":
        return pd.read_csv(path, header=None).iloc[:, 0].to_numpy()
    raise ValueError(f"{what} file {path} has an unknown type; expected .npy, .nc, .txt (one value a line) or .csv")


def load_data(config: dict, cache_dir: Path | None = None, device: str = "auto") -> FitData:
    """Build features, responses, target table and groups from a checked config."""
    dataset = (config.get("data") or {}).get("dataset")
    if dataset == "haxby":
        return _haxby(config)
    if dataset == "synthetic":
        return _synthetic(config, device)
    if dataset is not None:
        raise ValueError(f"config data.dataset must be 'haxby' or 'synthetic', got {dataset!r}")
    features = _features(config, cache_dir, device)
    responses_cfg = config["responses"]
    masker = None
    hemisphere = None
    groups = _read_array(_path(config, config["groups"]), "groups") if config.get("groups") else None
    if "nifti" in responses_cfg:
        from cogvision.brain.nilearn_io import mask_responses

        if "mask" not in responses_cfg:
            raise ValueError("config responses.nifti needs responses.mask")
        runs = groups if responses_cfg.get("zscore_runs") else None
        y, masker = mask_responses(_path(config, responses_cfg["nifti"]), _path(config, responses_cfg["mask"]),
                                   standardize_runs=runs)
    elif "npy" in responses_cfg:
        y = _read_array(_path(config, responses_cfg["npy"]), "responses")
    elif "lh" in responses_cfg and "rh" in responses_cfg:
        from cogvision.brain.nilearn_io import load_surface_responses

        y, hemisphere = load_surface_responses(_path(config, responses_cfg["lh"]), _path(config, responses_cfg["rh"]))
    else:
        raise ValueError("config responses needs 'nifti' + 'mask', 'npy', or 'lh' + 'rh' (surface arrays)")
    y = check_responses(y, n_samples=len(features))
    rois = (_read_array(_path(config, responses_cfg["roi_labels"]), "roi_labels").astype(str)
            if responses_cfg.get("roi_labels") else np.full(y.shape[1], "all"))
    if len(rois) != y.shape[1]:
        raise ValueError(f"roi_labels has {len(rois)} labels but the responses have {y.shape[1]} targets")
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": rois})
    if hemisphere is not None:
        targets["hemisphere"] = hemisphere
    keep = responses_cfg.get("rois")
    if keep:
        unknown = sorted(set(keep) - set(rois))
        if unknown:
            raise ValueError(f"config responses.rois names unknown ROI label(s) {unknown}; known: {sorted(set(rois))}")
        mask = np.isin(rois, keep)
        y, targets = y[:, mask], targets[mask].reset_index(drop=True)
    return FitData(features, y, targets, groups, masker)


def _features(config: dict, cache_dir: Path | None, device: str) -> np.ndarray:
    cfg = config["features"]
    if "file" in cfg:
        return np.asarray(_read_array(_path(config, cfg["file"]), "features"), dtype=np.float32)
    if "model" not in cfg or "layer" not in cfg:
        raise ValueError("config features needs 'file', or 'model' and 'layer'")
    stimuli = config.get("stimuli") or {}
    if "images" not in stimuli:
        raise ValueError("config features.model needs stimuli.images (a folder or glob)")
    from data_loaders.images import load_images

    images, names, _ = load_images(_path(config, stimuli["images"]), size=int(stimuli.get("size", 224)), strict=True)
    da = cached_features(cfg["model"], images, cfg["layer"], cache_dir, weights=cfg.get("weights"),
                         seed=int(config.get("seed", 0)), stimulus_ids=names, device=device)
    return da.values


def _haxby(config: dict) -> FitData:
    from cogvision.brain.nilearn_io import mask_responses
    from data_loaders.haxby import category_design, load_haxby

    data_cfg = config["data"]
    haxby = load_haxby(data_cfg.get("root"))
    runs = haxby.attributes["run"].to_numpy()
    y, masker = mask_responses(haxby.bold, haxby.mask, standardize_runs=runs)
    x = category_design(haxby.attributes, haxby.tr, kind=data_cfg.get("design", "hrf")).to_numpy(np.float64)
    targets = pd.DataFrame({"target": np.arange(y.shape[1]), "roi": "slice"})
    return FitData(x, check_responses(y, len(x)), targets, runs, masker)


def _synthetic(config: dict, device: str) -> FitData:
    from data_loaders.synthetic_brain import make_synthetic_brain

    params = {k: v for k, v in config["data"].items() if k != "dataset"}
    ds = make_synthetic_brain(seed=int(config.get("seed", 0)), device=device if device != "auto" else "cpu", **params)
    targets = pd.DataFrame({"target": np.arange(ds.sizes["voxel"]), "roi": ds["roi"].values, "kind": ds["kind"].values})
    return FitData(ds["features"].values, check_responses(ds["responses"].values), targets)


def outer_splits(config: dict, n_samples: int, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer train/test splits from ``config["cv"]`` (``kfold``: shuffled with ``seed``; ``split``: one split)."""
    cv = config["cv"]
    seed = int(config.get("seed", 0))
    if cv["scheme"] == "logo":
        if groups is None:
            raise ValueError("cv.scheme 'logo' needs groups (config 'groups', or a dataset that has runs)")
        return make_splits(n_samples, "logo", groups)
    if cv["scheme"] == "kfold":
        from sklearn.model_selection import GroupKFold, KFold

        k = int(cv.get("n_splits", 5))
        splitter = GroupKFold(k) if groups is not None else KFold(k, shuffle=True, random_state=seed)
        return make_splits(n_samples, splitter, groups)
    fraction = float(cv.get("test_fraction", 0.1))
    if not 0 < fraction < 1:
        raise ValueError(f"cv.test_fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_test = max(1, int(round(fraction * n_samples)))
    return [(np.sort(order[n_test:]), np.sort(order[:n_test]))]


def ridge_block(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, groups: np.ndarray | None,
                params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fit RidgeCV on ``train`` for a block of targets; held-out predictions and chosen alphas."""
    model = RidgeCV(**params).fit(x[train], y[train], groups=None if groups is None else groups[train])
    return model.predict(x[test]).reshape(len(test), -1), model.best_alphas_


def _ridge_params(encoder: dict, device: str) -> dict:
    params = {k: v for k, v in encoder.items() if k not in ("type", "inner_cv", "n_blocks")}
    params["cv"] = encoder.get("inner_cv", params.get("cv", 5))
    params.setdefault("device", device)
    if not params.get("alpha_per_target", True):
        raise ValueError("encoder.alpha_per_target=false would couple targets; the scripted fit chooses alpha per target")
    return params


def _fit_fold(data: FitData, config: dict, train, test, fold_dir: Path, client, device: str) -> dict:
    encoder = config["encoder"]
    kind = encoder["type"]
    if kind == "ridge":
        x = as_matrix(data.features)
        params = _ridge_params(encoder, device)
        n_blocks = int(encoder.get("n_blocks", len(client.scheduler_info()["workers"]) if client else 1))
        blocks = np.array_split(np.arange(data.responses.shape[1]), max(1, n_blocks))
        blocks = [b for b in blocks if len(b)]
        if client is not None:
            x_future = client.scatter(x, broadcast=True, hash=False)
            futures = [client.submit(ridge_block, x_future, data.responses[:, b], train, test, data.groups, params,
                                     pure=False) for b in blocks]
            parts = client.gather(futures)
        else:
            parts = [ridge_block(x, data.responses[:, b], train, test, data.groups, params) for b in blocks]
        return {"pred": np.concatenate([p for p, _ in parts], 1), "alphas": np.concatenate([a for _, a in parts])}
    settings = {k: v for k, v in encoder.items() if k != "type"}
    settings.setdefault("device", device)
    settings.setdefault("seed", int(config.get("seed", 0)))
    x = as_grid(data.features)
    if kind == "factorized":
        model = FactorizedEncoder(checkpoint_dir=fold_dir, **settings).fit(x[train], data.responses[train])
        return {"pred": model.predict(x[test]), "receptive_fields": model.receptive_fields_.values}
    info = data.targets.drop(columns=["target"])
    model = TransformerBrainEncoder(checkpoint_dir=fold_dir, **settings).fit(x[train], data.responses[train], target_info=info)
    routing = model.routing_maps(x[test])
    return {"pred": model.predict(x[test]), "routing": routing.values, "query_names": np.array(model.query_names_)}


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp{os.getpid()}_{path.name}")
    write(tmp)
    os.replace(tmp, path)


def _savez(path: Path, *array, **arrays) -> None:
    """``np.save`` (one positional array) or ``np.savez`` to exactly ``path`` (no suffix added)."""
    with path.open("wb") as fh:
        np.save(fh, array[0]) if array else np.savez(fh, **arrays)


def _prepare_out(out_dir: Path, config: dict, overwrite: bool, resume: bool) -> None:
    saved = out_dir / "config.yaml"
    if out_dir.exists() and any(out_dir.iterdir()):
        if overwrite:
            shutil.rmtree(out_dir)
        elif resume and saved.is_file():
            if yaml.safe_load(saved.read_text()) != json.loads(json.dumps(config)):
                raise ValueError(f"{saved} holds a different config; use overwrite to start again")
            if (out_dir / DONE).is_file():
                raise FileExistsError(f"{out_dir} already holds a finished fit; use overwrite to replace it")
        else:
            raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite (--overwrite) to replace it "
                                  "or resume (--resume) to continue an interrupted fit")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not saved.is_file():
        _write_atomic(saved, lambda tmp: tmp.write_text(yaml.safe_dump(json.loads(json.dumps(config)))))


def run_fit(config: str | os.PathLike | dict, out_dir: str | os.PathLike, *, overwrite: bool = False,
            resume: bool = False, dask: str | Any | None = None, device: str | None = None,
            progress: bool = True) -> dict:
    """Run a config-driven encoding fit end to end and write its outputs to ``out_dir``.

    Parameters
    ----------
    config
        YAML path or dict (see the module docstring).
    out_dir
        Result folder; refused when it exists and is not empty, unless ``overwrite`` or ``resume``.
    overwrite
        Delete an existing folder first.
    resume
        Continue an interrupted fit with the same config (finished folds and cached features are kept).
    dask
        ``None``; ``"local"`` for a ``LocalCluster`` (2 single-thread workers in this process's
        threads); a scheduler address; or a ``distributed.Client``. Used by the ridge encoder.
    device
        Overrides the config's ``device`` (default ``"auto"``).
    progress
        Show a progress bar over folds.

    Returns
    -------
    dict
        The summary written to ``summary.json`` (numbers of targets and folds, mean/median r, ...).
    """
    config = load_config(config)
    out_dir = Path(out_dir)
    device = device or config.get("device", "auto")
    if "model" in config:
        from cogvision.brain.layer_sweep import run_layer_sweep

        return run_layer_sweep(config, out_dir, overwrite=overwrite, resume=resume, dask=dask, device=device,
                               progress=progress)
    if isinstance(config.get("features"), list) or config["encoder"]["type"] == "banded":
        from cogvision.brain.banded_fit import run_banded_fit  # several feature spaces: banded ridge

        return run_banded_fit(config, out_dir, overwrite=overwrite, resume=resume, device=device, progress=progress)
    _prepare_out(out_dir, config, overwrite, resume)
    data = load_data(config, out_dir / "cache", device)
    splits = outer_splits(config, len(data.responses), data.groups)
    client, own_client = _client(dask)
    try:
        results = []
        for k, (train, test) in enumerate(tqdm(splits, desc="folds", disable=not progress)):
            path = out_dir / "folds" / f"fold_{k}.npz"
            if not path.is_file():
                result = _fit_fold(data, config, train, test, out_dir / "checkpoints" / f"fold_{k}", client, device)
                _write_atomic(path, lambda tmp, r=result, te=test: _savez(tmp, test=te, **r))
            with np.load(path) as saved:
                results.append({key: saved[key] for key in saved.files})
    finally:
        if own_client:
            client.close()
    return _write_outputs(out_dir, config, data, results)


def _client(dask):
    if dask is None:
        return None, False
    from distributed import Client, LocalCluster

    if isinstance(dask, Client):
        return dask, False
    if dask == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster), True
    return Client(dask), True


def _write_outputs(out_dir: Path, config: dict, data: FitData, results: list[dict]) -> dict:
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
    _write_atomic(out_dir / "scores.csv", lambda tmp: scores.to_csv(tmp, index=False))
    rois = roi_summary(r, scores["roi"].to_numpy(), metric="r")
    _write_atomic(out_dir / "roi_summary.csv", lambda tmp: rois.to_csv(tmp, index=False))
    _write_atomic(out_dir / "predictions.npy", lambda tmp: _savez(tmp, pred.astype(np.float32)))
    _write_maps(out_dir, data, results, r)
    summary = {
        "encoder": config["encoder"]["type"], "cv": config["cv"]["scheme"], "n_folds": len(results),
        "n_samples": int(y.shape[0]), "n_targets": int(y.shape[1]), "mean_r": float(np.mean(r)),
        "median_r": float(np.median(r)), "p90_r": float(np.percentile(r, 90)), "max_r": float(np.max(r)),
        "mean_r2": float(np.mean(scores["r2"])),
    }
    _write_atomic(out_dir / DONE, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    return summary


def _write_maps(out_dir: Path, data: FitData, results: list[dict], r: np.ndarray) -> None:
    from cogvision.viz.brain import plot_score_histogram

    figures = out_dir / "figures"
    figures.mkdir(exist_ok=True)
    plot_score_histogram(r, figures / "score_hist.png", label="held-out r")
    if data.masker is not None:
        from cogvision.brain.nilearn_io import save_nifti, to_nifti
        from cogvision.viz.brain import plot_volume_map

        img = to_nifti(r, data.masker)
        save_nifti(img, out_dir / "scores.nii.gz")
        plot_volume_map(img, figures / "scores_map.png", title="held-out r")
    if "hemisphere" in data.targets:
        from cogvision.brain.nilearn_io import save_gifti

        for hemi in ("lh", "rh"):
            side = data.targets["hemisphere"].to_numpy() == hemi
            if side.any():
                save_gifti(r[side], out_dir / f"scores_{hemi}.func.gii")
    if "receptive_fields" in results[0]:
        rf = xr.DataArray(results[-1]["receptive_fields"], dims=("target", "y", "x"), name="receptive_field")
        _write_atomic(out_dir / "receptive_fields.nc", lambda tmp: rf.to_netcdf(tmp, engine="scipy"))
    if "routing" in results[0]:
        last = results[-1]
        routing = xr.DataArray(last["routing"], dims=("stimulus", "query", "y", "x"),
                               coords={"stimulus": last["test"], "query": [str(q) for q in last["query_names"]]},
                               name="routing")
        _write_atomic(out_dir / "routing_maps.nc", lambda tmp: routing.to_netcdf(tmp, engine="scipy"))
