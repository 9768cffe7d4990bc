"""The ``fit-encoder`` job: a config-driven, resumable encoding fit from a config to a result folder.

``cogvision fit-encoder CONFIG.yaml`` and :func:`run_fit` from Python. The config (``docs/fit_encoder.md``,
:class:`~cogvision.jobs.fit_encoder_config.FitEncoderConfig`) names the data, the encoder(s) and the outer
cross-validation. Everything that can be checked before fitting is checked before a folder is claimed: the
config's keys, types and choices, the files it names, the device, the output folder, and the data (responses,
ROI labels, groups, feature files, images; their numbers of samples).

Where the fit runs, so that nothing is lost:

* ``overwrite``: in a staging folder published over OUT only when complete (the old results stay intact on
  any error or interruption; :func:`cogvision.io.publish_folder`);
* a new OUT: in OUT itself, so that an interrupted fit can go on with ``resume``; a fit that fails or is
  interrupted before finishing a fold leaves no folder behind;
* ``resume``: in OUT, refused when the config differs from the saved ``config.yaml`` (the differing keys named).

Each fold's held-out predictions are saved as soon as the fold ends (``folds/fold_K.npz``), features are cached
(``cache/``) and neural encoders checkpoint every epoch (``checkpoints/fold_K/``). Outputs: ``scores.csv`` (per
target: ``target, roi, r, r2, r_fold_mean`` and ``best_alpha`` for ridge; also as Parquet), ``roi_summary.csv``,
``predictions.npy``, maps (``scores.nii.gz`` for volumes, ``scores_lh.func.gii``/``scores_rh.func.gii``
per-vertex in input order for surfaces, ``receptive_fields.nc``, ``routing_maps.nc``), ``figures/``,
``config.yaml``, ``run.json`` and ``summary.json`` (written last). A list of features is a banded fit
(:mod:`cogvision.jobs.brain_banded`), a ``model`` block a layer sweep (:mod:`cogvision.jobs.brain_layer_sweep`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from cogvision._docs import fill_doc
from cogvision.brain.fitting import fit_fold, fit_summary, score_folds
from cogvision.brain.nilearn_io import save_gifti, save_nifti, to_nifti
from cogvision.config import config_differences
from cogvision.device import resolve_device
from cogvision.io import (
    atomic_write,
    check_out_dir,
    publish_folder,
    run_metadata,
    save_figure,
    write_dataset,
    write_table,
)
from cogvision.jobs import brain_banded, brain_layer_sweep
from cogvision.jobs.brain_data import Inputs, band_features, check_files, load_inputs, load_session
from cogvision.jobs.brain_folds import DONE, FitContext, npy_bytes, saved_fold, write_json
from cogvision.jobs.fit_encoder_config import FitEncoderConfig, load_config
from cogvision.reporting import get_logger, progress
from cogvision.viz.brain import plot_score_histogram, plot_volume_map

try:  # optional dependency (the [dask] extra): ridge fits on a dask cluster
    from distributed import Client, LocalCluster
except ImportError:  # pragma: no cover - without dask, a --dask run is refused with a clear error
    Client = LocalCluster = None

log = get_logger(__name__)
CONFIG_NAME = "config.yaml"


def saved_config(config: FitEncoderConfig) -> dict:
    """The config as ``config.yaml`` records it (the keys the user gave, in JSON types)."""
    return config.model_dump(mode="json", exclude_unset=True)


def check_resume(config: FitEncoderConfig, out: Path) -> None:
    """``out`` can be resumed with ``config``: it holds the same config and no finished fit (else an error)."""
    saved = out / CONFIG_NAME
    if not saved.is_file():
        check_out_dir(out, overwrite=False, flag="--out (with --resume)")
        return
    try:
        old = yaml.safe_load(saved.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"--resume: {saved} is not valid YAML ({' '.join(str(err).split())})") from None
    keys = [k for k in config_differences(saved_config(config), old) if k != "base_dir"]
    if keys:
        raise ValueError(f"--resume: the config differs from the config of the fit in {saved} at {', '.join(keys)}; "
                         "use the same config, or --overwrite to start again")
    if (out / DONE).is_file():
        raise FileExistsError(f"{out} already holds a finished fit; use --overwrite to replace it")


def has_progress(out: Path) -> bool:
    """Whether ``out`` holds work worth resuming (a finished fold or layer)."""
    return any(p.is_file() for p in out.glob("folds/*.npz")) or (out / DONE).is_file()


def open_client(dask: Any) -> tuple[Any, bool]:
    """A dask client for ``dask`` (None, ``"local"``, an address or a client) and whether this run owns it."""
    if dask is None:
        return None, False
    if Client is None:
        raise ValueError("--dask needs the dask extra: pip install 'cogvision[dask]'")
    if isinstance(dask, Client):
        return dask, False
    if dask == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster), True
    return Client(dask), True


@fill_doc
def run_fit(config: str | os.PathLike | dict | FitEncoderConfig, out_dir: str | os.PathLike, *,
            overwrite: bool = False, resume: bool = False, dask: str | Any | None = None, device: str | None = None,
            progress: bool = True) -> dict:
    """Run a config-driven encoding fit end to end and write its outputs to ``out_dir``.

    Parameters
    ----------
    config : path, dict or FitEncoderConfig
        A config file (YAML, JSON, TOML), a mapping or a validated config (see ``docs/fit_encoder.md``).
    out_dir : path
        Result folder (see the module description for where the fit runs).
    %(overwrite)s
    resume : bool, default False
        Continue an interrupted fit in ``out_dir`` with the same config (finished folds and cached features are
        kept); refused when the config differs from the saved one.
    dask : str or distributed.Client, optional
        ``"local"`` for a ``LocalCluster`` (2 single-thread workers in this process's threads), a scheduler
        address or a client; default the config's ``dask``. Used by the ridge encoder.
    device : str, optional
        Overrides the config's ``device`` (default ``"auto"``).
    %(progress)s

    Returns
    -------
    dict
        The summary written to ``summary.json`` (numbers of targets and folds, mean/median r, ...).

    Raises
    ------
    ValueError, FileNotFoundError, FileExistsError, NotADirectoryError
        For a bad config, a missing file, bad data or an output folder that cannot be written; before anything
        is written.
    """
    if overwrite and resume:
        raise ValueError("--overwrite and --resume exclude each other: --resume continues the fit in OUT, "
                         "--overwrite replaces it")
    source = str(config) if isinstance(config, (str, os.PathLike)) else None
    config = load_config(config)
    dev = str(resolve_device(device or config.device))
    out = Path(out_dir)
    if resume and out.is_dir():
        check_resume(config, out)
    else:
        check_out_dir(out, overwrite=overwrite)
    check_files(config)
    inputs = load_session(config.data, config) if config.kind == "sweep" else load_inputs(config, dev)
    metadata = run_metadata(seed=config.seed, device=dev, config=source, kind=config.kind)
    client, own_client = open_client(dask if dask is not None else config.dask)
    try:
        if overwrite:
            with publish_folder(out, overwrite=True, metadata=metadata) as folder:
                return _fit_in(FitContext(config, folder, dev, client, progress), inputs)
        fresh = not (out.is_dir() and any(out.iterdir()))
        try:
            summary = _fit_in(FitContext(config, out, dev, client, progress), inputs)
        except BaseException:
            if fresh and out.is_dir() and not has_progress(out):
                shutil.rmtree(out, ignore_errors=True)  # nothing worth resuming: leave no half folder behind
            raise
        atomic_write(out / "run.json", json.dumps(metadata, indent=2, default=str) + "\n")
        return summary
    finally:
        if own_client:
            client.close()


def _fit_in(ctx: FitContext, inputs: Any) -> dict:
    ctx.folder.mkdir(parents=True, exist_ok=True)
    if not (ctx.folder / CONFIG_NAME).is_file():
        atomic_write(ctx.folder / CONFIG_NAME, yaml.safe_dump(saved_config(ctx.config)))
    if ctx.config.kind == "sweep":
        return brain_layer_sweep.fit_sweep(ctx, *inputs)
    if ctx.config.kind == "banded":
        return brain_banded.fit_banded(ctx, inputs)
    return fit_single(ctx, inputs)


def fit_single(ctx: FitContext, inputs: Inputs) -> dict:
    """One encoder on one feature space: every outer fold, then scores, maps, figures and ``summary.json``."""
    data = inputs.data
    if data.features is None:
        data.features = band_features(ctx.config, inputs, ctx.cache_dir, ctx.device)[0]
    encoder = ctx.config.encoder_list()[0]
    splits = ctx.splits(len(data.responses), data.groups)
    results = []
    for k, (train, test) in enumerate(progress(splits, desc="folds", disable=not ctx.progress)):
        def compute(k=k, train=train, test=test) -> dict:
            return {"test": test, **fit_fold(data, encoder, train, test, checkpoint_dir=ctx.folder / "checkpoints" /
                                             f"fold_{k}", client=ctx.client, device=ctx.device, seed=ctx.config.seed)}

        results.append(saved_fold(ctx.folder / "folds" / f"fold_{k}.npz", compute))
    scores, rois, pred = score_folds(data, results)
    write_table(scores, ctx.folder / "scores.csv")
    write_table(rois, ctx.folder / "roi_summary.csv")
    atomic_write(ctx.folder / "predictions.npy", npy_bytes(pred.astype(np.float32)))
    write_maps(ctx.folder, inputs, results, scores["r"].to_numpy())
    summary = fit_summary(scores, encoder["type"], ctx.config.cv.scheme, len(results), len(data.responses))
    write_json(ctx.folder / DONE, summary)
    log.info("fit-encoder: %d targets, mean r %.4f", summary["n_targets"], summary["mean_r"])
    return summary


def write_maps(folder: Path, inputs: Inputs, results: list[dict], r: np.ndarray) -> None:
    """Score maps and figures: histogram, NIfTI (volumes), GIFTI (surfaces), receptive fields, routing maps."""
    data = inputs.data
    save_figure(plot_score_histogram(r, label="held-out r"), folder / "figures" / "score_hist.png", dpi=100)
    if data.masker is not None:
        img = to_nifti(r, data.masker)
        save_nifti(img, folder / "scores.nii.gz")
        save_figure(plot_volume_map(img, title="held-out r"), folder / "figures" / "scores_map.png", dpi=100)
    if "hemisphere" in data.targets:
        for hemi in ("lh", "rh"):
            side = data.targets["hemisphere"].to_numpy() == hemi
            if side.any():
                save_gifti(r[side], folder / f"scores_{hemi}.func.gii")
    last = results[-1]
    if "receptive_fields" in last:
        rf = xr.DataArray(last["receptive_fields"], dims=("target", "y", "x"), name="receptive_field")
        write_dataset(rf, folder / "receptive_fields.nc")
    if "routing" in last:
        routing = xr.DataArray(last["routing"], dims=("stimulus", "query", "y", "x"),
                               coords={"stimulus": last["test"], "query": [str(q) for q in last["query_names"]]},
                               name="routing")
        write_dataset(routing, folder / "routing_maps.nc")
