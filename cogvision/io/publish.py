"""``publish_folder``: a result folder appears complete, replaces the old one only then, or not at all.

The new results are written into ``.<name>.partial-<pid>-<token>/<name>`` beside the destination. On
success the old folder (with ``overwrite``) is moved into that hidden folder, the new one is renamed into
place and the hidden folder, old results included, is removed. On any error, ``KeyboardInterrupt`` included,
the hidden folder is removed and the destination is untouched. A hidden folder left by a killed process
(``SIGKILL``) is removed, with a warning, by the next run writing the same destination.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cogvision.io.atomic import atomic_write

logger = logging.getLogger("cogvision")

PARTIAL = "partial"
METADATA_NAME = "run.json"


def check_out_dir(out: str | os.PathLike, overwrite: bool = False, flag: str = "--out") -> Path:
    """Check that ``out`` can become a result folder, before any work starts; nothing is written.

    Parameters
    ----------
    out
        Destination folder: absent, empty, or (with ``overwrite``) an existing folder to replace.
    overwrite
        Accept an existing non-empty folder (it is replaced only once the new results are complete).
    flag
        How the user gave ``out`` (named in the error messages).

    Returns
    -------
    pathlib.Path
        ``out`` as an absolute path.

    Raises
    ------
    NotADirectoryError
        If ``out``, or a folder above it, is a file.
    FileExistsError
        If ``out`` is a non-empty folder and ``overwrite`` is False.
    PermissionError
        If the folder that would hold ``out`` is not writable.
    """
    target = Path(os.path.abspath(out))
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{flag} {out} is a file; expected a folder (absent, empty, or a result folder "
                                 "to replace with --overwrite)")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{flag} {out} exists and is not empty; pass --overwrite to replace it")
    existing = target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{flag} {out} cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{flag} {out} cannot be created: no write permission in {existing}")
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove hidden ``.<name>.partial-<pid>-*`` folders beside ``target`` whose process is gone.

    Returns
    -------
    list of pathlib.Path
        The folders removed (each reported with a warning on the ``cogvision`` logger).
    """
    removed = []
    if not target.parent.is_dir():
        return removed
    for path in target.parent.glob(f".{glob.escape(target.name)}.{PARTIAL}-*"):
        try:
            pid = int(path.name[len(target.name) + len(PARTIAL) + 3:].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        logger.warning("removed %s, left behind by an interrupted run (process %d)", path, pid)
    return removed


def _swap(staging: Path, target: Path, work: Path, overwrite: bool, flag: str) -> None:
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{flag} {target} was filled by another process meanwhile; the new results "
                                  "were not published")
        previous = work / f".old.{target.name}"
        os.replace(target, previous)
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(previous, target)
            raise
    elif target.is_dir():
        target.rmdir()
        os.replace(staging, target)
    elif target.exists():
        raise NotADirectoryError(f"{flag} {target} became a file meanwhile; the new results were not published")
    else:
        os.replace(staging, target)


@contextmanager
def publish_folder(out: str | os.PathLike, *, overwrite: bool = False, metadata: dict[str, Any] | None = None,
                   flag: str = "--out") -> Iterator[Path]:
    """Yield an empty staging folder; publish it as ``out`` when the block ends without error.

    Parameters
    ----------
    out
        Destination folder (see :func:`check_out_dir`, called first).
    overwrite
        Replace an existing non-empty ``out``; the old folder is deleted only after the new one is in place.
    metadata
        When given, written as ``run.json`` into the folder (see :func:`~cogvision.io.run_metadata`).
    flag
        How the user gave ``out`` (named in the error messages).

    Yields
    ------
    pathlib.Path
        The staging folder to write into; ordinary permissions (``0o777`` less the umask).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "result"
    >>> with publish_folder(out) as folder:
    ...     _ = (folder / "a.txt").write_text("1")
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt']
    """
    target = check_out_dir(out, overwrite, flag)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    work = target.parent / f".{target.name}.{PARTIAL}-{os.getpid()}-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        staging = work / target.name
        staging.mkdir()
        yield staging
        if metadata is not None:
            atomic_write(staging / METADATA_NAME, json.dumps(metadata, indent=2, default=str) + "\n")
        _swap(staging, target, work, overwrite, flag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
