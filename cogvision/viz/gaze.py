"""Figures for gaze following: heatmap overlays with gaze arrows, synthetic scenes, method comparisons."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

COLOURS = ["#ff3b30", "#34c759", "#0a84ff", "#ffcc00", "#bf5af2", "#64d2ff"]
#: Axis titles of the score columns, with the direction that is better.
METRIC_TITLES = {"auc": "AUC (higher is better)", "avg_l2": "Avg L2 (lower is better)",
                 "min_l2": "Min L2 (lower is better)", "vat_auc": "VAT AUC (higher is better)",
                 "ap": "in/out AP (higher is better)"}


def _image_array(image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        return image.permute(1, 2, 0).numpy() if image.ndim == 3 and image.shape[0] == 3 else image.numpy()
    return np.asarray(image)


def plot_gaze(image, result: xr.Dataset, ax=None, alpha: float = 0.45, title: str | None = None) -> Figure:
    """Image with the heatmaps of all people overlaid, head boxes and arrows to the gaze points.

    Parameters
    ----------
    image
        (3, H, W) tensor in [0, 1] or (H, W, 3) array.
    result
        Output of :func:`cogvision.gaze.predict.predict`.
    ax
        Matplotlib axes (a new figure when ``None``).
    alpha
        Opacity of the heatmap overlay at each map's maximum (it falls to 0 with the map's value).
    title
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7 * result.attrs["height"] / result.attrs["width"]))
    width, height = result.attrs["width"], result.attrs["height"]
    ax.imshow(_image_array(image), extent=(0, width, height, 0))
    maps = result["heatmap"].values
    low = maps.min(axis=(1, 2), keepdims=True)
    span = np.maximum(maps.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    overlay = ((maps - low) / span).max(axis=0)
    colours = plt.get_cmap("jet")(overlay)
    colours[..., 3] = alpha * overlay  # opacity follows the map: low values leave the image visible
    ax.imshow(colours, extent=(0, width, height, 0), interpolation="bilinear")
    for p in result["person"].values:
        colour = COLOURS[int(p) % len(COLOURS)]
        x1, y1, x2, y2 = result["box"].sel(person=p).values
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=2))
        gx, gy = float(result["gaze_x"].sel(person=p)), float(result["gaze_y"].sel(person=p))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ax.annotate("", xy=(gx, gy), xytext=(cx, cy),
                    arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 2.5})
        ax.plot(gx, gy, "o", color=colour, markersize=7, markeredgecolor="white")
        ax.text(x1, y1 - 4, f"in frame {float(result['inout'].sel(person=p)):.2f}", color="white", fontsize=9,
                bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "edgecolor": "none"})
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_scene_predictions(images: torch.Tensor, people: pd.DataFrame, heatmaps: np.ndarray, n: int = 6) -> Figure:
    """Synthetic scenes with the predicted heatmap of each person, the true target (circle) and the argmax (cross).

    Parameters
    ----------
    images
        (n_scenes, 3, S, S) in [0, 1].
    people
        Table of ``data_loaders.synthetic_gaze.make_gaze_scenes`` (one row per heatmap).
    heatmaps
        (P, h, w) predictions aligned with ``people``.
    n
        Number of people to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = min(n, len(people))
    fig, axes = plt.subplots(1, n, figsize=(2.3 * n, 2.5), squeeze=False)
    size = images.shape[-1]
    for ax, (i, row) in zip(axes[0], people.head(n).iterrows()):
        ax.imshow(_image_array(images[int(row["scene"])]), extent=(0, size, size, 0))
        ax.imshow(heatmaps[i], cmap="jet", alpha=0.45, extent=(0, size, size, 0))
        hx, hy = row["head_x"] * size, row["head_y"] * size
        h, w = heatmaps[i].shape
        r, c = np.unravel_index(int(np.argmax(heatmaps[i])), (h, w))
        ax.plot(c / w * size, r / h * size, "wx", markersize=9, markeredgewidth=2)
        if row["inout"]:
            ax.plot(row["gaze_x"] * size, row["gaze_y"] * size, "o", mfc="none", mec="white", markersize=12)
            ax.plot([hx, row["gaze_x"] * size], [hy, row["gaze_y"] * size], "w--", linewidth=1)
        ax.set_title(f"person {i}: " + ("in frame" if row["inout"] else "out of frame"), fontsize=9)
        ax.axis("off")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.text(0.5, 0.01, "heatmap: prediction;  x: its maximum;  o: true target;  dashed: head to target",
             ha="center", va="bottom", fontsize=8)
    return fig


def plot_scores(scores: pd.DataFrame, metrics: tuple[str, ...] = ("auc", "avg_l2", "vat_auc")) -> Figure:
    """Bar charts of ``metrics`` (columns of ``scores``) for each ``method`` row, titled with the better direction.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(scores))]
    for ax, metric in zip(axes[0], metrics):
        values = scores[metric].to_numpy(float)
        ax.bar(range(len(scores)), values, color=colours)
        ax.set_xticks(range(len(scores)))
        ax.set_xticklabels(scores["method"], rotation=35, ha="right", fontsize=8)
        ax.set_title(METRIC_TITLES.get(metric, metric), fontsize=10)
        top = np.nanmax(values) if np.isfinite(values).any() else 1.0
        ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)  # room for the value labels
        for i, v in enumerate(values):
            ax.text(i, v if np.isfinite(v) else 0, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    return fig
