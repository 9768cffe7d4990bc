"""Figures of the brain module: score histograms, volume and surface maps, receptive fields, routing maps.

Every function writes a PNG (matplotlib Agg) and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

FSAVERAGE5_VERTICES = 10_242


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_score_histogram(scores: dict[str, np.ndarray] | np.ndarray, path: str | Path, label: str = "held-out r",
                         bins: int = 40) -> Path:
    """Histogram of per-target scores; a dict overlays several encoders (name -> scores)."""
    scores = scores if isinstance(scores, dict) else {label: np.asarray(scores)}
    fig, ax = plt.subplots(figsize=(5, 3.2))
    values = np.concatenate([np.asarray(v).ravel() for v in scores.values()])
    edges = np.linspace(np.nanmin(values), np.nanmax(values), bins + 1)
    for name, v in scores.items():
        ax.hist(np.asarray(v).ravel(), bins=edges, alpha=0.55, label=f"{name} (median {np.nanmedian(v):.3f})")
    ax.set_xlabel(label)
    ax.set_ylabel("targets")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_volume_map(img, path: str | Path, title: str = "", threshold: float | None = None) -> Path:
    """A NIfTI statistic map with ``nilearn.plotting.plot_stat_map`` (no background: the data's own grid)."""
    from nilearn import plotting

    fig = plt.figure(figsize=(6, 3))
    plotting.plot_stat_map(img, bg_img=None, display_mode="z", cut_coords=1, threshold=threshold, title=title,
                           figure=fig, colorbar=True, cmap="cold_hot")
    return _save(fig, path)


def plot_surface_map(values: dict[str, np.ndarray], path: str | Path, title: str = "", vmax: float | None = None,
                     threshold: float | None = None) -> Path:
    """Per-vertex maps of both hemispheres on nilearn's shipped fsaverage5 (inflated, lateral and medial views).

    Values with absolute value below ``threshold`` are left transparent over the sulcal depth map.

    ``values`` maps ``"lh"``/``"rh"`` to fsaverage arrays (fsaverage7 arrays of 163,842 vertices are
    cut to their first 10,242 vertices, which are the fsaverage5 vertices: the icosahedral meshes nest).
    """
    from nilearn import datasets, plotting

    mesh = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated", data_type="sulcal")
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), subplot_kw={"projection": "3d"})
    hemis = {"lh": "left", "rh": "right"}
    for col, (hemi, side) in enumerate(hemis.items()):
        data = np.asarray(values[hemi], dtype=np.float64)
        if data.shape[0] < FSAVERAGE5_VERTICES:
            raise ValueError(f"{hemi} values have {data.shape[0]} vertices; expected a full fsaverage array (>= 10242)")
        data = data[:FSAVERAGE5_VERTICES]
        for row, view in enumerate(("lateral", "medial")):
            plotting.plot_surf_stat_map(mesh["inflated"].parts[side], np.nan_to_num(data), hemi=side, view=view,
                                        bg_map=sulc.data.parts[side], axes=axes[row, col], colorbar=row == 0,
                                        vmax=vmax, threshold=threshold, cmap="hot", engine="matplotlib", figure=fig)
    fig.suptitle(title)
    return _save(fig, path)


def plot_receptive_fields(estimated: np.ndarray, path: str | Path, true_centres: np.ndarray | None = None,
                          n: int = 8) -> Path:
    """The first ``n`` estimated spatial maps (target, y, x), with the true RF centres as crosses."""
    n = min(n, len(estimated))
    fig, axes = plt.subplots(1, n, figsize=(1.6 * n, 1.8))
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(estimated[i], cmap="magma")
        if true_centres is not None:
            ax.plot(true_centres[i, 1], true_centres[i, 0], "c+", ms=10, mew=2)
        ax.set_axis_off()
        ax.set_title(f"voxel {i}", fontsize=8)
    return _save(fig, path)


def plot_routing_maps(images: np.ndarray, routing: np.ndarray, query_names: list[str], path: str | Path) -> Path:
    """Routing maps over stimuli: rows are stimuli (image, then one map per query).

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W) in [0, 1]
    routing : ndarray of shape (n, n_queries, h, w)
    query_names : list of str
    """
    n, q = routing.shape[:2]
    fig, axes = plt.subplots(n, q + 1, figsize=(1.5 * (q + 1), 1.5 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(np.transpose(images[i], (1, 2, 0)))
        for j in range(q):
            axes[i, j + 1].imshow(routing[i, j], cmap="viridis")
            if i == 0:
                axes[i, j + 1].set_title(query_names[j], fontsize=7)
    for ax in axes.ravel():
        ax.set_axis_off()
    return _save(fig, path)


def plot_encoder_comparison(table, path: str | Path, value: str = "mean_r") -> Path:
    """Bar chart of a (encoder x voxel kind) table of scores (pandas DataFrame in long form:
    columns ``encoder``, ``kind`` and ``value``)."""
    pivot = table.pivot(index="kind", columns="encoder", values=value)
    fig, ax = plt.subplots(figsize=(5, 3))
    pivot.plot.bar(ax=ax, rot=0)
    ax.set_ylabel(value)
    ax.legend(fontsize=8)
    return _save(fig, path)
