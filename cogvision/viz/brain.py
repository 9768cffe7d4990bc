"""Figures of the brain module: score histograms, volume and surface maps, receptive fields, routing maps,
encoder comparisons, layer curves and RSA layer sweeps.

Every function returns a :class:`matplotlib.figure.Figure` (not registered with pyplot, so a notebook does not
draw it twice) and never saves it or changes the backend; save it with :func:`cogvision.io.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from nilearn import datasets, plotting

FSAVERAGE5_VERTICES = 10_242


def plot_score_histogram(scores: dict[str, np.ndarray] | np.ndarray, label: str = "held-out r",
                         bins: int = 40) -> Figure:
    """Histogram of per-target scores; a dict overlays several encoders (name -> scores)."""
    scores = scores if isinstance(scores, dict) else {label: np.asarray(scores)}
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    values = np.concatenate([np.asarray(v).ravel() for v in scores.values()])
    edges = np.linspace(np.nanmin(values), np.nanmax(values), bins + 1)
    for name, v in scores.items():
        ax.hist(np.asarray(v).ravel(), bins=edges, alpha=0.55, label=f"{name} (median {np.nanmedian(v):.3f})")
    ax.set_xlabel(label)
    ax.set_ylabel("targets")
    ax.legend(fontsize=8)
    return fig


def plot_volume_map(img, title: str = "", threshold: float | None = None) -> Figure:
    """A NIfTI statistic map with ``nilearn.plotting.plot_stat_map`` (no background: the data's own grid)."""
    fig = Figure(figsize=(6, 3))
    plotting.plot_stat_map(img, bg_img=None, display_mode="z", cut_coords=1, threshold=threshold, title=title,
                           figure=fig, colorbar=True, cmap="cold_hot")
    return fig


def plot_surface_map(values: dict[str, np.ndarray], title: str = "", vmax: float | None = None,
                     threshold: float | None = None) -> Figure:
    """Per-vertex maps of both hemispheres on nilearn's shipped fsaverage5 (inflated, lateral and medial views).

    Values with absolute value below ``threshold`` are left transparent over the sulcal depth map.

    ``values`` maps ``"lh"``/``"rh"`` to fsaverage arrays (fsaverage7 arrays of 163,842 vertices are
    cut to their first 10,242 vertices, which are the fsaverage5 vertices: the icosahedral meshes nest).
    """
    for hemi in ("lh", "rh"):
        n = np.asarray(values[hemi]).shape[0]
        if n < FSAVERAGE5_VERTICES:
            raise ValueError(f"{hemi} values have {n} vertices; expected a full fsaverage array (>= 10242)")
    mesh = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated", data_type="sulcal")
    fig = Figure(figsize=(8, 6))
    for col, (hemi, side) in enumerate((("lh", "left"), ("rh", "right"))):
        data = np.asarray(values[hemi], dtype=np.float64)[:FSAVERAGE5_VERTICES]
        for row, view in enumerate(("lateral", "medial")):
            ax = fig.add_subplot(2, 2, 2 * row + col + 1, projection="3d")
            plotting.plot_surf_stat_map(mesh["inflated"].parts[side], np.nan_to_num(data), hemi=side, view=view,
                                        bg_map=sulc.data.parts[side], axes=ax, colorbar=row == 0,
                                        vmax=vmax, threshold=threshold, cmap="hot", engine="matplotlib", figure=fig)
    fig.suptitle(title)
    return fig


def plot_receptive_fields(estimated: np.ndarray, true_centres: np.ndarray | None = None, n: int = 8) -> Figure:
    """The first ``n`` estimated spatial maps (target, y, x), with the true RF centres as crosses."""
    n = min(n, len(estimated))
    fig = Figure(figsize=(1.6 * n, 1.8))
    axes = fig.subplots(1, n, squeeze=False)[0]
    for i, ax in enumerate(axes):
        ax.imshow(estimated[i], cmap="magma")
        if true_centres is not None:
            ax.plot(true_centres[i, 1], true_centres[i, 0], "c+", ms=10, mew=2)
        ax.set_axis_off()
        ax.set_title(f"voxel {i}", fontsize=8)
    return fig


def plot_routing_maps(images: np.ndarray, routing: np.ndarray, query_names: list[str], alpha: float = 0.6) -> Figure:
    """Routing maps drawn over their stimuli: one row per stimulus (the image, then one overlay per query).

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W) in [0, 1]
    routing : ndarray of shape (n, n_queries, h, w)
        Cross-attention weights on the feature grid; stretched over the whole image.
    query_names : list of str
    alpha : float
        Opacity of the maps over the images.

    Returns
    -------
    matplotlib.figure.Figure
        One colour scale for every map (0 to the largest weight), shown by the colorbar.
    """
    n, q = routing.shape[:2]
    height, width = images.shape[-2:]
    fig = Figure(figsize=(1.5 * (q + 1) + 0.8, 1.5 * n + 0.3), layout="constrained")
    axes = fig.subplots(n, q + 1, squeeze=False)
    vmax = float(np.max(routing))
    for i in range(n):
        picture = np.transpose(images[i], (1, 2, 0))
        axes[i, 0].imshow(picture)
        for j in range(q):
            ax = axes[i, j + 1]
            ax.imshow(picture)
            mappable = ax.imshow(routing[i, j], cmap="inferno", alpha=alpha, vmin=0, vmax=vmax,
                                 extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
            if i == 0:
                ax.set_title(query_names[j], fontsize=7)
        if i == 0:
            axes[i, 0].set_title("stimulus", fontsize=7)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.colorbar(mappable, ax=axes, shrink=0.8, label="routing weight")
    return fig


def plot_encoder_comparison(table: pd.DataFrame, value: str = "mean_r", ceiling: str = "ceiling") -> Figure:
    """Bars of a long (encoder x voxel kind) table of scores, with the noise ceiling drawn as a line per kind.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``encoder``, ``kind`` and ``value``; rows whose ``encoder`` is ``ceiling`` give the ceiling of
        each kind (drawn as a dashed line over that kind's bars, not as a bar).
    value : str
        The score column.
    ceiling : str
        The ``encoder`` label of the ceiling rows.
    """
    bars = table[table["encoder"] != ceiling].pivot(index="kind", columns="encoder", values=value)
    limits = table[table["encoder"] == ceiling].set_index("kind")[value]
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    n_enc = bars.shape[1]
    width = 0.8 / n_enc
    x = np.arange(len(bars))
    for k, name in enumerate(bars.columns):
        ax.bar(x - 0.4 + (k + 0.5) * width, bars[name].to_numpy(), width, label=name)
    for i, kind in enumerate(bars.index):
        if kind in limits.index:
            ax.hlines(limits[kind], i - 0.45, i + 0.45, colors="k", linestyles="--",
                      label="noise ceiling" if i == 0 else None)
    ax.set_xticks(x, bars.index)
    ax.set_ylabel(value)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig


def plot_layer_curves(table: pd.DataFrame) -> Figure:
    """Median held-out R^2 (with its bootstrap interval) against layer, one line per encoder.

    ``table`` holds ``layer, encoder, median_r2, median_r2_low, median_r2_high`` (a layer sweep's ``summary.csv``).
    """
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for name, group in table.groupby("encoder", sort=False):
        x = np.arange(len(group))
        ax.plot(x, group["median_r2"], marker="o", label=name)
        ax.fill_between(x, group["median_r2_low"], group["median_r2_high"], alpha=0.2)
        ax.set_xticks(x, group["layer"], rotation=45, ha="right")
    ax.set_ylabel("median held-out R^2")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_rsa_layers(table: pd.DataFrame, method: str = "tau_a") -> Figure:
    """Layer curves of RSA (with bootstrap intervals) against each reference's noise-ceiling band.

    ``table`` is ``rsa.csv`` (:func:`cogvision.brain.rsa_report.rsa_tables`).
    """
    refs = list(dict.fromkeys(table["reference"]))
    fig = Figure(figsize=(4 * len(refs), 3.5))
    for k, ref in enumerate(refs):
        ax = fig.add_subplot(1, len(refs), k + 1)
        part = table[table["reference"] == ref]
        x = part["layer_index"].to_numpy()
        below = (part[method] - part[f"{method}_low"]).clip(lower=0)
        above = (part[f"{method}_high"] - part[method]).clip(lower=0)
        ax.errorbar(x, part[method], yerr=[below, above], marker="o", capsize=2)
        if np.isfinite(part["ceiling_low"]).all():
            ax.axhspan(part["ceiling_low"].iloc[0], part["ceiling_high"].iloc[0], color="0.8", label="noise ceiling")
            ax.legend()
        ax.set_xticks(x, part["layer"], rotation=45, ha="right")
        ax.set_title(ref)
        ax.set_ylabel(method)
    fig.tight_layout()
    return fig
