"""Scoring analytic predictions on real GazeFollow annotations (no images needed).

The test2 annotations carry no image sizes for most images, so AUC is the 64 x 64 variant (the map is
scored at its own size against one pixel per annotator). For maps that are Gaussians in normalised
coordinates this ranks pixels by normalised distance exactly as the image-size AUC would, up to the
annotator points' pixel quantisation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cogvision.gaze.baselines import centre_prior, point_gaussians
from cogvision.gaze.losses import HEATMAP_SIZE
from cogvision.gaze.metrics import gazefollow_scores

ANALYTIC_METHODS = ("centre prior", "Gaussian at mean annotator point", "random point")


def analytic_heatmaps(method: str, gaze: np.ndarray, seed: int = 0, size: int = HEATMAP_SIZE) -> np.ndarray:
    """(P, size, size) maps of an analytic method for people with (P, K, 2) annotator points (-1 padded).

    ``"centre prior"``: a Gaussian at (0.5, 0.5); ``"Gaussian at mean annotator point"``: sigma 3 map
    pixels at the true mean (an oracle: Avg L2 only measures the argmax quantisation); ``"random
    point"``: a Gaussian at a uniformly random point (seeded).
    """
    n = len(gaze)
    if method == "centre prior":
        return centre_prior(n, size=size).numpy()
    if method == "Gaussian at mean annotator point":
        return point_gaussians(torch.as_tensor(gaze, dtype=torch.float32), size=size).numpy()
    if method == "random point":
        points = torch.from_numpy(np.random.default_rng(seed).uniform(0, 1, size=(n, 2))).float()
        return point_gaussians(points, size=size).numpy()
    raise ValueError(f"unknown analytic method {method!r}; choose from {ANALYTIC_METHODS}")


def score_analytic(gaze: np.ndarray, methods: tuple[str, ...] = ANALYTIC_METHODS, seed: int = 0) -> pd.DataFrame:
    """GazeFollow AUC (64 x 64 variant), Avg L2 and Min L2 of analytic maps, one row per method.

    Parameters
    ----------
    gaze
        (P, K, 2) annotator points, -1 padded (e.g. :func:`data_loaders.gazefollow.gaze_array`).
    methods
        Names from :data:`ANALYTIC_METHODS`.
    seed
        Seed of the random-point method.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, auc, avg_l2, min_l2, n``.
    """
    rows = []
    for method in methods:
        table = gazefollow_scores(analytic_heatmaps(method, gaze, seed=seed), gaze)
        rows.append({"method": method, "auc": table["auc"].mean(), "avg_l2": table["avg_l2"].mean(),
                     "min_l2": table["min_l2"].mean(), "n": len(table)})
    return pd.DataFrame(rows)
