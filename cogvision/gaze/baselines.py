"""Analytic reference predictions: heatmaps that need no training.

- :func:`centre_prior`: a Gaussian at the image centre (Recasens et al. 2015's "Center" baseline; AUC
  only depends on the ranking, i.e. on the distance to the centre, so the width does not matter).
- :func:`point_gaussians`: a Gaussian at given points, e.g. at the true mean annotator point (an
  oracle upper reference for L2, and a check of the metric code).
- :func:`mean_target_prior`: the average training target map (the "fixed bias" of a dataset).
- :func:`object_prior`: equal Gaussians on every object of a synthetic scene: knows where the objects
  are but not where the head looks (the head-direction-free baseline).
"""

from __future__ import annotations

import numpy as np
import torch

from cogvision.gaze.losses import HEATMAP_SIZE, SIGMA, gaussian_heatmap


def centre_prior(n: int, size: int = HEATMAP_SIZE, sigma: float = 0.25 * HEATMAP_SIZE) -> torch.Tensor:
    """(n, size, size) Gaussians of ``sigma`` map pixels at (0.5, 0.5)."""
    return gaussian_heatmap(torch.full((n, 2), 0.5), size=size, sigma=sigma)


def point_gaussians(points: torch.Tensor, size: int = HEATMAP_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """(P, size, size) Gaussians at (P, 2) normalised points (or the mean of (P, K, 2) annotators)."""
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.ndim == 3:
        valid = (points >= 0).all(-1, keepdim=True).to(points.dtype)
        points = (points * valid).sum(1) / valid.sum(1).clamp(min=1)
    return gaussian_heatmap(points, size=size, sigma=sigma)


def mean_target_prior(train_gaze: torch.Tensor, n: int, size: int = HEATMAP_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """(n, size, size) copies of the mean Gaussian target over in-frame training points (P, 2)."""
    train_gaze = torch.as_tensor(train_gaze, dtype=torch.float32).reshape(-1, 2)
    train_gaze = train_gaze[(train_gaze >= 0).all(-1)]
    if len(train_gaze) == 0:
        raise ValueError("no in-frame training gaze points to build the prior from")
    prior = gaussian_heatmap(train_gaze, size=size, sigma=sigma).mean(0)
    return prior.expand(n, size, size).clone()


def object_prior(object_points: list[np.ndarray], size: int = HEATMAP_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """(P, size, size) maps with one equal Gaussian per object, from P arrays of (n_objects, 2) centres."""
    maps = []
    for centres in object_points:
        centres = torch.as_tensor(np.asarray(centres, dtype=np.float32).reshape(-1, 2))
        maps.append(gaussian_heatmap(centres, size=size, sigma=sigma).amax(0))
    return torch.stack(maps)
