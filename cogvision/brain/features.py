"""Network features for encoders: extracted once through :mod:`cogvision.models`, cached to netCDF.

Any model spec and any layer work: conv maps (C, H, W) and ViT token sequences (patch tokens laid
back onto their grid; CLS and register tokens dropped). The cache file records the model spec,
weights, layer, preprocessing, seed and a hash of the images; a cache whose record does not match
is recomputed, never silently reused.

Encoders read features as a grid array (n_stimuli, channels, H, W) (:func:`as_grid`) or flattened
(n_stimuli, channels * H * W) for ridge (:func:`as_matrix`).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from cogvision.io import atomic_write, write_dataset
from cogvision.models import FeatureRecorder, extract_features, load_model, preprocessing_for, token_layout
from cogvision.reporting import get_logger

log = get_logger(__name__)


def images_hash(images: torch.Tensor) -> str:
    """Short SHA-256 of the image tensor's bytes (float32), used to key the cache."""
    return hashlib.sha256(images.detach().to(torch.float32).cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _record(spec: str, layer: str, weights: str | None, seed: int, images: torch.Tensor) -> dict:
    return {"model": spec, "layer": layer, "weights": str(weights or ""), "seed": int(seed),
            "images_sha": images_hash(images), "n_stimuli": int(images.shape[0])}


def cache_path(cache_dir: str | os.PathLike, record: dict) -> Path:
    """File name of the cached features for ``record`` (model, layer, weights, seed, images)."""
    key = hashlib.sha256(repr(sorted(record.items())).encode()).hexdigest()[:16]
    safe_layer = "".join(ch if ch.isalnum() else "_" for ch in record["layer"])
    return Path(cache_dir) / f"features_{safe_layer}_{key}.nc"


def _to_grid_array(da: xr.DataArray, grid: tuple[int, int] | None) -> xr.DataArray:
    """Conv maps (stimulus, channel, y, x) stay as they are; patch tokens (stimulus, token, channel) are laid on
    their grid as (stimulus, channel, y, x), CLS and register tokens (``token_kind`` other than ``patch``) dropped."""
    layer = da.attrs.get("layer", da.name)
    if da.ndim == 4:
        return da
    if da.ndim != 3:
        raise ValueError(f"layer {layer!r} gives features with dims {da.dims}; encoders need a conv map "
                         "(stimulus, channel, y, x) or tokens (stimulus, token, channel)")
    kind = da.coords.get("token_kind")
    tokens = da.values if kind is None else da.values[:, np.asarray(kind) == "patch"]
    n = tokens.shape[1]
    if grid is None:
        side = int(round(np.sqrt(n)))
        if side * side != n:
            raise ValueError(f"layer {layer!r} has {n} patch tokens, not a square grid; pass grid=(H, W)")
        grid = (side, side)
    if grid[0] * grid[1] != n:
        raise ValueError(f"layer {layer!r} has {n} patch tokens but grid {grid} holds {grid[0] * grid[1]}")
    values = tokens.reshape(tokens.shape[0], grid[0], grid[1], -1).transpose(0, 3, 1, 2)
    return xr.DataArray(values, dims=("stimulus", "channel", "y", "x"), coords={"stimulus": da["stimulus"].values})


def cached_features(
    spec: str,
    images: torch.Tensor,
    layer: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    weights: str | None = None,
    seed: int = 0,
    stimulus_ids: list | None = None,
    batch_size: int = 32,
    device: str = "auto",
    allow_code: bool = False,
) -> xr.DataArray:
    """Grid features (stimulus, channel, y, x) of ``images`` at ``layer`` of model ``spec``, cached.

    Parameters
    ----------
    spec
        Model spec for :func:`cogvision.models.load_model` (e.g. ``timm:vit_small_patch16_224``).
    images
        (B, 3, H, W) in [0, 1]; preprocessed by the model's own preprocessing.
    layer
        Module name (see ``cogvision models inspect SPEC``).
    cache_dir
        Folder of the netCDF cache; ``None`` disables caching.
    weights
        Local weights file for the model.
    seed
        Seeds torch before building the model, so randomly initialised networks are reproducible.
    stimulus_ids
        Labels of the ``stimulus`` dim.
    batch_size, device
        Extraction settings.
    allow_code
        Let a ``package.module:factory`` spec run its code (see :func:`cogvision.models.load_model`).

    Returns
    -------
    xarray.DataArray
        Dims (``stimulus``, ``channel``, ``y``, ``x``); ``attrs`` record model, weights, layer, seed,
        images hash and preprocessing.
    """
    record = _record(spec, layer, weights, seed, images)
    path = cache_path(cache_dir, record) if cache_dir is not None else None
    cached = _read_cached_array(path) if path is not None and path.exists() else None
    if cached is not None and all(str(cached.attrs.get(k)) == str(v) for k, v in record.items()):
        return cached
    torch.manual_seed(seed)
    model = load_model(spec, weights=weights, device=device, allow_code=allow_code)
    raw = extract_features(model, images, [layer], batch_size=batch_size, stimulus_ids=stimulus_ids)[layer]
    prep = preprocessing_for(model)
    grid = None
    if raw.ndim == 3 and getattr(model, "patch_embed", None) is not None:
        grid = token_layout(model, (prep.crop, prep.crop)).grid
    da = _to_grid_array(raw, grid).astype(np.float32)
    da.name = "features"
    da.attrs = {**record, "preprocessing": raw.attrs["preprocessing"]}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_dataset(da, path)
    return da


def _read_cached_array(path: Path) -> xr.DataArray | None:
    """The cached features in ``path`` (netCDF3 or netCDF4), or None with a warning when it cannot be read."""
    try:
        with xr.open_dataarray(path) as cached:
            return cached.load()
    except (OSError, ValueError, TypeError) as err:
        log.warning("feature cache %s is unreadable (%s); computing the features again", path, err)
        return None


def as_grid(features) -> np.ndarray:
    """Features as a float32 array (n_stimuli, channels, H, W).

    Accepts a 4-D array/DataArray, or 3-D tokens (n, L, C) with a square number of tokens.
    """
    if isinstance(features, xr.DataArray) and features.ndim == 3:
        features = _to_grid_array(features, None)
    array = np.asarray(features, dtype=np.float32)
    if array.ndim == 3:
        array = _to_grid_array(xr.DataArray(array, dims=("stimulus", "token", "channel")), None).values
    if array.ndim != 4:
        raise ValueError(f"features have shape {array.shape}; expected (n_stimuli, channels, H, W) or tokens (n, L, C)")
    return array


def as_matrix(features) -> np.ndarray:
    """Features flattened to (n_stimuli, n_features) for linear models (2-D input is returned as is)."""
    array = np.asarray(features, dtype=np.float32)
    if array.ndim < 2:
        raise ValueError(f"features have shape {array.shape}; expected at least (n_stimuli, n_features)")
    return array.reshape(array.shape[0], -1)


def pooled_layer_features(
    spec: str,
    images: torch.Tensor,
    layers: list[str],
    cache_dir: str | os.PathLike | None = None,
    *,
    weights: str | None = None,
    pool: int = 4,
    size: int = 224,
    seed: int = 0,
    batch_size: int = 32,
    device: str = "auto",
    allow_code: bool = False,
) -> dict[str, np.ndarray]:
    """Features of several layers from one pass, each adaptive-average-pooled to ``pool x pool``, cached.

    The whole image is resized to ``size x size`` (no crop) and normalised by the model's
    preprocessing, so small stimuli (e.g. 112 x 112 V4 images) keep their borders.

    Parameters
    ----------
    spec, weights
        Model spec and local weights (``weights=None``: the spec's initialisation, seeded by ``seed``).
    images
        (n_stimuli, 3, H, W) in [0, 1].
    layers
        Module names of conv maps (C, h, w) or token sequences laid on a square grid.
    cache_dir
        Folder of the ``.npz`` cache keyed by model, weights, layers, pool, size, seed and images.
    pool, size, seed, batch_size, device
        Extraction settings.
    allow_code
        Let a ``package.module:factory`` spec run its code (see :func:`cogvision.models.load_model`).

    Returns
    -------
    dict of str to ndarray of shape (n_stimuli, C, pool, pool)
        float32, in the order of ``layers``.
    """
    record = {**_record(spec, ",".join(layers), weights, seed, images), "pool": int(pool), "size": int(size)}
    path = cache_path(cache_dir, record).with_suffix(".npz") if cache_dir is not None else None
    cached = _read_cached_layers(path, layers) if path is not None and path.exists() else None
    if cached is not None:
        return cached
    torch.manual_seed(seed)
    model = load_model(spec, weights=weights, device=device, allow_code=allow_code)
    prep = preprocessing_for(model)
    dev = next(model.parameters()).device
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    with torch.no_grad(), FeatureRecorder(model, layers) as recorder:
        for start in range(0, len(images), batch_size):
            batch = torch.nn.functional.interpolate(images[start:start + batch_size].float(), size=(size, size),
                                                    mode="bilinear", align_corners=False, antialias=True)
            model(prep.normalize(batch.clamp(0, 1)).to(dev))
            for name in layers:
                out = recorder.outputs[name]
                if out.ndim == 3:  # tokens (B, L, C): drop extra tokens, lay the patches on their grid
                    side = int(np.sqrt(out.shape[1]))
                    out = out[:, out.shape[1] - side * side:].transpose(1, 2).reshape(len(out), -1, side, side)
                if out.ndim != 4:
                    raise ValueError(f"layer {name!r} of {spec} gives output of shape {tuple(out.shape)}; "
                                     "expected a conv map (B, C, h, w) or tokens (B, L, C)")
                pooled = torch.nn.functional.adaptive_avg_pool2d(out.float(), pool)
                chunks[name].append(pooled.cpu().numpy().astype(np.float32))
    result = {name: np.concatenate(chunks[name]) for name in layers}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **{f"layer:{name}": value for name, value in result.items()})
        atomic_write(path, buffer.getvalue())
    return result


def _read_cached_layers(path: Path, layers: list[str]) -> dict[str, np.ndarray] | None:
    """The cached layers in ``path``, or None (with a warning when the file cannot be read)."""
    try:
        with np.load(path) as saved:
            if all(f"layer:{name}" in saved.files for name in layers):
                return {name: saved[f"layer:{name}"] for name in layers}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        log.warning("feature cache %s is unreadable (%s); computing the features again", path, err)
    return None
