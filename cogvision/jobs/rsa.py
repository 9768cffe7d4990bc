"""The ``rsa`` job: a network's layer RDMs against human and monkey IT on the 92-image set, written to a folder.

:func:`run_rsa` (``cogvision rsa``) checks its inputs, reads the 92 images and the reference RDMs
(:mod:`data_loaders.kriegeskorte92`), computes each layer's RDM (:func:`cogvision.brain.rsa_report.model_layer_rdms`)
and writes the folder with :func:`write_rsa`: ``rsa.csv`` (``layer, reference, tau_a, tau_a_low, tau_a_high,
ceiling_low, ceiling_high``, ...; also as Parquet), ``rdms.nc``, ``figures/rsa_layers.png``, ``mixed.csv`` (with
mixed RSA), ``paired.csv`` (with a baseline), ``summary.json`` and ``run.json``. The folder appears complete or
not at all (:func:`cogvision.io.publish_folder`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cogvision._docs import fill_doc
from cogvision.brain.rsa import METHODS, METRICS
from cogvision.brain.rsa_report import model_layer_rdms, rsa_tables
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
from cogvision.viz.brain import plot_rsa_layers
from data_loaders.images import to_tensor
from data_loaders.kriegeskorte92 import load_92images, reference_rdms


@fill_doc
def write_rsa(out: str | os.PathLike, rdms: dict[str, np.ndarray], references: dict[str, np.ndarray], *,
              method: str = "tau_a", n_boot: int = 1000, seed: int = 0, mixed_splits: int = 0,
              info: dict | None = None, baseline_rdms: dict[str, np.ndarray] | None = None,
              overwrite: bool = False, metadata: dict | None = None) -> pd.DataFrame:
    """Score ``rdms`` against ``references`` (:func:`cogvision.brain.rsa_report.rsa_tables`) and write the folder.

    Parameters
    ----------
    %(out)s
    rdms, references, method, n_boot, seed, mixed_splits, info, baseline_rdms
        See :func:`cogvision.brain.rsa_report.rsa_tables`.
    %(overwrite)s
    metadata : dict, optional
        ``run.json`` (default :func:`cogvision.io.run_metadata` with the seed).

    Returns
    -------
    pandas.DataFrame
        The ``rsa.csv`` table; the score columns are named after ``method`` (``tau_a``, ``tau_a_low``, ...).
    """
    check_out_dir(out, overwrite)
    result = rsa_tables(rdms, references, method=method, n_boot=n_boot, seed=seed, mixed_splits=mixed_splits,
                        info=info, baseline_rdms=baseline_rdms)
    metadata = run_metadata(seed=seed) if metadata is None else metadata
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as folder:
        write_table(result.table, folder / "rsa.csv")
        write_dataset(result.rdms, folder / "rdms.nc")
        save_figure(plot_rsa_layers(result.table, method), folder / "figures" / "rsa_layers.png", dpi=100)
        if result.mixed is not None:
            write_table(result.mixed, folder / "mixed.csv")
        if result.paired is not None:
            write_table(result.paired, folder / "paired.csv")
        atomic_write(folder / "summary.json", json.dumps(result.summary, indent=2, default=str))
    return result.table


@fill_doc
def run_rsa(model: str, stimuli: str | os.PathLike, out: str | os.PathLike, *, weights: str | None = None,
            layers: list[str] | None = None, metric: str = "correlation", method: str = "tau_a", n_boot: int = 1000,
            mixed_splits: int = 0, paired_untrained: bool = False, seed: int = 0, device: str = "auto",
            overwrite: bool = False) -> pd.DataFrame:
    """Layer sweep of RSA against human IT (4 subjects, ceiling band) and monkey IT, written to ``out``.

    Parameters
    ----------
    model : str
        Model spec (:func:`cogvision.models.load_model`).
    stimuli : path
        Folder in the 92-image layout (Kriegeskorte 2008 ``.mat`` files).
    %(out)s
    weights : str, optional
        Local weights; default the seeded random initialisation.
    layers : list of str, optional
        Module names (default: 8 spread over the network).
    metric, method : str
        RDM distance (:data:`cogvision.brain.rsa.METRICS`) and comparison (:data:`cogvision.brain.rsa.METHODS`).
    n_boot, mixed_splits : int
        Bootstrap samples over stimuli; reweighted RSA over this many 50/50 stimulus splits (0: none).
    paired_untrained : bool
        Also score the same network untrained (seeded init): ``paired.csv``, model minus untrained (needs
        ``weights``).
    %(seed)s
    %(device)s
    %(overwrite)s

    Returns
    -------
    pandas.DataFrame
        ``rsa.csv``.
    """
    if metric not in METRICS:
        raise ValueError(f"--metric must be one of {METRICS}, got {metric!r}")
    if method not in METHODS:
        raise ValueError(f"--method must be one of {METHODS}, got {method!r}")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"--weights file {weights} does not exist")
    if paired_untrained and weights is None:
        raise ValueError("--paired-untrained compares trained with untrained weights; give --weights")
    if n_boot < 1:
        raise ValueError(f"--n-boot must be >= 1, got {n_boot}")
    if mixed_splits < 0:
        raise ValueError(f"--mixed-splits must be >= 0, got {mixed_splits}")
    dev = str(resolve_device(device))
    check_out_dir(out, overwrite)
    ds = load_92images(stimuli)
    images = torch.stack([to_tensor(img) for img in ds["images"].values])
    # the spec was typed on the command line or passed by the caller: that is the opt-in for package.module:factory
    rdms = model_layer_rdms(model, images, layers, weights=None if weights is None else str(weights), metric=metric,
                            seed=seed, device=dev, allow_code=True)
    baseline = (model_layer_rdms(model, images, list(rdms), weights=None, metric=metric, seed=seed, device=dev,
                                 allow_code=True) if paired_untrained else None)
    info = {"model": model, "weights": str(weights) if weights else None, "metric": metric, "stimuli": str(stimuli),
            "paired_untrained": paired_untrained}
    return write_rsa(out, rdms, reference_rdms(ds), method=method, n_boot=n_boot, seed=seed, mixed_splits=mixed_splits,
                     info=info, baseline_rdms=baseline, overwrite=overwrite,
                     metadata=run_metadata(seed=seed, device=dev, model=model))
