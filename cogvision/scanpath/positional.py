"""Position codes for OAT: the paper's distance-aware learned table, and sinusoidal alternatives.

OAT (Fang et al. 2024) encodes an object's ``[row, col, is_target]`` as ``concat(W[row], W[col], W[is_target])``
(truncated to the width wanted), where ``W`` is a table fitted once so that the cosine similarity of rows
``i`` and ``j`` equals ``exp(-(i - j)^2 / (2 sigma^2))`` (sigma = 2 in the paper), with a penalty keeping the
row norms equal. Objects close on the shelf thus get similar codes. The fitted table is cached in memory
and on disk (``$COGVISION_CACHE`` or ``~/.cache/cogvision``).
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch

from cogvision.io import atomic_write


def _cache_dir() -> Path:
    return Path(os.environ.get("COGVISION_CACHE", Path.home() / ".cache" / "cogvision")) / "positional"


def _save_npy(path: Path, table: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a file object: np.save adds no ".npy" to the temporary name
        np.save(handle, table)


def _fit_gaussian_table(n_positions: int, dim: int, sigma: float, iterations: int, lr: float, seed: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    table = torch.randn(n_positions, dim, generator=gen, dtype=torch.float64).requires_grad_(True)
    idx = torch.arange(n_positions, dtype=torch.float64)
    goal = torch.exp(-(idx[:, None] - idx[None, :]) ** 2 / (2 * sigma**2))
    opt = torch.optim.Adam([table], lr=lr)
    for _ in range(iterations):
        opt.zero_grad()
        norms = table.norm(dim=1)
        unit = table / norms[:, None]
        loss = ((unit @ unit.T - goal) ** 2).mean() + ((norms - norms.mean()) ** 2).mean() / norms.mean().detach() ** 2
        loss.backward()
        opt.step()
    with torch.no_grad():
        table = table / table.norm(dim=1).mean()
    return table.detach().numpy().astype(np.float32)


@functools.lru_cache(maxsize=16)
def gaussian_table(n_positions: int, dim: int, sigma: float = 2.0, iterations: int = 10_000, lr: float = 0.01,
                   seed: int = 0, cache: bool = True) -> np.ndarray:
    """The learned table ``W`` of shape ``(n_positions, dim)`` whose row cosine similarity is Gaussian in distance.

    Parameters
    ----------
    n_positions
        Number of rows (the largest grid side; at least 2 for ``is_target``).
    dim
        Width of one row.
    sigma
        Width of the Gaussian, in positions.
    iterations, lr, seed
        Adam fit (the paper: 10,000 iterations at lr 0.01).
    cache
        Read/write the fitted table on disk.

    Returns
    -------
    ndarray of float32, shape (n_positions, dim)
        Rows of unit mean norm.
    """
    if n_positions < 2 or dim < 1 or sigma <= 0:
        raise ValueError(f"need n_positions >= 2, dim >= 1, sigma > 0; got {n_positions}, {dim}, {sigma}")
    path = _cache_dir() / f"gauss_n{n_positions}_d{dim}_s{sigma:g}_i{iterations}_lr{lr:g}_seed{seed}.npy"
    if cache and path.exists():
        try:
            table = np.load(path)
            if table.shape == (n_positions, dim):
                return table
        except (OSError, ValueError):
            pass
    table = _fit_gaussian_table(n_positions, dim, sigma, iterations, lr, seed)
    if cache:
        try:
            atomic_write(path, lambda tmp: _save_npy(tmp, table))
        except OSError:
            pass  # a read-only home only costs a refit next time
    return table


def sinusoidal_table(n_positions: int, dim: int) -> np.ndarray:
    """The transformer's sinusoidal code for positions ``0 .. n_positions - 1``, shape ``(n_positions, dim)``."""
    pos = np.arange(n_positions)[:, None]
    freq = np.exp(-math.log(10_000.0) * (np.arange(0, dim, 2) / dim))
    table = np.zeros((n_positions, dim), np.float32)
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq)[:, : dim // 2]
    return table


def cosine_similarity(table: np.ndarray) -> np.ndarray:
    """Row-by-row cosine similarity of a table."""
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    return unit @ unit.T
