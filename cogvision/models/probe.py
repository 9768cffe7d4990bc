"""Read a network's internals: layer features and ViT attention maps, as labelled xarray.

Features of a layer come out with named dims (``stimulus`` first):

- conv maps (B, C, H, W) -> (``stimulus``, ``<layer>/channel``, ``<layer>/y``, ``<layer>/x``);
- token sequences (B, N, C) -> (``stimulus``, ``<layer>/token``, ``<layer>/channel``), with a coordinate
  ``<layer>/token_kind`` (``cls``, ``reg0``.., ``patch``) when the model is a ViT;
- vectors (B, C) -> (``stimulus``, ``<layer>/channel``).
"""

from __future__ import annotations

import difflib
from typing import Iterable

import numpy as np
import torch
import xarray as xr
from torch import nn

from cogvision.models.attention import AttentionRecorder, block_names, token_layout
from cogvision.models.preprocess import as_float_images, preprocessing_for


def list_layers(model: nn.Module, leaves_only: bool = False) -> list[str]:
    """Names of every sub-module (``""``, the model itself, excluded), in forward-definition order."""
    return [name for name, module in model.named_modules()
            if name and (not leaves_only or not any(True for _ in module.children()))]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name``; an unknown name raises ``ValueError`` listing close matches."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        close = difflib.get_close_matches(name, list_layers(model), n=5, cutoff=0.5)
        raise ValueError(f"{type(model).__name__} has no layer {name!r}; close matches: {close} "
                         "(list all with cogvision.models.list_layers or `cogvision models inspect`)") from None


def default_layers(model: nn.Module, n: int = 4) -> list[str]:
    """A spread of ``n`` layers from early to last.

    ViTs: evenly spaced transformer blocks ending at the last. Otherwise the largest ``Sequential`` or
    ``ModuleList`` with at least ``n`` children (e.g. MobileNet's ``features``), else the model's
    top-level children that hold parameters (norm layers and a final linear head left out).
    """
    blocks = block_names(model)
    if blocks:
        return _spread(blocks, n)
    containers = [(name, m) for name, m in model.named_modules()
                  if isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m) >= n and name]
    if containers:
        name, container = max(containers, key=lambda item: sum(p.numel() for p in item[1].parameters()))
        return _spread([f"{name}.{child}" for child, _ in container.named_children()], n)
    norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    children = [name for name, m in model.named_children()
                if any(True for _ in m.parameters()) and not isinstance(m, norms)]
    if children and isinstance(model.get_submodule(children[-1]), nn.Linear):
        children = children[:-1]
    if not children:
        raise ValueError(f"cannot find layers to probe in {type(model).__name__}; pass layer names explicitly")
    return _spread(children, n)


def _spread(names: list[str], n: int) -> list[str]:
    if len(names) <= n:
        return list(names)
    idx = np.ceil(np.arange(1, n + 1) * len(names) / n).astype(int) - 1  # 12 blocks, n=4 -> 2, 5, 8, 11
    return [names[i] for i in idx]


def _batches(images: torch.Tensor, batch_size: int) -> Iterable[torch.Tensor]:
    for start in range(0, images.shape[0], batch_size):
        yield images[start:start + batch_size]


class FeatureRecorder:
    """Context manager that stores the outputs of named layers during forward passes.

    Attributes
    ----------
    outputs : dict of str to torch.Tensor
        Layer -> its latest output (the first tensor when a layer returns a tuple).
    """

    def __init__(self, model: nn.Module, layers: list[str]):
        self.modules = {name: get_layer(model, name) for name in layers}
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> "FeatureRecorder":
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str):
        def hook(module, args, output):
            self.outputs[name] = output[0] if isinstance(output, (tuple, list)) else output
        return hook

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


