"""Locate the project's shared real-data folder (``../shared`` or ``$COGVISION_SHARED``) and read its JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_VAR = "COGVISION_SHARED"


def shared_dir() -> Path | None:
    """Return the shared data folder, or ``None`` when there is none.

    ``$COGVISION_SHARED`` wins; otherwise ``shared/`` beside the folder that holds this package's
    repository (``<repo>/../shared``), then ``./shared`` and ``../shared`` from the working directory.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) if Path(env).is_dir() else None
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared", Path.cwd() / "shared", Path.cwd().parent / "shared"):
        if (candidate / "data").is_dir() or (candidate / "models").is_dir():
            return candidate
    return None


def shared_path(*parts: str) -> Path:
    """Path to a file inside the shared folder.

    Raises
    ------
    FileNotFoundError
        When the shared folder or the file is missing, naming what was looked for.
    """
    root = shared_dir()
    if root is None:
        raise FileNotFoundError(
            f"no shared data folder: set ${ENV_VAR} or place 'shared/' beside the repository "
            f"(looked for {'/'.join(parts)})"
        )
    path = root.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist in the shared data folder {root}")
    return path


def read_json(path: Path, what: str, top_level: type, described: str):
    """Parse a JSON data file whose top level must be ``top_level`` (``dict`` or ``list``).

    Raises
    ------
    FileNotFoundError
        When the file is missing (``what`` names it, e.g. "Amazon covers file").
    ValueError
        On malformed JSON, or a top level that is not ``described`` (e.g. "an object of collages").
    """
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, top_level):
        raise ValueError(f"{path}: expected {described} at the top level, got {type(data).__name__}")
    return data
