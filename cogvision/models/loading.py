"""Load any vision network from a spec string ``SOURCE:NAME``.

Sources (:data:`MODEL_SOURCES`, one loader function each; see :data:`SPEC_EXAMPLES`)
----------------------------------------------------------------------------------------
``builtin:NAME``              a constructor registered with :func:`cogvision.models.register_model`
                              (``tiny_cnn``, ``tiny_vit``, ``permutation_invariant``, ...)
``timm:NAME``                 a timm model, built with ``pretrained=False`` (weights from ``weights=``)
``torchvision:NAME``          a torchvision model, built with ``weights=None``
``hf:LOCAL_DIR``              a transformers vision model from a local folder (``pip install cogvision[hf]``)
``torchscript:PATH``          a TorchScript archive

``package.module:factory`` imports a module and calls a function: it runs Python code, so
:func:`load_model` refuses it unless ``allow_code=True``. Registered constructors inside cogvision
(e.g. ``cogvision.models.builtin:tiny_vit``, the older spelling of ``builtin:tiny_vit``) are not
foreign code and load without it.

Weights never come from the network: pass a local ``.safetensors`` file or a torch checkpoint,
which is read with ``weights_only=True``.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
import torchvision

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.models.preprocess import (
    ATTRIBUTE,
    Preprocessing,
    set_preprocessing,
    timm_preprocessing,
    torchvision_preprocessing,
)
from cogvision.models.registry import builtin_constructor, is_registered
from cogvision.models.weights import apply_state_dict, read_state_dict

ModelSource = Callable[[str, dict, bool], tuple[torch.nn.Module, Preprocessing]]
CODE_FORM = "package.module:factory"
TRUSTED_PACKAGE = "cogvision"

SPEC_EXAMPLES = {
    "builtin": ("builtin:tiny_vit", "a network that ships with cogvision (tiny_cnn, tiny_vit, permutation_invariant)"),
    "timm": ("timm:vit_small_patch16_224", "any timm model name, random init; weights from --weights"),
    "torchvision": ("torchvision:mobilenet_v2", "any torchvision.models name, random init; weights from --weights"),
    "hf": ("hf:/path/to/local/dinov2-small", "a transformers model folder on disk (extra: cogvision[hf])"),
    "torchscript": ("torchscript:/path/to/model.pt", "a TorchScript archive"),
    "module": ("mypackage.nets:my_cnn",
               "package.module:factory, any callable returning nn.Module (runs code: allow_code)"),
}


def _builtin(name: str, kwargs: dict, allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    model = builtin_constructor(name)(**kwargs)
    return model, getattr(model, ATTRIBUTE, None) or Preprocessing(source="default")


def _timm(name: str, kwargs: dict, allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise ValueError(f"timm has no model {name!r}; close matches: {close}")
    model = timm.create_model(name, pretrained=False, **kwargs)
    return model, timm_preprocessing(model)


def _torchvision(name: str, kwargs: dict, allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    names = torchvision.models.list_models()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5)
        raise ValueError(f"torchvision has no model {name!r}; close matches: {close}")
    return torchvision.models.get_model(name, weights=None, **kwargs), torchvision_preprocessing(name)


def _huggingface(name: str, kwargs: dict, allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    if kwargs.get("trust_remote_code") and not allow_code:
        raise ValueError(f"hf:{name} with trust_remote_code=True runs the folder's Python code; "
                         "pass allow_code=True to allow it")
    try:
        import transformers  # optional dependency: the [hf] extra
    except ImportError as err:
        raise ValueError("hf: specs need transformers: pip install 'cogvision[hf]'") from err
    # local_files_only: never reach a hub, even when the name is a hub id
    try:
        model = transformers.AutoModel.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError as err:
        raise FileNotFoundError(
            f"no local transformers model at {name!r} (downloads are not attempted): {err}"
        ) from err
    try:
        proc = transformers.AutoImageProcessor.from_pretrained(name, local_files_only=True)
        size = proc.crop_size["height"] if getattr(proc, "crop_size", None) else proc.size.get("height", 224)
        preprocessing = Preprocessing(crop=int(size), resize=int(size), mean=tuple(proc.image_mean),
                                      std=tuple(proc.image_std), source="hf")
    except (OSError, AttributeError, KeyError, TypeError):
        preprocessing = Preprocessing(source="default")
    return model, preprocessing


def _torchscript(name: str, kwargs: dict, allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"TorchScript file {path} does not exist (spec 'torchscript:{name}')")
    if kwargs:
        raise ValueError(f"a TorchScript archive takes no constructor arguments, got {sorted(kwargs)}")
    return torch.jit.load(str(path), map_location="cpu"), Preprocessing(source="default")


MODEL_SOURCES: dict[str, ModelSource] = {
    "builtin": _builtin,
    "hf": _huggingface,
    "timm": _timm,
    "torchscript": _torchscript,
    "torchvision": _torchvision,
}


def split_spec(spec: str) -> tuple[str, str]:
    """``"timm:vit_small_patch16_224"`` -> ``("timm", "vit_small_patch16_224")``.

    Raises
    ------
    ValueError
        If ``spec`` has no ``SOURCE:`` part or nothing after it, listing the forms.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"model spec {spec!r} must look like one of: "
                         + ", ".join(example for example, _ in SPEC_EXAMPLES.values()))
    source, name = spec.split(":", 1)
    if not name:
        raise ValueError(f"model spec {spec!r} has no name after {source!r}:")
    return source, name


