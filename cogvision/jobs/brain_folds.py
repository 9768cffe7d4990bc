"""What every ``fit-encoder`` run shares: where it writes, its dask client, and folds saved as soon as they end."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cogvision.brain.fitting import outer_splits
from cogvision.io import atomic_write
from cogvision.jobs.fit_encoder_config import FitEncoderConfig

#: Written last: its presence marks a finished fit.
DONE = "summary.json"


@dataclass
class FitContext:
    """One run: its validated config, the folder it writes, the device, the dask client and the progress switch."""

    config: FitEncoderConfig
    folder: Path
    device: str
    client: Any = None
    progress: bool = True

    @property
    def cache_dir(self) -> Path:
        """The feature cache: ``cache_dir`` of the config, else ``cache/`` in the folder."""
        return self.config.path(self.config.cache_dir) if self.config.cache_dir else self.folder / "cache"

    def splits(self, n_samples: int, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The outer splits of the config's ``cv`` block."""
        cv = self.config.cv
        return outer_splits(n_samples, groups, scheme=cv.scheme, n_splits=cv.n_splits, test_fraction=cv.test_fraction,
                            seed=self.config.seed)


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """The bytes of an ``.npz`` file holding ``arrays``."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    """The bytes of an ``.npy`` file holding ``array``."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def saved_fold(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A fold's arrays: read from ``path`` when a previous run saved them, else computed and saved first."""
    if not path.is_file():
        atomic_write(path, npz_bytes(**compute()))
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def write_json(path: Path, data: dict) -> Path:
    """``data`` as indented JSON, atomically."""
    return atomic_write(path, json.dumps(data, indent=2))
