"""A network's layers against reference RDMs: features -> RDMs -> layer sweep (+ mixed RSA) -> files.

:func:`model_layer_rdms` extracts each layer's features of a stimulus set through
:mod:`cogvision.models` and turns them into RDMs; :func:`write_rsa` writes ``rsa.csv`` (``layer,
reference, tau_a, tau_a_low, tau_a_high, ceiling_low, ceiling_high``, ...), ``rdms.nc`` and a figure of
the layer curves against the ceiling band, each file written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from cogvision.brain.rsa import compute_rdm, layer_sweep, mixed_rsa, paired_difference


def model_layer_rdms(spec: str, images: torch.Tensor, layers: list[str] | None = None, *, weights: str | None = None,
                     metric: str = "correlation", seed: int = 0, device: str = "auto",
                     batch_size: int = 32) -> dict[str, np.ndarray]:
    """RDM (n, n) of every layer of model ``spec`` for ``images`` (n, 3, H, W) in [0, 1].

    ``layers=None`` takes 8 layers spread over the network (:func:`cogvision.models.probe.default_layers`).
    ``weights=None`` keeps the seeded random initialisation (an untrained control).
    """
    from cogvision.models import extract_features, load_model
    from cogvision.models import default_layers, get_layer

    torch.manual_seed(seed)
    model = load_model(spec, weights=weights, device=device)
    layers = list(layers) if layers else default_layers(model, 8)
    for name in layers:
        get_layer(model, name)  # a clear error naming the layer before any work
    ds = extract_features(model, images, layers, batch_size=batch_size)
    dev = next(model.parameters()).device
    return {name: compute_rdm(ds[name].values.reshape(len(images), -1), metric, device=str(dev)) for name in layers}


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".tmp{os.getpid()}_{path.name}")
    write(tmp)
    os.replace(tmp, path)


def write_rsa(out: Path, rdms: dict[str, np.ndarray], references: dict[str, np.ndarray], *, method: str = "tau_a",
              n_boot: int = 1000, seed: int = 0, mixed_splits: int = 0, info: dict | None = None,
              baseline_rdms: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Layer sweep against each reference; write ``rsa.csv``, ``rdms.nc``, ``figures/rsa_layers.png``,
    ``mixed.csv`` (when ``mixed_splits``), ``paired.csv`` (when ``baseline_rdms``: the paired bootstrap of
    :func:`cogvision.brain.rsa.paired_difference`, model minus baseline, on the same samples of stimuli)
    and ``summary.json`` into ``out``, built in a temporary folder beside it and renamed at the end
    (``out`` must be absent or empty).

    Returns
    -------
    pandas.DataFrame
        The ``rsa.csv`` table; the score columns are named after ``method`` (``tau_a``, ``tau_a_low``, ...).
    """
    table = layer_sweep(rdms, references, method=method, n_boot=n_boot, seed=seed)
    table = table.rename(columns={"score": method, "score_low": f"{method}_low", "score_high": f"{method}_high"})
    final, out = Path(out), Path(out).with_name(f".{Path(out).name}.tmp{os.getpid()}")
    if final.exists() and any(final.iterdir()):
        raise FileExistsError(f"{final} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    _atomic(out / "rsa.csv", lambda tmp: table.to_csv(tmp, index=False))
    layers = list(rdms)
    da = xr.DataArray(np.stack([rdms[k] for k in layers]), dims=("layer", "stimulus", "stimulus2"),
                      coords={"layer": layers}, name="rdm")
    _atomic(out / "rdms.nc", lambda tmp: da.to_netcdf(tmp, engine="scipy"))
    _atomic(out / "figures" / "rsa_layers.png", lambda tmp: rsa_figure(table, method).savefig(tmp, format="png"))
    summary = {**(info or {}), "method": method, "n_boot": n_boot, "layers": layers}
    if mixed_splits:
        rows = []
        for name, ref in references.items():
            res = mixed_rsa(np.stack([rdms[k] for k in layers]), ref, method, n_splits=mixed_splits, seed=seed)
            rows.append(pd.DataFrame({"reference": name, "split": np.arange(mixed_splits),
                                      **{k: v for k, v in res.items() if k != "weights"}}))
            summary[f"mixed_mean_weights_{name}"] = dict(zip(layers, res["weights"].mean(0).round(6).tolist()))
        mixed = pd.concat(rows, ignore_index=True)
        _atomic(out / "mixed.csv", lambda tmp: mixed.to_csv(tmp, index=False))
    if baseline_rdms is not None:
        paired = paired_difference(rdms, baseline_rdms, references, method=method, n_boot=n_boot, seed=seed)
        _atomic(out / "paired.csv", lambda tmp: paired.to_csv(tmp, index=False))
        best = paired[paired["layer"] == "best"].set_index("reference")
        summary["paired_best_layer_difference"] = {
            ref: {k: float(row[k]) for k in ("difference", "difference_low", "difference_high", "p_value")}
            for ref, row in best.iterrows()}
    _atomic(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2, default=str)))
    if final.exists():
        final.rmdir()
    os.replace(out, final)  # the whole folder appears at once
    return table


def rsa_figure(table: pd.DataFrame, method: str = "tau_a"):
    """Layer curves (with bootstrap intervals) against each reference's noise-ceiling band."""
    from matplotlib.figure import Figure

    refs = list(dict.fromkeys(table["reference"]))
    fig = Figure(figsize=(4 * len(refs), 3.5))
    for k, ref in enumerate(refs):
        ax = fig.add_subplot(1, len(refs), k + 1)
        part = table[table["reference"] == ref]
        x = part["layer_index"].to_numpy()
        below = (part[method] - part[f"{method}_low"]).clip(lower=0)
        above = (part[f"{method}_high"] - part[method]).clip(lower=0)
        ax.errorbar(x, part[method], yerr=[below, above],
                    marker="o", capsize=2)
        if np.isfinite(part["ceiling_low"]).all():
            ax.axhspan(part["ceiling_low"].iloc[0], part["ceiling_high"].iloc[0], color="0.8", label="noise ceiling")
            ax.legend()
        ax.set_xticks(x, part["layer"], rotation=45, ha="right")
        ax.set_title(ref)
        ax.set_ylabel(method)
    fig.tight_layout()
    return fig
