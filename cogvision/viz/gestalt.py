"""DiSRT figures: accuracy against distortion strength per layer, the Top-K sweep, example trials."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

from cogvision.gestalt.scoring import NULL_PIXEL, NULL_STRUCTURE_BLIND, PIXELS

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
DODGE = 0.07  # horizontal offset between neighbouring layers, in log2 units of the x axis ...
MAX_SPREAD = 0.5  # ... with all layers together spread over at most half an octave


def _reference_lines(ax, human: float | None) -> None:
    ax.axhline(NULL_PIXEL, color="0.5", lw=1, ls=":", label=f"null: pixel observer ({NULL_PIXEL:g})")
    ax.axhline(NULL_STRUCTURE_BLIND, color="0.2", lw=1, ls="-.",
               label=f"null: structure-blind ({NULL_STRUCTURE_BLIND:g})")
    if human is not None and np.isfinite(human):
        ax.axhline(human, color="tab:red", lw=1, ls="--", label=f"human reference ({human:.2f})")


def _layer_styles(layers: list[str]) -> dict[str, dict]:
    """Colour, marker and horizontal offset of each layer: lines that coincide (e.g. all at 0) stay visible."""
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(layers) - (PIXELS in layers))))
    styles, color_iter = {}, iter(colors)
    step = min(DODGE, MAX_SPREAD / max(1, len(layers) - 1))
    for i, layer in enumerate(layers):
        style = dict(color="0.4", ls="--") if layer == PIXELS else dict(color=next(color_iter))
        style.update(marker=MARKERS[i % len(MARKERS)], offset=2 ** ((i - (len(layers) - 1) / 2) * step))
        styles[layer] = style
    return styles


def _legend_outside(fig: plt.Figure, ax) -> None:
    """One legend for the figure, right of the panels, so that it never covers data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)


def _log2_ticks(ax, values: np.ndarray) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.minorticks_off()
    ax.set_xlim(values.min() / 2 ** 0.4, values.max() * 2 ** 0.4)


def plot_accuracy(ds: xr.Dataset, k: float = 1.0, title: str | None = None) -> plt.Figure:
    """Accuracy (95% bootstrap interval) against grid size, one line per layer, one panel per distortion.

    Layers are told apart by colour and marker and drawn slightly apart along x, so that lines at the
    same accuracy (often all at 0 or 1) do not hide each other; the legend sits right of the panels.

    Parameters
    ----------
    ds
        Results of :func:`cogvision.gestalt.run_disrt`.
    k
        Top-K fraction to show (1 = dense).
    title
        Figure title (default: the model).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`cogvision.io.save_figure`.
    """
    dists = [str(d) for d in ds["distortion"].values]
    fig, axes = plt.subplots(1, len(dists), figsize=(4.2 * len(dists), 3.6), sharey=True, squeeze=False)
    strengths = ds["strength"].values.astype(float)
    styles = _layer_styles([str(layer) for layer in ds["layer"].values])
    for ax, dist in zip(axes[0], dists):
        sel = ds.sel(distortion=dist, k=k)
        for layer, style in styles.items():
            row = sel.sel(layer=layer)
            acc = row["accuracy"].values
            err = np.stack([acc - row["accuracy_low"].values, row["accuracy_high"].values - acc])
            line = {key: value for key, value in style.items() if key != "offset"}
            ax.errorbar(strengths * style["offset"], acc, yerr=err, ms=4.5, capsize=2, lw=1.3, mfc="white",
                        label=layer, **line)
        _reference_lines(ax, float(ds.attrs.get("human", np.nan)))
        _log2_ticks(ax, strengths)
        ax.set_xlabel("grid (patches per side)")
        ax.set_title(dist)
        ax.set_ylim(-0.05, 1.05)
    axes[0, 0].set_ylabel("odd-one-out accuracy")
    _legend_outside(fig, axes[0, -1])
    label = "dense" if k == 1.0 else f"Top-K k={k:g}"
    fig.suptitle(title or f"DiSRT: {ds.attrs.get('model', '')} ({label})", fontsize=10)
    fig.tight_layout()
    return fig


def topk_layers_label(ds: xr.Dataset) -> str:
    """The Top-K layers of a run as readable text (``attrs["topk_layers"]`` holds them as a JSON list)."""
    raw = ds.attrs.get("topk_layers", "")
    try:
        layers = json.loads(raw) if isinstance(raw, str) and raw else list(raw)
    except json.JSONDecodeError:
        return str(raw)
    return ", ".join(str(layer) for layer in layers)


def plot_topk(ds: xr.Dataset, title: str | None = None) -> plt.Figure:
    """Mean accuracy over distortions and strengths against the Top-K fraction, one line per layer.

    ``k = 1`` is the dense network; the title names the layers that carry Top-K.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`cogvision.io.save_figure`.
    """
    ks = np.sort(ds["k"].values)
    by_k = ds["correct"].mean([d for d in ("distortion", "strength", "image", "trial") if d in ds["correct"].dims])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    styles = _layer_styles([str(layer) for layer in ds["layer"].values if layer != PIXELS])
    for layer, style in styles.items():
        line = {key: value for key, value in style.items() if key != "offset"}
        ax.plot(ks * style["offset"], by_k.sel(layer=layer, k=ks).values, ms=4.5, mfc="white", label=layer, **line)
    _reference_lines(ax, float(ds.attrs.get("human", np.nan)))
    ax.set_xscale("log")
    ax.set_xticks(ks)
    ax.set_xticklabels([f"{k:g}" for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("Top-K fraction kept (1 = dense)")
    ax.set_ylabel("mean accuracy")
    ax.set_ylim(-0.05, 1.05)
    _legend_outside(fig, ax)
    ax.set_title(title or f"Top-K at {topk_layers_label(ds)}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_trials(rows: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]) -> plt.Figure:
    """Example trials: each row (label, image, nuisance, distortion) with (3, H, W) tensors in [0, 1].

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`cogvision.io.save_figure`.
    """
    fig, axes = plt.subplots(len(rows), 3, figsize=(6, 2.1 * len(rows)), squeeze=False)
    for (label, *items), row_axes in zip(rows, axes):
        for ax, item, name in zip(row_axes, items, ("image", "nuisance", label)):
            ax.imshow(item.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(name, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig
