"""Fitted encoders on disk: arrays as safetensors, the estimator's parameters and fitted settings as JSON metadata.

One ``.safetensors`` file per model, written atomically; reading it runs no code from the file. ``load`` rebuilds
the estimator by keyword from its saved parameters, so it predicts exactly as the saved one did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from cogvision.io import atomic_write, read_safetensors

FORMAT = "cogvision.brain.encoder/1"


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that can be written as JSON (tuples as lists); others (a CV splitter, a path) left out."""
    out = {}
    for key, value in params.items():
        value = list(value) if isinstance(value, tuple) else value
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[key] = value
    return out


def write_encoder(path: str | os.PathLike, kind: str, arrays: dict[str, np.ndarray | torch.Tensor],
                  settings: dict[str, Any]) -> Path:
    """Write ``arrays`` and the JSON ``settings`` of an encoder of class ``kind`` to a ``.safetensors`` file.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.safetensors``.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: an encoder is saved as a .safetensors file")
    # contiguous copies: safetensors refuses views and tensors that share memory
    tensors = {k: torch.as_tensor(v if isinstance(v, torch.Tensor) else np.asarray(v)).detach().cpu().contiguous()
               .clone() for k, v in arrays.items()}
    meta = {"format": FORMAT, "class": kind, "settings": json.dumps(settings)}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def read_encoder(path: str | os.PathLike, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The arrays and settings of a ``kind`` encoder written by :func:`write_encoder`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    ValueError
        If it is not a readable safetensors file, or holds another format or another class of encoder.
    """
    path = Path(path)
    tensors, meta = read_safetensors(path, f"{kind} file")
    if meta.get("format") != FORMAT or meta.get("class") != kind:
        raise ValueError(f"{path} holds {meta.get('class') or 'no cogvision encoder'} (format "
                         f"{meta.get('format')!r}), not a {kind} saved by cogvision")
    return tensors, json.loads(meta["settings"])
