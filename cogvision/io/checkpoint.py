"""``read_checkpoint``: read a weights-only torch file, with one clear error for every way it can be bad."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch


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
    path = Path(path)
    if not path.is_file():
        reason = "does not exist" if not path.exists() else "is not a file"
        raise FileNotFoundError(f"{what} {path} {reason}")
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


def _first_sentence(err: BaseException) -> str:
    """The first sentence of an error message, never torch's advice about ``weights_only``."""
    text = " ".join(str(err).split()).split(". ")[0]
    return type(err).__name__ if not text or "weights_only" in text else text
