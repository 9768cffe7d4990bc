"""Scoring analytic predictions on real GazeFollow annotations (no images needed).

The reference AUC is at each image's size (the uint8-resized map against one pixel per annotator). The
``.mat`` test2 annotations carry no image sizes, so without ``sizes`` AUC is the 64 x 64 variant (the
uint8 map scored at its own size); for maps that are Gaussians in normalised coordinates this ranks
pixels by normalised distance as the image-size AUC would, up to the annotator points' pixel
quantisation. :func:`read_annotations` reads the ``.mat`` release and Chong's text format.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cogvision.gaze.baselines import centre_prior, point_gaussians
from cogvision.gaze.losses import HEATMAP_SIZE
from cogvision.gaze.metrics import gazefollow_scores

TEXT_SUFFIXES = (".txt", ".csv")


def read_annotations(path: str | os.PathLike, image_root: str | os.PathLike | None = None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """(P, K, 2) annotator points (-1 padded) and (P, 2) image (height, width) or ``None``, from a file.

    Parameters
    ----------
    path
        GazeFollow annotations: the MIT ``.mat`` release, or Chong's 16/17-column text (``.txt``/``.csv``;
        rows are grouped into people by path and eye point; out-of-frame rows are left out).
    image_root
        Image folder: image sizes are read from it (missing images are listed), so AUC can be at image size.

    Raises
    ------
    ValueError
        If the suffix is neither ``.mat`` nor a text format.
    """
    from data_loaders.gazefollow import (gaze_array, group_annotators, image_sizes, read_gazefollow_mat,
                                         read_gazefollow_txt)

    path = Path(path)
    if path.suffix == ".mat":
        people = read_gazefollow_mat(path)
    elif path.suffix in TEXT_SUFFIXES:
        table = read_gazefollow_txt(path)
        people = group_annotators(table[table["inout"] == 1])
    else:
        raise ValueError(f"--gazefollow {path}: expected the .mat release or Chong's text annotations "
                         f"({', '.join(TEXT_SUFFIXES)}), got {path.suffix!r}")
    if image_root is None:
        return gaze_array(people), None
    sizes = image_sizes(people["path"], image_root).loc[people["path"]]
    return gaze_array(people), sizes[["height", "width"]].to_numpy(int)


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


def score_analytic(gaze: np.ndarray, methods: tuple[str, ...] = ANALYTIC_METHODS, seed: int = 0,
                   sizes: np.ndarray | None = None) -> pd.DataFrame:
    """GazeFollow AUC (uint8 resize), Avg L2 and Min L2 of analytic maps, one row per method.

    Parameters
    ----------
    gaze
        (P, K, 2) annotator points, -1 padded (e.g. :func:`data_loaders.gazefollow.gaze_array`).
    methods
        Names from :data:`ANALYTIC_METHODS`.
    seed
        Seed of the random-point method.
    sizes
        (P, 2) image (height, width): AUC at image size (the reference); ``None``: the 64 x 64 variant.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, auc, avg_l2, min_l2, n``.
    """
    rows = []
    for method in methods:
        table = gazefollow_scores(analytic_heatmaps(method, gaze, seed=seed), gaze, sizes=sizes)
        rows.append({"method": method, "auc": table["auc"].mean(), "avg_l2": table["avg_l2"].mean(),
                     "min_l2": table["min_l2"].mean(), "n": len(table)})
    return pd.DataFrame(rows)
