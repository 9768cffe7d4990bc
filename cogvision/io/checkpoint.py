"""Read a weights-only torch file (``read_checkpoint``) or a safetensors file (``read_safetensors``), with one
clear error for every way it can be bad; neither runs code from the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open


def read_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, never running code from the file.

    Parameters
    ----------
    path
        A file written by ``torch.save`` holding tensors and plain containers.
    what
        What the file is, for the messages (``"checkpoint"``, ``"weights file"``, ...).

    Returns
    -------
    object
        The loaded object (tensors on the CPU).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    ValueError
        If the file is empty, truncated or not a torch file, or holds pickled objects other than tensors and
        plain containers (refused, never run).
    """
    path = _existing_file(path, what)
    if path.stat().st_size == 0:
        raise ValueError(f"{what} {path} is empty (0 bytes): it was not written completely; delete it and "
                         "write it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" not in str(err).lower() and "unsupported class" not in str(err).lower():
            raise ValueError(f"refused to load {what} {path}: not a weights-only torch file (corrupt, or pickled data "
                             "other than tensors, which is never run); save a state dict with torch.save or a "
                             ".safetensors file") from None
        raise ValueError(f"refused to load {what} {path}: it holds pickled objects other than tensors and plain "
                         "containers, which could run code; only weights-only files (torch.save of a state dict) "
                         "or .safetensors are read") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError) as err:
        raise ValueError(f"{what} {path} is truncated or not a torch file ({_first_sentence(err)})") from None


def read_safetensors(path: str | os.PathLike,
                     what: str = "safetensors file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors (on the CPU) and the metadata of a ``.safetensors`` file.

    Parameters
    ----------
    path
        A file written by ``safetensors.torch.save_file``.
    what
        What the file is, for the messages (``"RidgeCV file"``, ``"ViTGaze checkpoint"``, ...).

    Returns
    -------
    tensors : dict of str to torch.Tensor
        Every tensor in the file, by name.
    metadata : dict of str to str
        The file's metadata (empty if it has none).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    ValueError
        If it is not a readable safetensors file.
    """
    path = _existing_file(path, what)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{what} {path} is not a readable .safetensors file ({' '.join(str(err).split())})"
                         ) from None
    return tensors, metadata


def _existing_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path; FileNotFoundError naming ``what`` if it does not exist or is not a file."""
    path = Path(path)
    if not path.is_file():
        reason = "does not exist" if not path.exists() else "is not a file"
        raise FileNotFoundError(f"{what} {path} {reason}")
    return path


def _first_sentence(err: BaseException) -> str:
    """The first sentence of an error message, never torch's advice about ``weights_only``."""
    text = " ".join(str(err).split()).split(". ")[0]
    return type(err).__name__ if not text or "weights_only" in text else text
