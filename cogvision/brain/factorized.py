"""Factorised "where x what" readout (fwRF, St-Yves & Naselaris 2018; Klindt et al. 2017).

Each target v has a spatial map m_v over the feature grid and a feature weight vector w_v:

``y_v = sum_c w_vc sum_hw m_v(hw) F_c(hw) + b_v``

so it has H*W + C (softmax map) or 3 + C (Gaussian map) parameters instead of H*W*C.
With ``spatial="gaussian"``, m_v is an isotropic Gaussian (centre, width) normalised to sum 1;
with ``"softmax"``, a free map (softmax over the grid). As in fwRF, the Gaussian of every target is
first chosen by a grid search over centres and widths (ridge fit of the pooled features, scored on
a held-out part of the training data); then all parameters are trained jointly by gradient descent
with :func:`cogvision.training.fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from cogvision.brain.neural import NeuralEncoder

SPATIAL = ("gaussian", "softmax")
_MIN_SIGMA = 0.3  # grid units


def gaussian_maps(centres: torch.Tensor, sigmas: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Isotropic Gaussians (T, H, W) normalised to sum 1, centres (T, 2) as (y, x) in grid units."""
    yy = torch.arange(grid[0], dtype=centres.dtype, device=centres.device)
    xx = torch.arange(grid[1], dtype=centres.dtype, device=centres.device)
    d2 = (yy[None, :, None] - centres[:, 0, None, None]) ** 2 + (xx[None, None, :] - centres[:, 1, None, None]) ** 2
    logits = -d2 / (2 * sigmas[:, None, None] ** 2)
    return torch.softmax(logits.flatten(1), 1).view(-1, *grid)


