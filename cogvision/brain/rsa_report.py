"""A network's layers against reference RDMs: features -> RDMs -> layer sweep (+ mixed RSA, paired bootstrap).

:func:`model_layer_rdms` extracts each layer's features of a stimulus set through :mod:`cogvision.models`
and turns them into RDMs; :func:`rsa_tables` scores them against the references and returns every table of
``cogvision rsa`` (the job that writes them is :mod:`cogvision.jobs.rsa`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr

from cogvision.brain.rsa import compute_rdm, layer_sweep, paired_difference
from cogvision.brain.rsa_mixed import mixed_rsa
from cogvision.models import default_layers, extract_features, get_layer, load_model


def model_layer_rdms(spec: str, images: torch.Tensor, layers: list[str] | None = None, *, weights: str | None = None,
                     metric: str = "correlation", seed: int = 0, device: str = "auto",
                     batch_size: int = 32, allow_code: bool = False) -> dict[str, np.ndarray]:
    """RDM (n, n) of every layer of model ``spec`` for ``images`` (n, 3, H, W) in [0, 1].

    ``layers=None`` takes 8 layers spread over the network (:func:`cogvision.models.probe.default_layers`).
    ``weights=None`` keeps the seeded random initialisation (an untrained control); ``allow_code`` lets a
    ``package.module:factory`` spec run its code (see :func:`cogvision.models.load_model`).
    """
    torch.manual_seed(seed)
    model = load_model(spec, weights=weights, device=device, allow_code=allow_code)
    layers = list(layers) if layers else default_layers(model, 8)
    for name in layers:
        get_layer(model, name)  # a clear error naming the layer before any work
    ds = extract_features(model, images, layers, batch_size=batch_size)
    dev = next(model.parameters()).device
    return {name: compute_rdm(ds[name].values.reshape(len(images), -1), metric, device=str(dev)) for name in layers}


@dataclass
class RSAResult:
    """What :func:`rsa_tables` returns (the files of ``cogvision rsa``).

    Attributes
    ----------
    table : pandas.DataFrame
        ``rsa.csv``: ``layer, layer_index, reference, method``, the score columns named after the method
        (``tau_a, tau_a_low, tau_a_high``) and ``ceiling_low, ceiling_high``.
    rdms : xarray.DataArray
        (layer, stimulus, stimulus2), ``rdms.nc``.
    summary : dict
        ``summary.json``.
    mixed : pandas.DataFrame or None
        ``mixed.csv``, when mixed RSA was asked for.
    paired : pandas.DataFrame or None
        ``paired.csv``, when baseline RDMs were given.
    """

    table: pd.DataFrame
    rdms: xr.DataArray
    summary: dict
    mixed: pd.DataFrame | None = None
    paired: pd.DataFrame | None = None


def rsa_tables(rdms: dict[str, np.ndarray], references: dict[str, np.ndarray], *, method: str = "tau_a",
               n_boot: int = 1000, seed: int = 0, mixed_splits: int = 0, info: dict | None = None,
               baseline_rdms: dict[str, np.ndarray] | None = None) -> RSAResult:
    """Layer sweep against each reference, with optional mixed RSA and a paired comparison with a baseline.

    Parameters
    ----------
    rdms : dict of str to ndarray of shape (n, n)
        One RDM per layer, in layer order.
    references : dict of str to ndarray
        Reference RDMs (n, n) or stacks of subjects' RDMs (see :func:`cogvision.brain.rsa.layer_sweep`).
    method : str
        RDM comparison (:data:`cogvision.brain.rsa.METHODS`).
    n_boot, seed : int
        Bootstrap over stimuli.
    mixed_splits : int
        Reweighted RSA over this many 50/50 stimulus splits (0: none).
    info : dict, optional
        Added to the summary.
    baseline_rdms : dict of str to ndarray, optional
        Same layers of a baseline network: the paired bootstrap of
        :func:`cogvision.brain.rsa.paired_difference`, model minus baseline, on the same samples of stimuli.

    Returns
    -------
    RSAResult
    """
    table = layer_sweep(rdms, references, method=method, n_boot=n_boot, seed=seed)
    table = table.rename(columns={"score": method, "score_low": f"{method}_low", "score_high": f"{method}_high"})
    layers = list(rdms)
    da = xr.DataArray(np.stack([rdms[k] for k in layers]), dims=("layer", "stimulus", "stimulus2"),
                      coords={"layer": layers}, name="rdm")
    summary = {**(info or {}), "method": method, "n_boot": n_boot, "layers": layers}
    result = RSAResult(table, da, summary)
    if mixed_splits:
        rows = []
        for name, ref in references.items():
            res = mixed_rsa(np.stack([rdms[k] for k in layers]), ref, method, n_splits=mixed_splits, seed=seed)
            rows.append(pd.DataFrame({"reference": name, "split": np.arange(mixed_splits),
                                      **{k: v for k, v in res.items() if k != "weights"}}))
            summary[f"mixed_mean_weights_{name}"] = dict(zip(layers, res["weights"].mean(0).round(6).tolist()))
        result.mixed = pd.concat(rows, ignore_index=True)
    if baseline_rdms is not None:
        paired = paired_difference(rdms, baseline_rdms, references, method=method, n_boot=n_boot, seed=seed)
        best = paired[paired["layer"] == "best"].set_index("reference")
        summary["paired_best_layer_difference"] = {
            ref: {k: float(row[k]) for k in ("difference", "difference_low", "difference_high", "p_value")}
            for ref, row in best.iterrows()}
        result.paired = paired
    return result
