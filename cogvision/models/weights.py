"""Read weights from a local file without ever executing code from it.

``.safetensors`` files are read with safetensors; anything else with ``torch.load(weights_only=True)``,
which refuses pickled objects other than tensors and plain containers.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from cogvision.io import read_checkpoint

NESTING_KEYS = ("state_dict", "model", "model_state_dict", "module")
PREFIXES = ("module.", "_orig_mod.")
SHOW = 8


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path`` (safetensors or a weights-only torch checkpoint).

    A state dict nested under ``state_dict``/``model``/``model_state_dict``/``module`` is unwrapped and
    ``module.`` (DataParallel) and ``_orig_mod.`` (torch.compile) prefixes are stripped.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a state dict, or holds pickled code (refused, never run).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        try:
            state = load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as err:
            raise ValueError(f"weights file {path} is not a valid .safetensors file ({err})") from None
    else:
        state = read_checkpoint(path, "weights file")
    return _unwrap(state, path)


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(state, dict) and not _is_tensor_dict(state):
        key = next((k for k in NESTING_KEYS if k in state and isinstance(state[k], dict)), None)
        if key is None:
            raise ValueError(
                f"{path} holds a dict with keys {sorted(map(str, state))[:SHOW]} but no state dict; "
                f"expected tensors, or a state dict under one of {NESTING_KEYS}"
            )
        state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, expected a state dict of tensors")
    out = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def _is_tensor_dict(state: dict) -> bool:
    return len(state) > 0 and all(isinstance(v, torch.Tensor) for v in state.values())


def apply_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], spec: str) -> None:
    """Load ``state`` into ``model`` strictly, with an error that lists what does not match.

    Raises
    ------
    ValueError
        Naming the spec, the first missing and unexpected keys and any shape mismatches.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"weights do not match the model {spec!r}:"]
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[:SHOW]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[:SHOW]})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (first: {shapes[:SHOW]})")
        raise ValueError(" ".join(parts))
    model.load_state_dict(state, strict=True)