def _is_module_path(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _code_refused(spec: str, module_name: str, why: str) -> ValueError:
    close = difflib.get_close_matches(module_name, MODEL_SOURCES, n=1)
    hint = f" (did you mean {close[0]}:?)" if close else ""
    return ValueError(
        f"model spec {spec!r}: {why}{hint}. Sources that run no code: {', '.join(MODEL_SOURCES)}. A "
        f"'{CODE_FORM}' spec imports and runs Python code, so it is loaded only with allow_code=True "
        "(load_model(..., allow_code=True); in a config file `allow_code: true`)")


def _factory(module_name: str, attr: str, spec: str, kwargs: dict,
             allow_code: bool) -> tuple[torch.nn.Module, Preprocessing]:
    if not _is_module_path(module_name):
        raise ValueError(f"unknown model source {module_name!r} in {spec!r}; choices: {', '.join(MODEL_SOURCES)} "
                         f"or {CODE_FORM} (with allow_code=True)")
    trusted_module = module_name == TRUSTED_PACKAGE or module_name.startswith(TRUSTED_PACKAGE + ".")
    if not (allow_code or trusted_module):
        raise _code_refused(spec, module_name, f"{module_name!r} is not a model source")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import {module_name!r} from spec {spec!r}: {err}") from err
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, public, n=5)
        raise ValueError(f"{module_name!r} has no attribute {attr!r} (spec {spec!r}); close matches: {close}")
    factory = getattr(module, attr)
    if not (allow_code or is_registered(factory)):
        raise _code_refused(spec, module_name, f"{module_name}.{attr} is not a registered cogvision model constructor")
    if not callable(factory):
        raise ValueError(f"{spec!r} names a {type(factory).__name__}, expected a callable returning a torch.nn.Module")
    model = factory(**kwargs)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{spec!r} returned a {type(model).__name__}, expected a torch.nn.Module")
    return model, getattr(model, ATTRIBUTE, None) or Preprocessing(source="default")


@fill_doc
def load_model(
    spec: str,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    *,
    allow_code: bool = False,
    **kwargs: Any,
) -> torch.nn.Module:
    """Build the network named by ``spec``, load local ``weights``, move it to ``device``, set eval mode.

    Parameters
    ----------
    spec : str
        ``SOURCE:NAME`` with a source of :data:`MODEL_SOURCES` (see the module docstring), or
        ``package.module:factory``.
    weights : str or os.PathLike, optional
        Local ``.safetensors`` or torch checkpoint; nested state dicts and ``module.`` prefixes are handled.
    %(device)s
    allow_code : bool, default False
        Allow a ``package.module:factory`` spec outside cogvision's registered constructors (and
        ``trust_remote_code`` for ``hf:``). Such a spec imports and runs Python code: give it only for a
        spec you wrote or trust.
    **kwargs
        Passed to the constructor (e.g. ``num_classes=10``, ``img_size=64`` for timm).

    Returns
    -------
    torch.nn.Module
        In eval mode, with its preprocessing attached (see :func:`cogvision.models.preprocessing_for`) and
        the spec in ``model.cogvision_spec``.

    Raises
    ------
    ValueError
        Bad spec form, unknown source or model name (with the choices or close matches), a code spec
        without ``allow_code``, weights that do not match.
    FileNotFoundError
        Missing weights file or TorchScript/HF path.

    Examples
    --------
    >>> model = load_model("builtin:tiny_cnn", device="cpu", num_classes=3)
    >>> model(torch.rand(1, 3, 64, 64)).shape
    torch.Size([1, 3])
    >>> load_model("tim:resnet18")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: model spec 'tim:resnet18': 'tim' is not a model source (did you mean timm:?). ...
    """
    source, name = split_spec(spec)
    if source in MODEL_SOURCES:
        model, preprocessing = MODEL_SOURCES[source](name, kwargs, allow_code)
    else:
        model, preprocessing = _factory(source, name, spec, kwargs, allow_code)
    if weights is not None:
        apply_state_dict(model, read_state_dict(weights), spec)
    model.eval()
    model.to(resolve_device(device))
    set_preprocessing(model, preprocessing)
    model.cogvision_spec = spec
    return model
