"""What produced a result folder: cogvision version, git commit, command line, seed and device."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import cogvision

_REPO = Path(cogvision.__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The commit of the cogvision checkout (with ``+dirty`` when it has local changes), or ``None``.

    ``None`` for an installed wheel, or when git is missing or slow.
    """
    if not (_REPO / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def run_metadata(*, seed: int | None = None, device: str | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-ready record of the run (written as ``run.json`` by :func:`~cogvision.io.publish_folder`).

    Parameters
    ----------
    seed
        The run's seed, when it has one.
    device
        The device it ran on (e.g. ``"cpu"``, ``"cuda"``).
    **extra
        Further entries (e.g. ``model="torchvision:mobilenet_v2"``).

    Returns
    -------
    dict
        ``cogvision_version``, ``git_commit``, ``command`` (the command line), ``seed``, ``device``,
        ``python``, ``torch``, ``created`` (local time, ISO 8601) and ``extra``'s entries.
    """
    record = {
        "cogvision_version": cogvision.__version__,
        "git_commit": git_commit(),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else None,
        "seed": seed,
        "device": None if device is None else str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record.update({key: (value if isinstance(value, (int, float, bool, type(None))) else str(value))
                   for key, value in extra.items()})
    return record
