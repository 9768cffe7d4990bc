"""Load any vision network from a spec string.

Specs
-----
``timm:NAME``                 a timm model, built with ``pretrained=False`` (weights from ``weights=``)
``torchvision:NAME``          a torchvision model, built with ``weights=None``
``hf:NAME_OR_LOCAL_DIR``      a transformers vision model from a local folder (``pip install cogvision[hf]``)
``torchscript:PATH``          a TorchScript archive
``package.module:factory``    any Python callable returning an ``nn.Module``

Weights never come from the network: pass a local ``.safetensors`` file or a torch checkpoint,
which is read with ``weights_only=True``.
"""

from __future__ import annotations

import difflib
import importlib
import os
from pathlib import Path
from typing import Any

import torch

from cogvision.device import resolve_device
from cogvision.models.preprocess import Preprocessing, set_preprocessing, timm_preprocessing, torchvision_preprocessing
from cogvision.models.weights import apply_state_dict, read_state_dict

SPEC_EXAMPLES = {
    "timm": ("timm:vit_small_patch16_224", "any timm model name, random init; weights from --weights"),
    "torchvision": ("torchvision:mobilenet_v2", "any torchvision.models name, random init; weights from --weights"),
    "hf": ("hf:/path/to/local/dinov2-small", "a transformers model folder on disk (extra: cogvision[hf])"),
    "torchscript": ("torchscript:/path/to/model.pt", "a TorchScript archive"),
    "module": ("cogvision.models.builtin:tiny_vit", "package.module:factory, any callable returning nn.Module"),
}


def load_model(
    spec: str,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    **kwargs: Any,
) -> torch.nn.Module:
    """Build the network named by ``spec``, load local ``weights``, move it to ``device``, set eval mode.

    Parameters
    ----------
    spec
        See the module docstring for the forms.
    weights
        Local ``.safetensors`` or torch checkpoint; nested state dicts and ``module.`` prefixes are handled.
    device
        ``"auto"`` (cuda, mps, cpu) or explicit.
    **kwargs
        Passed to the constructor (e.g. ``num_classes=10``, ``img_size=64`` for timm).

    Returns
    -------
    torch.nn.Module
        In eval mode, with its preprocessing attached (see :func:`cogvision.models.preprocessing_for`).

    Raises
    ------
    ValueError
        Bad spec form, unknown model name (with close matches), weights that do not match.
    FileNotFoundError
        Missing weights file or TorchScript/HF path.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"model spec {spec!r} must look like one of: " + ", ".join(e for e, _ in SPEC_EXAMPLES.values()))
    prefix, name = spec.split(":", 1)
    if not name:
        raise ValueError(f"model spec {spec!r} has no name after {prefix!r}:")
    if prefix == "timm":
        model = _timm(name, kwargs)
        preprocessing = timm_preprocessing(model)
    elif prefix == "torchvision":
        model = _torchvision(name, kwargs)
        preprocessing = torchvision_preprocessing(name)
    elif prefix == "hf":
        model, preprocessing = _huggingface(name, kwargs)
    elif prefix == "torchscript":
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"TorchScript file {path} does not exist (spec {spec!r})")
        model = torch.jit.load(str(path), map_location="cpu")
        preprocessing = Preprocessing(source="default")
    elif "." in prefix or prefix.isidentifier():
        model = _factory(prefix, name, spec, kwargs)
        preprocessing = getattr(model, "cogvision_preprocessing", None) or Preprocessing(source="default")
    else:
        raise ValueError(f"unknown spec prefix {prefix!r} in {spec!r}; expected timm, torchvision, hf, torchscript or package.module")
    if weights is not None:
        apply_state_dict(model, read_state_dict(weights), spec)
    model.eval()
    model.to(resolve_device(device))
    set_preprocessing(model, preprocessing)
    model.cogvision_spec = spec
    return model


def _timm(name: str, kwargs: dict) -> torch.nn.Module:
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise ValueError(f"timm has no model {name!r}; close matches: {close}")
    return timm.create_model(name, pretrained=False, **kwargs)


def _torchvision(name: str, kwargs: dict) -> torch.nn.Module:
    import torchvision

    names = torchvision.models.list_models()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5)
        raise ValueError(f"torchvision has no model {name!r}; close matches: {close}")
    return torchvision.models.get_model(name, weights=None, **kwargs)


def _huggingface(name: str, kwargs: dict) -> tuple[torch.nn.Module, Preprocessing]:
    try:
        import transformers
    except ImportError as err:
        raise ValueError("hf: specs need transformers: pip install 'cogvision[hf]'") from err
    # local_files_only: never reach a hub, even when the name is a hub id
    try:
        model = transformers.AutoModel.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError as err:
        raise FileNotFoundError(f"no local transformers model at {name!r} (downloads are not attempted): {err}") from err
    try:
        proc = transformers.AutoImageProcessor.from_pretrained(name, local_files_only=True)
        size = proc.crop_size["height"] if getattr(proc, "crop_size", None) else proc.size.get("height", 224)
        preprocessing = Preprocessing(crop=int(size), resize=int(size), mean=tuple(proc.image_mean),
                                      std=tuple(proc.image_std), source="hf")
    except (OSError, AttributeError, KeyError, TypeError):
        preprocessing = Preprocessing(source="default")
    return model, preprocessing


def _factory(module_name: str, attr: str, spec: str, kwargs: dict) -> torch.nn.Module:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import {module_name!r} from spec {spec!r}: {err}") from err
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, public, n=5)
        raise ValueError(f"{module_name!r} has no attribute {attr!r} (spec {spec!r}); close matches: {close}")
    factory = getattr(module, attr)
    if not callable(factory):
        raise ValueError(f"{spec!r} names a {type(factory).__name__}, expected a callable returning a torch.nn.Module")
    model = factory(**kwargs)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{spec!r} returned a {type(model).__name__}, expected a torch.nn.Module")
    return model