class FactorizedReadout(nn.Module):
    """Spatial map x feature weights per target; input (N, C, H, W), output (N, T)."""

    def __init__(self, n_targets: int, channels: int, grid: tuple[int, int], spatial: str = "gaussian",
                 chunk: int = 1024):
        super().__init__()
        self.grid, self.spatial, self.chunk = tuple(grid), spatial, chunk
        if spatial == "gaussian":
            self.centre = nn.Parameter(torch.zeros(n_targets, 2))
            self.log_sigma = nn.Parameter(torch.zeros(n_targets))
        else:
            self.logits = nn.Parameter(torch.zeros(n_targets, grid[0] * grid[1]))
        self.weight = nn.Parameter(torch.zeros(n_targets, channels))
        self.bias = nn.Parameter(torch.zeros(n_targets))

    def sigma(self) -> torch.Tensor:
        """Gaussian widths (T,) in grid units, at least ``_MIN_SIGMA``."""
        return _MIN_SIGMA + self.log_sigma.exp()

    def maps(self) -> torch.Tensor:
        """Spatial maps (T, H, W), each summing to 1."""
        if self.spatial == "gaussian":
            return gaussian_maps(self.centre, self.sigma(), self.grid)
        return torch.softmax(self.logits, 1).view(-1, *self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted responses (N, T) of feature grids ``x`` (N, C, H, W)."""
        flat = x.flatten(2)  # (N, C, HW)
        maps = self.maps().flatten(1)  # (T, HW)
        out = []
        for start in range(0, maps.shape[0], self.chunk):
            part = slice(start, start + self.chunk)
            pooled = torch.einsum("nch,th->ntc", flat, maps[part])
            out.append((pooled * self.weight[part]).sum(-1) + self.bias[part])
        return torch.cat(out, 1)


def _grid_search_init(x: torch.Tensor, y: torch.Tensor, grid: tuple[int, int], n_centres: int,
                      sigmas: tuple[float, ...], alpha: float, seed: int) -> tuple[torch.Tensor, ...]:
    """fwRF-style initialisation: best (centre, sigma) per target on held-out training samples.

    Returns centres (T, 2), sigmas (T,), weights (T, C) and biases (T,) of the winning candidates.
    """
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    hold, fit_idx = order[: max(1, n // 5)], order[max(1, n // 5):]
    cy = torch.linspace(0, grid[0] - 1, min(n_centres, grid[0]))
    cx = torch.linspace(0, grid[1] - 1, min(n_centres, grid[1]))
    cands = [(float(a), float(b), s * max(grid)) for a in cy for b in cx for s in sigmas]
    centres = torch.tensor([c[:2] for c in cands])
    widths = torch.tensor([c[2] for c in cands]).clamp_min(_MIN_SIGMA)
    maps = gaussian_maps(centres, widths, grid).flatten(1)  # (K, HW)
    flat = x.flatten(2)
    best = torch.full((y.shape[1],), -np.inf)
    out_c, out_s = torch.zeros(y.shape[1], 2), torch.zeros(y.shape[1])
    out_w, out_b = torch.zeros(y.shape[1], x.shape[1]), torch.zeros(y.shape[1])
    eye = torch.eye(x.shape[1])
    for k in range(len(cands)):
        pooled = flat @ maps[k]  # (N, C)
        p_fit, y_fit = pooled[fit_idx], y[fit_idx]
        p_mean, y_mean = p_fit.mean(0), y_fit.mean(0)
        pc = p_fit - p_mean
        gram = pc.T @ pc
        w = torch.linalg.solve(gram + alpha * gram.trace() / len(eye) * eye, pc.T @ (y_fit - y_mean))  # (C, T)
        b = y_mean - p_mean @ w
        err = ((pooled[hold] @ w + b - y[hold]) ** 2).mean(0)
        better = -err > best
        best = torch.where(better, -err, best)
        out_c[better], out_s[better] = centres[k], widths[k]
        out_w[better], out_b[better] = w.T[better], b[better]
    return out_c, out_s, out_w, out_b


class FactorizedEncoder(NeuralEncoder):
    """Per-target spatial map x feature weights, trained with :mod:`cogvision.training`.

    Parameters
    ----------
    spatial : {"gaussian", "softmax"}
        Parametric Gaussian receptive field or a free softmax map.
    init : {"grid", "centre"}
        fwRF grid search over Gaussian candidates (``n_centres`` x ``n_centres`` centres x ``sigmas``,
        as fractions of the grid side), or every map starting wide at the grid centre.
    n_centres, sigmas, init_alpha
        Grid-search settings (``init_alpha``: ridge penalty of the candidate fits, relative to the mean
        eigenvalue of their Gram matrix).
    epochs, batch_size, lr, weight_decay
        Gradient training (AdamW).
    validation_fraction, patience
        Part of the training stimuli held out for early stopping on mean Pearson r.
    device, seed, checkpoint_dir, progress
        As in :func:`cogvision.training.fit` (``checkpoint_dir`` makes the fit resumable).

    Attributes
    ----------
    module_ : FactorizedReadout
    receptive_fields_ : xarray.DataArray
        (target, y, x) spatial maps.
    rf_table_ : pandas.DataFrame
        ``target, y, x, sigma``: the Gaussian centre and width (grid units), or for softmax maps the
        centre of mass and the radial standard deviation.
    feature_weights_ : ndarray of shape (n_targets, n_channels)
    history_ : pandas.DataFrame
    """

    def __init__(self, spatial: str = "gaussian", init: str = "grid", n_centres: int = 8,
                 sigmas: tuple[float, ...] = (0.04, 0.08, 0.16, 0.32), init_alpha: float = 0.1, epochs: int = 30,
                 batch_size: int = 32, lr: float = 1e-2, weight_decay: float = 0.0, validation_fraction: float = 0.1,
                 patience: int | None = 8, device: str = "auto", seed: int = 0, checkpoint_dir=None,
                 progress: bool = False):
        self.spatial = spatial
        self.init = init
        self.n_centres = n_centres
        self.sigmas = sigmas
        self.init_alpha = init_alpha
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress

    def fit(self, features, y) -> "FactorizedEncoder":
        """Fit on features (n, C, H, W) (or square token grids) and responses (n, n_targets)."""
        if self.spatial not in SPATIAL:
            raise ValueError(f"spatial must be one of {SPATIAL}, got {self.spatial!r}")
        if self.init not in ("grid", "centre"):
            raise ValueError(f"init must be 'grid' or 'centre', got {self.init!r}")
        return self._fit_module(features, y)

    def _describe(self) -> None:
        maps = self.module_.maps().detach().cpu().numpy()
        self.receptive_fields_ = xr.DataArray(maps, dims=("target", "y", "x"), name="receptive_field")
        self.feature_weights_ = self.module_.weight.detach().cpu().numpy()
        self.rf_table_ = self._rf_table(maps)

    def _new_module(self, channels: int, grid: tuple[int, int], n_targets: int) -> nn.Module:
        return FactorizedReadout(n_targets, channels, grid, self.spatial)

    def _build(self, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
        grid = tuple(x.shape[-2:])
        module = self._new_module(x.shape[1], grid, y.shape[1])
        if self.init == "grid":
            centres, sigmas, weights, bias = _grid_search_init(x, y, grid, self.n_centres, self.sigmas,
                                                               self.init_alpha, self.seed)
        else:
            centres = torch.tensor([(grid[0] - 1) / 2, (grid[1] - 1) / 2]).repeat(y.shape[1], 1)
            sigmas = torch.full((y.shape[1],), max(grid) / 3)
            weights, bias = 0.01 * torch.randn(y.shape[1], x.shape[1]), torch.zeros(y.shape[1])
        with torch.no_grad():
            if self.spatial == "gaussian":
                module.centre.copy_(centres)
                module.log_sigma.copy_(torch.log((sigmas - _MIN_SIGMA).clamp_min(1e-3)))
            else:
                module.logits.copy_(torch.log(gaussian_maps(centres, sigmas, grid).flatten(1) + 1e-8))
            module.weight.copy_(weights)
            module.bias.copy_(bias)
        return module

    def _rf_table(self, maps: np.ndarray) -> pd.DataFrame:
        if self.spatial == "gaussian":
            centre = self.module_.centre.detach().cpu().numpy()
            sigma = self.module_.sigma().detach().cpu().numpy()
        else:
            yy, xx = np.meshgrid(np.arange(maps.shape[1]), np.arange(maps.shape[2]), indexing="ij")
            centre = np.stack([(maps * yy).sum((1, 2)), (maps * xx).sum((1, 2))], 1)
            d2 = (yy[None] - centre[:, 0, None, None]) ** 2 + (xx[None] - centre[:, 1, None, None]) ** 2
            sigma = np.sqrt((maps * d2).sum((1, 2)) / 2)
        return pd.DataFrame({"target": np.arange(len(maps)), "y": centre[:, 0], "x": centre[:, 1], "sigma": sigma})
