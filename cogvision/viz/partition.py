"""Figure of a variance partition: unique and shared held-out R^2 of each band, per ROI or neuron group."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def plot_partition(partition: xr.Dataset, groups=None, title: str = "") -> Figure:
    """Stacked bars of the mean ``unique`` R^2 of each band and the ``shared`` R^2, one bar per group.

    Parameters
    ----------
    partition : xarray.Dataset
        From :func:`cogvision.brain.variance_partition` (``unique`` (band, target), ``shared`` (target)).
    groups : array-like of shape (n_targets,), optional
        ROI or neuron-group label of each target; one bar for all targets when ``None``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_targets = partition.sizes["target"]
    labels = np.full(n_targets, "all") if groups is None else np.asarray(groups).astype(str)
    if labels.shape != (n_targets,):
        raise ValueError(f"groups has shape {labels.shape}; expected ({n_targets},), one label per target")
    names = sorted(set(labels))
    parts = [(f"unique {b}", partition["unique"].sel(band=b).values) for b in partition["band"].values]
    parts.append(("shared", partition["shared"].values))
    fig = Figure(figsize=(1.2 + 0.9 * len(names), 3.6))
    ax = fig.add_subplot()
    bottom = np.zeros(len(names))
    for label, values in parts:
        means = np.array([values[labels == g].mean() for g in names])
        ax.bar(names, means, bottom=bottom, label=label)
        bottom += means
    ax.set_ylabel("held-out R$^2$ (mean over targets)")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
