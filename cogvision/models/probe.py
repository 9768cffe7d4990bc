"""Read a network's internals: layer features and ViT attention maps, as labelled xarray.

:func:`extract_features` returns one ``xarray.DataArray`` per layer (a dict keyed by layer name), each
named after its layer (``.name`` and ``attrs["layer"]``), with the package's documented dims:

- conv maps (B, C, H, W) -> (``stimulus``, ``channel``, ``y``, ``x``);
- token sequences (B, N, C) -> (``stimulus``, ``token``, ``channel``), with a coordinate ``token_kind``
  (``cls``, ``reg0``.., ``patch``) on ``token`` when the model is a ViT;
- vectors (B, C) -> (``stimulus``, ``channel``).

Layers of different sizes cannot share a dim in one ``xarray.Dataset``, hence a dict of arrays.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import torch
import xarray as xr
from torch import nn

from cogvision.models.attention import AttentionRecorder, block_names, token_layout
from cogvision.models.preprocess import as_float_images, preprocessing_for

FEATURE_DIMS = {4: ("stimulus", "channel", "y", "x"), 3: ("stimulus", "token", "channel"), 2: ("stimulus", "channel")}


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

    def __enter__(self) -> FeatureRecorder:
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
) -> dict[str, xr.DataArray]:
    """Features of ``images`` at ``layers``: one labelled array per layer.

    Parameters
    ----------
    model : torch.nn.Module
        Any network; run in eval mode on its own device.
    images : torch.Tensor
        (B, 3, H, W) float in [0, 1] when ``preprocess`` (resized, cropped, normalised by the model's
        preprocessing), else already model-ready.
    layers : list of str, optional
        Module names; ``None`` uses :func:`default_layers`.
    preprocess : bool
        Apply the model's preprocessing (:func:`cogvision.models.preprocessing_for`) first.
    batch_size : int
        Images per forward pass.
    stimulus_ids : list, optional
        Labels for the ``stimulus`` dim (default ``0..B-1``).

    Returns
    -------
    dict of str to xarray.DataArray
        Layer name -> its features in the order of ``layers``, with dims (``stimulus``, ``channel``,
        ``y``, ``x``) for conv maps, (``stimulus``, ``token``, ``channel``) for token sequences (with
        ``token_kind`` on ViTs) or (``stimulus``, ``channel``); ``attrs`` hold ``layer``, the model spec
        (``model``), the ``preprocessing`` and whether it was applied (``preprocessed``).

    Examples
    --------
    >>> from cogvision.models import load_model
    >>> cnn = load_model("builtin:tiny_cnn", device="cpu")
    >>> feats = extract_features(cnn, torch.rand(2, 3, 64, 64), ["features.1", "head"])
    >>> feats["features.1"].dims, feats["features.1"].shape
    (('stimulus', 'channel', 'y', 'x'), (2, 32, 32, 32))
    >>> feats["head"].dims, feats["head"].attrs["layer"]
    (('stimulus', 'channel'), 'head')
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
    attrs = {"model": getattr(model, "cogvision_spec", type(model).__name__), "preprocessing": repr(prep),
             "preprocessed": int(preprocess)}
    return {name: _label(model, name, np.concatenate(chunks[name]), stimulus, size, attrs) for name in layers}


def _label(model: nn.Module, name: str, array: np.ndarray, stimulus: list, size: tuple[int, int],
           attrs: dict) -> xr.DataArray:
    if array.ndim not in FEATURE_DIMS:
        raise ValueError(f"layer {name!r} gives an output of shape {array.shape}; expected 2-D, 3-D or 4-D")
    coords: dict = {"stimulus": stimulus}
    if array.ndim == 3 and getattr(model, "patch_embed", None) is not None:
        labels = token_layout(model, size).labels()
        if len(labels) == array.shape[1]:
            coords["token_kind"] = ("token", labels)
    return xr.DataArray(array, dims=FEATURE_DIMS[array.ndim], coords=coords, name=name,
                        attrs={"layer": name, **attrs})


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
