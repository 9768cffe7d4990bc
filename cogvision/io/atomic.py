"""``atomic_write``: a file appears complete or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Union

Content = Union[str, bytes, Callable[[Path], object]]


def atomic_write(path: str | os.PathLike, content: Content) -> Path:
    """Write ``content`` to a temporary file beside ``path`` and rename it onto ``path``.

    Parameters
    ----------
    path
        Destination file; its folder is created when missing.
    content
        Text (written as UTF-8), bytes, or a function called with the temporary path that writes the file
        itself (e.g. ``lambda tmp: frame.to_csv(tmp)``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    IsADirectoryError
        If ``path`` is an existing folder.

    Notes
    -----
    The temporary file is removed on any error, including ``KeyboardInterrupt``; the file mode is the
    ordinary one (``0o666`` less the umask), as for any file the user writes.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(target, "hello").read_text()
    'hello'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected a file path to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
    try:
        if isinstance(content, str):
            tmp.write_text(content, encoding="utf-8")
        elif isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            content(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
