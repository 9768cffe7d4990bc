"""DiSRT figures: accuracy against distortion strength per layer, the Top-K sweep, example trials."""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

from cogvision.gestalt.scoring import NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS


def _reference_lines(ax, human: float | None) -> None:
    ax.axhline(NULL_PIXEL, color="0.5", lw=1, ls=":", label=f"null: pixel observer ({NULL_PIXEL:g})")
    ax.axhline(NULL_STRUCTURE_BLIND, color="0.2", lw=1, ls="-.",
               label=f"null: structure-blind ({NULL_STRUCTURE_BLIND:g})")
    if human is not None and np.isfinite(human):
        ax.axhline(human, color="tab:red", lw=1, ls="--", label=f"human reference ({human:.2f})")


def plot_accuracy(ds: xr.Dataset, k: float = 1.0, title: str | None = None) -> plt.Figure:
    """Accuracy (95% bootstrap interval) against grid size, one line per layer, one panel per distortion.

    Parameters
    ----------
    ds
        Results of :func:`cogvision.gestalt.run_disrt`.
    k
        Top-K fraction to show (1 = dense).
    title
        Figure title (default: the model).
    """
    dists = [str(d) for d in ds["distortion"].values]
    fig, axes = plt.subplots(1, len(dists), figsize=(4.2 * len(dists), 3.6), sharey=True, squeeze=False)
    strengths = ds["strength"].values
    layers = [str(layer) for layer in ds["layer"].values]
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(layers) - 1)))
    human = float(ds.attrs.get("human", np.nan))
    for ax, dist in zip(axes[0], dists):
        sel = ds.sel(distortion=dist, k=k)
        color_iter = iter(colors)
        for layer in layers:
            row = sel.sel(layer=layer)
            acc = row["accuracy"].values
            err = np.stack([acc - row["accuracy_low"].values, row["accuracy_high"].values - acc])
            style = dict(color="0.4", ls="--") if layer == PIXELS else dict(color=next(color_iter))
            ax.errorbar(strengths, acc, yerr=err, marker="o", ms=4, capsize=2, lw=1.3, label=layer, **style)
        _reference_lines(ax, human)
        ax.set_xticks(strengths)
        ax.set_xlabel("grid (patches per side)")
        ax.set_title(dist)
        ax.set_ylim(-0.03, 1.03)
    axes[0, 0].set_ylabel("odd-one-out accuracy")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    label = "dense" if k == 1.0 else f"Top-K k={k:g}"
    fig.suptitle(title or f"DiSRT: {ds.attrs.get('model', '')} ({label})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_topk(ds: xr.Dataset, title: str | None = None) -> plt.Figure:
    """Mean accuracy over distortions and strengths against the Top-K fraction, one line per layer.

    ``k = 1`` is the dense network; Top-K layers are listed in the title.
    """
    ks = np.sort(ds["k"].values)
    by_k = ds["correct"].mean(("distortion", "strength", "image"))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    layers = [str(layer) for layer in ds["layer"].values if layer != PIXELS]
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(layers))))
    for layer, color in zip(layers, colors):
        ax.plot(ks, by_k.sel(layer=layer, k=ks).values, marker="o", color=color, label=layer)
    _reference_lines(ax, float(ds.attrs.get("human", np.nan)))
    ax.set_xscale("log")
    ax.set_xticks(ks)
    ax.set_xticklabels([f"{k:g}" for k in ks])
    ax.set_xlabel("Top-K fraction kept (1 = dense)")
    ax.set_ylabel("mean accuracy")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7)
    ax.set_title(title or f"Top-K at {ds.attrs.get('topk_layers', '')}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_trials(rows: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]) -> plt.Figure:
    """Example trials: each row (label, image, nuisance, distortion) with (3, H, W) tensors in [0, 1]."""
    fig, axes = plt.subplots(len(rows), 3, figsize=(6, 2.1 * len(rows)), squeeze=False)
    for (label, *items), row_axes in zip(rows, axes):
        for ax, item, name in zip(row_axes, items, ("image", "nuisance", label)):
            ax.imshow(item.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(name, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig
