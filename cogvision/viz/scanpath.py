"""Figures for the scanpath module: numbered scanpaths over the stimulus, next-fixation maps, metric bars.

Every function returns a Figure; none saves it or changes the matplotlib backend (save with
:func:`cogvision.io.save_figure`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle


def _numbered(ax, xy: np.ndarray, colour, radius: float, label: str | None = None) -> None:
    """Draw one scanpath as a line through numbered discs; a fixation landing where an earlier one did (a
    refixation, or a return) is moved ``radius`` round that point so that every number stays readable."""
    placed: list[np.ndarray] = []
    shown = np.array(xy, float)
    for k, point in enumerate(shown):
        repeats = sum(np.hypot(*(point - p)) < radius for p in placed)
        placed.append(point.copy())
        if repeats:
            angle = np.pi / 4 + repeats * 2 * np.pi / 6
            shown[k] = point + radius * np.array([np.cos(angle), np.sin(angle)])
    ax.plot(shown[:, 0], shown[:, 1], "-", color=colour, lw=1.2, alpha=0.9, label=label)
    for k, (x, y) in enumerate(shown):
        ax.text(x, y, str(k + 1), color="white", fontsize=7, ha="center", va="center", zorder=3,
                bbox=dict(boxstyle="circle,pad=0.2", fc=colour, ec="k" if k == 0 else "none", lw=0.8, alpha=0.9))


def _stimulus(ax, scene, image: np.ndarray | None) -> None:
    """The stimulus (``image``, else the scene's own image) or, without one, the object boxes; target in gold."""
    image = image if image is not None else scene.image
    if image is not None:
        ax.imshow(image, extent=(0, scene.width, scene.height, 0), cmap="gray")
    else:
        for x0, y0, x1, y1 in scene.boxes:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="0.6", lw=0.5))
    if len(scene.target_objects):  # one outline round all of the target's objects (cells of a grid)
        boxes = np.asarray(scene.boxes)[list(scene.target_objects)]
        x0, y0 = boxes[:, :2].min(0)
        x1, y1 = boxes[:, 2:].max(0)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=image is None, alpha=0.9 if image is not None
                               else 0.35, color="gold", lw=1.5))
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_scanpaths(data, trial: str, predictions: pd.DataFrame | None = None, *, image: np.ndarray | None = None,
                   max_humans: int = 3, sample: int = 0) -> plt.Figure:
    """Human scanpaths (and a predicted one) of one trial drawn over the stimulus, each fixation numbered.

    Fixations are numbered from 1 in order, the first with a black ring; a fixation on a place fixated
    before (a refixation or a return) is drawn beside it, so repeated visits stay visible. The target is
    outlined in gold; the legend gives each subject's number of fixations. Without an image the object
    boxes are drawn instead.

    Parameters
    ----------
    data : ScanpathSet
        Holds ``trial``.
    trial : str
        Trial id.
    predictions : DataFrame, optional
        Prediction table (``trial, sample, fixation, object, x, y``); sample ``sample`` is drawn in a second
        panel.
    image : ndarray of shape (H, W) or (H, W, 3), optional
        The stimulus (default: the scene's own image, if any).
    max_humans : int
        Most human scanpaths drawn.
    sample : int
        Which predicted sample.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if trial not in data.scenes:
        raise ValueError(f"trial {trial!r} is not in {data.name!r}")
    scene = data.scenes[trial]
    panels = 1 + (predictions is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 5.5 * scene.height / scene.width + 0.7), squeeze=False)
    radius = 0.025 * max(scene.width, scene.height)
    for ax in axes[0]:
        _stimulus(ax, scene, image)
    humans = data.fixations[data.fixations["trial"] == trial]
    subjects = list(humans.groupby("subject", sort=True))[:max_humans]
    for i, (subject, group) in enumerate(subjects):
        _numbered(axes[0, 0], group.sort_values("fixation")[["x", "y"]].to_numpy(float), plt.cm.tab10.colors[i % 10],
                  radius, label=f"subject {subject} ({len(group)})")
    axes[0, 0].set_title(f"{trial}: {len(subjects)} human scanpaths (target gold)", fontsize=9)
    if subjects:
        axes[0, 0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(subjects),
                          frameon=False)
    if predictions is not None:
        pred = predictions[(predictions["trial"] == trial) & (predictions["sample"] == sample)].sort_values("fixation")
        _numbered(axes[0, 1], pred[["x", "y"]].to_numpy(float), "crimson", radius)
        axes[0, 1].set_title(f"model sample {sample} ({len(pred)} fixations)", fontsize=9)
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


def _image_axes(ax, image, width: float, height: float) -> None:
    if image is not None:
        ax.imshow(image, extent=(0, width, height, 0), cmap="gray")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_hsp_maps(model, data, image: np.ndarray | None = None, subject: str | None = None,
                  max_steps: int = 4) -> plt.Figure:
    """A model's next-fixation maps along one human scanpath, over the image, with the human's next fixation.

    Parameters
    ----------
    model
        A fitted :class:`~cogvision.scanpath.density.ScanpathDensityModel` on grid scenes.
    data
        A prepared :class:`~cogvision.scanpath.ScanpathSet` with one trial
        (:func:`~cogvision.scanpath.density.prepared`).
    image
        The stimulus ``(H, W)`` or ``(H, W, 3)``.
    subject
        Whose scanpath (default: the longest one).
    """
    trial = data.trials[0]
    scene = data.scenes[trial]
    seqs = {s: q for t, s, q in data.sequences() if t == trial and len(q) > 1}
    if not seqs:
        raise ValueError(f"trial {trial!r} has no scanpath with a fixation to predict")
    subject = subject if subject is not None else max(seqs, key=lambda s: len(seqs[s]))
    seq = seqs[subject]
    maps = np.exp(model.log_density_sequences(scene, [seq], [subject])[0])
    steps = min(max_steps, len(seq) - 1)
    rows, cols = scene.grid_shape
    fig, axes = plt.subplots(1, steps, figsize=(3.6 * steps, 3.2), squeeze=False)
    centres = scene.centres
    for i, ax in enumerate(axes[0]):
        _image_axes(ax, image, scene.width, scene.height)
        grid = np.zeros((rows, cols))
        grid[scene.grid_pos[:, 0], scene.grid_pos[:, 1]] = maps[i]
        ax.imshow(grid, extent=(0, scene.width, scene.height, 0), cmap="magma", alpha=0.55)
        ax.plot(centres[seq[:i + 1], 0], centres[seq[:i + 1], 1], "-o", color="cyan", ms=3, lw=1)
        ax.plot(*centres[seq[i + 1]], "x", color="lime", ms=9, mew=2)
        ax.set_title(f"before fixation {i + 1} (p = {maps[i][seq[i + 1]]:.3f})", fontsize=8)
    fig.suptitle(f"{trial}, subject {subject}: map given fixations so far (cyan), next fixation (green x)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_cumulative(curve: pd.DataFrame) -> plt.Figure:
    """Target found within k fixations (``who, k, found, auc_perf`` from
    :func:`~cogvision.scanpath.hsp_evaluation.cumulative_performance`)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for who, group in curve.groupby("who"):
        ax.plot(group["k"], group["found"], "-o", ms=3, label=f"{who} (AUCperf {group['auc_perf'].iloc[0]:.3f})")
    ax.set_xlabel("fixations after the first (k)")
    ax.set_ylabel("targets found")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
