"""A ViSioNS-layout folder (Interiors) with CNN appearance per grid cell, for the scanpath jobs.

Loading a folder (:func:`load_with_features`) reads it with :func:`data_loaders.interiors.load_interiors` and
attaches each cell's appearance from a pretrained CNN (:mod:`cogvision.scanpath.appearance`). Features are
cached on disk (one ``.npz`` per folder, network, weights, layers and option; by default under
``$XDG_CACHE_HOME/cogvision/grid_features``), so a second run reads them instead of running the CNN.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cogvision.io import atomic_write
from cogvision.models import load_model
from cogvision.scanpath.appearance import attach_grid_features
from data_loaders.interiors import InteriorsData, load_interiors
from data_loaders.shared import shared_dir

SHARED_WEIGHTS = ("models", "mobilenet_v2_imagenet", "mobilenet_v2-b0353104.pth")


@dataclass(frozen=True)
class FeatureSpec:
    """Which network gives the cells their appearance (stored beside a trained model as ``features.json``)."""

    model: str = "torchvision:mobilenet_v2"
    weights: str | None = None
    layers: tuple[str, ...] = ("features.6", "features.13", "features.17")
    similarity: bool = True

    @classmethod
    def from_json(cls, path: Path) -> FeatureSpec:
        """Read ``features.json`` written beside a trained model.

        Raises
        ------
        FileNotFoundError, ValueError
            If the file is missing, not JSON, or lacks a field.
        """
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the model folder was not trained on a ViSioNS-layout "
                                    "folder by `cogvision scanpath train interiors`")
        try:
            blob = json.loads(path.read_text())
            return cls(blob["model"], blob["weights"], tuple(blob["layers"]), bool(blob["similarity"]))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a features file written by `cogvision scanpath train` ({err})") from None

    def to_dict(self) -> dict:
        """JSON-ready fields (``layers`` as a list)."""
        return {**asdict(self), "layers": list(self.layers)}

    def to_json(self) -> str:
        """The ``features.json`` text (also part of the feature cache key)."""
        return json.dumps(self.to_dict(), indent=1)


def default_weights() -> str | None:
    """The shared ImageNet MobileNetV2 weights when the shared folder has them."""
    root = shared_dir()
    path = root.joinpath(*SHARED_WEIGHTS) if root is not None else None
    return str(path) if path is not None and path.is_file() else None


def _cache_file(folder: Path, spec: FeatureSpec, cache_dir: Path | None) -> Path:
    root = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cogvision" / "grid_features"
    weights = Path(spec.weights) if spec.weights else None
    stamp = (weights.stat().st_size, weights.stat().st_mtime_ns) if weights is not None and weights.exists() else None
    key = json.dumps([str(folder.resolve()), spec.to_json(), stamp])
    return root / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def _read_cache(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as blob:
            names = json.loads(str(blob["names"]))
            return {n: (blob[f"cells_{k}"], blob[f"target_{k}"]) for k, n in enumerate(names)}
    except (OSError, ValueError, KeyError):
        return {}  # an unreadable cache is recomputed


def _write_cache(path: Path, cache: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    names = sorted(cache)
    arrays = {"names": np.array(json.dumps(names))}
    for k, n in enumerate(names):
        arrays[f"cells_{k}"], arrays[f"target_{k}"] = cache[n]

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: np.savez adds no ".npz" to the temporary name
            np.savez(handle, **arrays)

    atomic_write(path, write)


def load_with_features(folder: Path | None, spec: FeatureSpec, device: str = "auto",
                       cache_dir: Path | None = None) -> InteriorsData:
    """The folder's :class:`~data_loaders.interiors.InteriorsData`, its scenes carrying CNN cell features.

    Parameters
    ----------
    folder : Path or None
        A ViSioNS-layout folder (``None``: the shared Interiors copy).
    spec : FeatureSpec
        Network, weights, layers and the template-similarity option.
    device : str
        Where the network runs (only for images missing from the cache).
    cache_dir : Path, optional
        Feature cache folder (default ``$XDG_CACHE_HOME/cogvision/grid_features``).
    """
    data = load_interiors(folder)
    cache_path = _cache_file(data.root, spec, cache_dir)
    cache = _read_cache(cache_path)
    missing = {s.image_id for s in data.scanpaths.scenes.values()} - set(cache)
    model = (load_model(spec.model, weights=spec.weights, device=device, allow_code=True)  # typed on the command line
             if missing else None)
    images = {k: v for k, v in data.images().items() if k in missing} if missing else {}
    templates = {k: v for k, v in data.templates().items() if k in missing} if missing else {}
    data.scanpaths = attach_grid_features(data.scanpaths, images, templates, model, spec.layers, spec.similarity, cache)
    if missing:
        _write_cache(cache_path, cache)
    return data
