"""Logging and progress bars for long work, with one switch for ``--quiet``; Markdown tables for reports.

Library code never prints: it logs through :func:`get_logger` and wraps long loops in :func:`progress`.
The command line shows ``info`` lines and progress bars on stderr unless ``--quiet`` is given; in a notebook
the ``cogvision`` logger follows the user's own logging configuration.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from tqdm.auto import tqdm

_state = {"quiet": False}


def get_logger(name: str) -> logging.Logger:
    """The logger for module ``name`` (a child of the ``cogvision`` logger).

    Parameters
    ----------
    name : str
        Usually ``__name__``; names outside the package are put under ``cogvision.``.

    Examples
    --------
    >>> get_logger("cogvision.brain.rsa").name
    'cogvision.brain.rsa'
    >>> get_logger("experiments.v4").name
    'cogvision.experiments.v4'
    """
    return logging.getLogger(name if name == "cogvision" or name.startswith("cogvision.") else f"cogvision.{name}")


def set_quiet(quiet: bool) -> None:
    """Hide (``True``) or show progress bars and ``info`` lines for the rest of the process."""
    _state["quiet"] = bool(quiet)


def is_quiet() -> bool:
    """Whether :func:`set_quiet` turned progress bars and ``info`` lines off."""
    return _state["quiet"]


def progress(iterable: Iterable[Any] | None = None, *, desc: str, total: int | None = None,
             disable: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm progress bar on stderr, hidden under ``--quiet``.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; leave it out and call ``update`` on the bar yourself.
    desc : str
        What the bar counts, e.g. ``"folds"``.
    total : int, optional
        Number of steps when ``iterable`` has no length.
    disable : bool, optional
        Force the bar off (``True``) or on (``False``); by default it follows :func:`set_quiet`.
    **kwargs
        Passed to :class:`tqdm.tqdm`.

    Examples
    --------
    >>> sum(progress(range(3), desc="steps", disable=True))
    3
    """
    kwargs.setdefault("leave", False)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, disable=is_quiet() if disable is None else disable, **kwargs)


def markdown_rows(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: the header, the separator line and one line per row, each cell as ``str(cell)``.

    Examples
    --------
    >>> print(markdown_rows(["method", "auc"], [["centre", 0.5]]), end="")
    | method | auc |
    |---|---|
    | centre | 0.5 |
    """
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
