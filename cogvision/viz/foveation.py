"""Figures for the foveated front-ends: pooling windows and one image through several systems."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from cogvision.foveation.geometry import PoolingWindows


def plot_windows(windows: PoolingWindows, image: torch.Tensor | None = None, ax=None):
    """Show every window's half-maximum contour (over ``image`` (3, H, W) if given); returns the figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    weights = windows.weights.numpy()
    if image is not None:
        ax.imshow(image.permute(1, 2, 0).numpy(), alpha=0.6)
    else:
        ax.imshow(np.zeros(weights.shape[1:]), cmap="gray", vmin=0, vmax=1)
    colours = plt.cm.hsv(np.linspace(0, 1, 12, endpoint=False))
    for k in range(weights.shape[0]):
        ax.contour(weights[k], levels=[0.5], colors=[colours[k % 12]], linewidths=0.8)
    ax.set_title(f"{windows.n_windows} windows, s = {windows.scaling}, {windows.fov_deg:g} deg across")
    ax.axis("off")
    return ax.figure


def plot_systems(outputs: dict[str, torch.Tensor], titles: dict[str, str] | None = None):
    """One row of panels, one per system; ``outputs`` maps names to (3, H, W) images. Returns the figure."""
    fig, axes = plt.subplots(1, len(outputs), figsize=(3 * len(outputs), 3.2))
    for ax, (name, image) in zip(np.atleast_1d(axes), outputs.items()):
        ax.imshow(image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
        ax.set_title((titles or {}).get(name, name), fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_suite(result):
    """Occlusion, spatial-frequency, cue-conflict and generalisation panels of an Emergent-Properties
    ``xarray.Dataset`` (from :func:`cogvision.foveation.emergent.run_suite`), averaged over runs."""
    mean = result.mean("run")
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    for system in mean.system.values:
        for occluder, style in (("scotoma", "-"), ("glaucoma", "--")):
            curve = mean["occlusion"].sel(system=system, occluder=occluder)
            axes[0].plot(curve.fraction, curve, style, label=f"{system} {occluder}")
        for filt, style in (("low", "-"), ("high", "--")):
            curve = mean["frequency"].sel(system=system, filter=filt)
            axes[1].plot(curve.sigma_px, curve, style, label=f"{system} {filt}-pass")
    axes[0].set(xlabel="occluded fraction of the image", ylabel="accuracy", title="occlusion")
    axes[1].set(xlabel="Gaussian sigma (px)", ylabel="accuracy", title="spatial frequency", xscale="symlog")
    centre = mean["cue_conflict"].sel(cue="centre")
    width = 0.8 / len(centre.system)
    for i, system in enumerate(centre.system.values):
        axes[2].bar(np.arange(len(centre.radius)) + i * width, centre.sel(system=system), width, label=str(system))
    axes[2].set_xticks(np.arange(len(centre.radius)) + 0.4 - width / 2, [f"{r:g}" for r in centre.radius.values])
    axes[2].set(xlabel="centre window radius (fraction of half side)", ylabel="decisions following the centre",
                title="cue conflict")
    matrix = mean["generalisation"]
    image = axes[3].imshow(matrix.values, vmin=0, vmax=1, cmap="viridis")
    axes[3].set_xticks(range(len(matrix.tested_on)), matrix.tested_on.values, rotation=45, ha="right")
    axes[3].set_yticks(range(len(matrix.system)), matrix.system.values)
    axes[3].set(xlabel="tested on", ylabel="trained on", title="generalisation")
    fig.colorbar(image, ax=axes[3], fraction=0.046)
    for ax in axes[:3]:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
