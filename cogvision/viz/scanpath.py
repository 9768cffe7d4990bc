"""Figures for the scanpath module: scanpaths drawn on the object grid (or image), and metric bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402


def plot_scanpaths(data, trial: str, predictions: pd.DataFrame | None = None, max_humans: int = 3,
                   sample: int = 0) -> plt.Figure:
    """Human scanpaths (and a predicted one) of one trial on its object boxes, or on its image when it has one.

    Parameters
    ----------
    data
        A :class:`~cogvision.scanpath.ScanpathSet` holding ``trial``.
    trial
        Trial id.
    predictions
        Optional prediction table (``trial, sample, fixation, object, x, y``); the given ``sample`` is drawn.
    max_humans
        Most human scanpaths to draw.
    """
    if trial not in data.scenes:
        raise ValueError(f"trial {trial!r} is not in {data.name!r}")
    scene = data.scenes[trial]
    panels = 1 + (predictions is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 5.5 * scene.height / scene.width + 0.6), squeeze=False)
    humans = data.fixations[data.fixations["trial"] == trial]
    colours = plt.cm.tab10.colors
    for ax in axes[0]:
        if scene.image is not None:
            ax.imshow(scene.image, extent=(0, scene.width, scene.height, 0))
        for k, (x0, y0, x1, y1) in enumerate(scene.boxes):
            target = k == scene.target
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=target, alpha=0.25 if target else 0.6,
                                   color="gold" if target else "0.6", lw=0.5))
        ax.set_xlim(0, scene.width)
        ax.set_ylim(scene.height, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for i, (subject, group) in enumerate(humans.groupby("subject")):
        if i >= max_humans:
            break
        axes[0, 0].plot(group["x"], group["y"], "-o", ms=3, lw=1, color=colours[i % 10], label=f"subject {subject}")
    axes[0, 0].set_title(f"{trial}: humans (target gold)", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    if predictions is not None:
        pred = predictions[(predictions["trial"] == trial) & (predictions["sample"] == sample)].sort_values("fixation")
        axes[0, 1].plot(pred["x"], pred["y"], "-o", ms=3, lw=1, color="crimson")
        if len(pred):
            axes[0, 1].plot(pred["x"].iloc[:1], pred["y"].iloc[:1], "s", color="k", ms=6)
        axes[0, 1].set_title(f"model (sample {sample}, {len(pred)} fixations)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_metric_bars(table: pd.DataFrame, metrics=("delta", "sequence_score", "mm_position")) -> plt.Figure:
    """Mean (and sd over seeds) of some metrics per model and decoding, from a comparison table."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    label = table["model"] + " " + table["decoding"].str.replace("leave-one-subject-out", "LOSO")
    grouped = table.assign(label=label).groupby("label", sort=False)
    for ax, metric in zip(axes[0], metrics):
        mean, sd = grouped[metric].mean(), grouped[metric].std(ddof=0).fillna(0)
        ax.barh(np.arange(len(mean)), mean.to_numpy(), xerr=sd.to_numpy(), color="steelblue")
        ax.set_yticks(np.arange(len(mean)), mean.index, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(metric + (" (lower is better)" if metric in ("delta", "edit_distance") else ""), fontsize=9)
    fig.tight_layout()
    return fig
