"""Appearance of grid-cell objects from a pretrained CNN: the image's feature maps pooled over each cell.

For a search scene whose objects are the cells of a grid (Interiors: 24 x 32 cells of 32 px), OAT's appearance
of an object is the network's feature map at the chosen layers, average-pooled over the cell; the target
token's is the search template's features averaged over the template. One pass over the full image serves
every cell (the issue allows crops or a pooled map, whichever gives the same result faster: cropping 768 cells
would cost 768 forward passes per image). Images and templates are shown to the network at their own pixel
size, normalised by the network's preprocessing (no resize), so that cell and template features are at one
scale.

Optionally (``similarity=True``) each layer adds one more feature: the cosine similarity between a cell's
features and the template's, z-scored over the image's cells (the target token gets the largest cell value).
This is the target-similarity map that template-matching search models (IVSN, eccNET, nnIBS) use, given to
OAT as an input; without it OAT has to learn to match appearance from a few dozen training images.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cogvision.models import FeatureRecorder, preprocessing_for
from cogvision.scanpath.containers import ScanpathSet


def _as_batch(image: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, 3)`` image (uint8, or float in [0, 1]) -> ``(1, 3, H, W)`` float in [0, 1]."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return torch.as_tensor(array, dtype=torch.float32).permute(2, 0, 1)[None] / scale


@torch.no_grad()
def layer_maps(model: nn.Module, image: np.ndarray, layers: Sequence[str]) -> list[torch.Tensor]:
    """Feature maps ``(C_l, h_l, w_l)`` of ``image`` at each layer, the image at its own size."""
    device = next(iter(model.parameters()), torch.empty(0)).device
    prep = preprocessing_for(model)
    model.eval()
    with FeatureRecorder(model, list(layers)) as recorder:
        model(prep.normalize(_as_batch(image)).to(device))
        out = []
        for name in layers:
            value = recorder.outputs[name]
            if value.ndim != 4:
                raise ValueError(f"layer {name!r} gives shape {tuple(value.shape)}; grid features need a conv map "
                                 "(B, C, H, W)")
            out.append(value[0].float().cpu())
    return out


def grid_features(model: nn.Module, image: np.ndarray, template: np.ndarray, layers: Sequence[str],
                  grid: tuple[int, int], similarity: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Cell features ``(rows * cols, F)`` (row-major) and template features ``(F,)``.

    ``F`` is the sum of the layers' channels, plus one similarity feature per layer when ``similarity``.
    """
    rows, cols = grid
    cells, target = [], []
    sims_cells, sims_target = [], []
    for image_map, template_map in zip(layer_maps(model, image, layers), layer_maps(model, template, layers)):
        pooled = F.adaptive_avg_pool2d(image_map, (rows, cols)).flatten(1).T  # (rows * cols, C)
        tvec = template_map.mean((1, 2))  # (C,)
        cells.append(pooled)
        target.append(tvec)
        if similarity:
            cos = F.cosine_similarity(pooled, tvec[None], dim=1)
            z = (cos - cos.mean()) / cos.std().clamp_min(1e-6)
            sims_cells.append(z[:, None])
            sims_target.append(z.max()[None])
    cell_features = torch.cat(cells + sims_cells, 1).numpy()
    target_features = torch.cat(target + sims_target).numpy()
    return cell_features.astype(np.float32), target_features.astype(np.float32)


def attach_grid_features(data: ScanpathSet, images: dict[str, np.ndarray], templates: dict[str, np.ndarray],
                         model: nn.Module | None, layers: Sequence[str], similarity: bool = True,
                         cache: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> ScanpathSet:
    """``data`` with every scene's ``features`` and ``target_features`` from :func:`grid_features`.

    Parameters
    ----------
    images, templates
        ``image_id -> array``: ``(H, W)`` or ``(H, W, 3)``, uint8 or float in [0, 1].
    cache
        Optional ``image_id -> (cell features, template features)`` read before computing and filled after.
    """
    cache = {} if cache is None else cache
    scenes = {}
    for trial, scene in data.scenes.items():
        key = scene.image_id
        if key not in cache:
            if key not in images or key not in templates:
                raise ValueError(f"trial {trial!r}: no image or template for image {key!r}")
            cache[key] = grid_features(model, images[key], templates[key], layers, scene.grid_shape, similarity)
        cell, target = cache[key]
        if len(cell) != scene.n_objects:
            raise ValueError(f"trial {trial!r}: {len(cell)} cell features for {scene.n_objects} objects")
        scenes[trial] = dataclasses.replace(scene, features=cell, target_features=target)
    return ScanpathSet(data.fixations, scenes, data.name, data.allow_outside)