@torch.no_grad()
def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    layers: list[str] | None = None,
    *,
    preprocess: bool = True,
    batch_size: int = 32,
    stimulus_ids: list | None = None,
) -> xr.Dataset:
    """Features of ``images`` at ``layers`` as an ``xarray.Dataset`` (one variable per layer).

    Parameters
    ----------
    model
        Any ``nn.Module``; run in eval mode on its own device.
    images
        (B, 3, H, W) float in [0, 1] when ``preprocess`` (resized, cropped, normalised by the model's
        preprocessing), else already model-ready.
    layers
        Module names; ``None`` uses :func:`default_layers`.
    batch_size
        Images per forward pass.
    stimulus_ids
        Labels for the ``stimulus`` dim (default ``0..B-1``).

    Returns
    -------
    xarray.Dataset
        Variables named after the layers; dims as in the module docstring; ``attrs`` hold the model
        spec and preprocessing.
    """
    images = as_float_images(images)
    layers = layers or default_layers(model)
    device = next(iter(model.parameters()), torch.empty(0)).device
    prep = preprocessing_for(model)
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    model.eval()
    with FeatureRecorder(model, layers) as recorder:
        for batch in _batches(images, batch_size):
            batch = prep(batch) if preprocess else batch
            model(batch.to(device))
            for name in layers:
                chunks[name].append(recorder.outputs[name].detach().float().cpu().numpy())
    size = tuple(prep(images[:1]).shape[-2:]) if preprocess else tuple(images.shape[-2:])
    stimulus = list(stimulus_ids) if stimulus_ids is not None else list(range(images.shape[0]))
    data = {name: _label(model, name, np.concatenate(chunks[name]), stimulus, size) for name in layers}
    attrs = {"model": getattr(model, "cogvision_spec", type(model).__name__), "preprocessing": repr(prep),
             "preprocessed": int(preprocess)}
    return xr.Dataset(data, attrs=attrs)


def _label(model: nn.Module, name: str, array: np.ndarray, stimulus: list, size: tuple[int, int]) -> xr.DataArray:
    coords: dict = {"stimulus": stimulus}
    if array.ndim == 4:
        dims = ["stimulus", f"{name}/channel", f"{name}/y", f"{name}/x"]
    elif array.ndim == 3:
        dims = ["stimulus", f"{name}/token", f"{name}/channel"]
        if getattr(model, "patch_embed", None) is not None:
            labels = token_layout(model, size).labels()
            if len(labels) == array.shape[1]:
                coords[f"{name}/token_kind"] = (f"{name}/token", labels)
    elif array.ndim == 2:
        dims = ["stimulus", f"{name}/channel"]
    else:
        raise ValueError(f"layer {name!r} gives an output of shape {array.shape}; expected 2-D, 3-D or 4-D")
    return xr.DataArray(array, dims=dims, coords=coords, name=name)


@torch.no_grad()
def extract_attention(
    model: nn.Module,
    images: torch.Tensor,
    blocks: list[str] | None = None,
    *,
    preprocess: bool = True,
    batch_size: int = 16,
) -> xr.Dataset:
    """Softmax attention maps of ViT ``blocks`` as an ``xarray.Dataset``.

    Returns
    -------
    xarray.Dataset
        One variable per block with dims (``stimulus``, ``head``, ``query``, ``key``); coordinates
        ``token_kind`` (``cls``/``regN``/``patch``), ``token_y``/``token_x`` (patch grid position, -1
        for special tokens) on both ``query`` and ``key``.
    """
    images = as_float_images(images)
    prep = preprocessing_for(model)
    device = next(iter(model.parameters())).device
    chunks: dict[str, list[np.ndarray]] = {}
    with AttentionRecorder(model, blocks) as recorder:
        for batch in _batches(images, batch_size):
            batch = prep(batch) if preprocess else batch
            model(batch.to(device))
            for name, maps in recorder.maps.items():
                chunks.setdefault(name, []).append(maps.float().cpu().numpy())
        size = tuple((prep(images[:1]) if preprocess else images[:1]).shape[-2:])
    layout = token_layout(model, size)
    kinds = layout.labels()
    rows, cols = np.divmod(np.arange(layout.grid[0] * layout.grid[1]), layout.grid[1])
    ty = np.concatenate([np.full(layout.n_prefix, -1), rows])
    tx = np.concatenate([np.full(layout.n_prefix, -1), cols])
    coords = {"token_kind": (("token",), kinds), "token_y": (("token",), ty), "token_x": (("token",), tx)}
    data = {}
    for name, parts in chunks.items():
        array = np.concatenate(parts)
        data[name] = xr.DataArray(array, dims=["stimulus", "head", "query", "key"])
    ds = xr.Dataset(data)
    for dim in ("query", "key"):
        ds = ds.assign_coords({f"{dim}_{k}": ((dim,), v[1]) for k, v in coords.items()})
    ds.attrs["model"] = getattr(model, "cogvision_spec", type(model).__name__)
    return ds
