"""Small pieces every training loop needs: seeding, moving batches to a device, atomic ``torch.save``."""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any

import numpy as np
import torch

from cogvision.io import atomic_write


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices).

    Parameters
    ----------
    seed : int
        The seed; NumPy gets it modulo 2**32.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside a (nested) tuple/list/dict batch to ``device``.

    A dataclass batch with a ``to`` method moves itself (``batch.to(device)``); anything else is returned as is.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if dataclasses.is_dataclass(batch) and hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written file."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))
