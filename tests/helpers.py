"""Helpers shared by several test modules: folder snapshots and a tiny regression problem for the fitting loop."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import torch
from torch.utils.data import TensorDataset


def snapshot(folder: Path, *, folders: bool = False, skip: Collection[str] = ()) -> dict[str, bytes | None]:
    """Every file under ``folder`` by relative path, with its bytes; two equal snapshots mean nothing changed.

    ``folders=True`` lists folders too (as ``None``), so that a new empty folder counts as a change. Top-level
    entries named in ``skip`` (and everything below them) are left out.
    """
    entries: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip:
            continue
        if path.is_file():
            entries[str(relative)] = path.read_bytes()
        elif folders:
            entries[str(relative)] = None
    return entries


def regression_problem(seed: int, n: int, noise: float, n_val: int,
                       shift: float = 0.05) -> tuple[TensorDataset, Callable[[torch.nn.Module], float]]:
    """A noisy linear regression on 5 features (``n`` samples) and a validation metric for it.

    The metric is a model's mean squared error on the first ``n_val`` samples with ``shift`` added to their
    features.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]) + noise * torch.randn(n, generator=g)
    xv, yv = x[:n_val] + shift, y[:n_val]
    return TensorDataset(x, y), lambda m: float(torch.nn.functional.mse_loss(m(xv).squeeze(-1), yv))


def small_mlp(seed: int, hidden: int, dropout: float) -> torch.nn.Module:
    """A 5 -> ``hidden`` -> 1 perceptron with dropout, initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, hidden), torch.nn.Dropout(dropout), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 1))


def batch_mse(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The fitting loop's loss for :func:`regression_problem`: mean squared error of one (x, y) batch."""
    return torch.nn.functional.mse_loss(model(batch[0]).squeeze(-1), batch[1])
