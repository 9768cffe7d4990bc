"""Shared parameter documentation, written once (the idea of nilearn's ``fill_doc``).

A docstring holds ``%(device)s`` on a line of its own where the parameter's entry belongs; :func:`fill_doc`
replaces it with the entry from :data:`docdict`, indented like the placeholder.
"""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")

docdict: dict[str, str] = {
    "device": """device : str or torch.device, default "auto"
    Where to compute: ``"auto"`` picks CUDA, then MPS, then the CPU; or ``"cpu"``, ``"cuda"``,
    ``"cuda:1"``, ``"mps"``. A device that is not available is an error, not a silent fallback.""",
    "seed": """seed : int, default 0
    Seed of every random number generator used (Python, NumPy, torch). The same seed gives the same result
    on the same device with one CPU thread; with several threads, some torch training kernels accumulate in
    a varying order (measured for OAT on Amazon), so call ``torch.use_deterministic_algorithms(True)`` first
    when bit-reproducible training matters.""",
    "progress": """progress : bool, default True
    Show a progress bar on stderr (hidden anyway under ``cogvision --quiet``).""",
    "out": """out : str or os.PathLike
    Output folder. It is written in a hidden folder beside it and moved into place only when complete;
    an existing non-empty folder is replaced only with ``overwrite=True``, and then only after the new
    results are complete.""",
    "overwrite": """overwrite : bool, default False
    Replace an existing non-empty output folder (the old one is removed only once the new one is complete).""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<key>\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(obj: T) -> T:
    """Replace every ``%(name)s`` line in ``obj.__doc__`` by ``docdict[name]``, indented to match.

    Raises
    ------
    KeyError
        If the docstring names a parameter that :data:`docdict` does not describe.

    Examples
    --------
    >>> @fill_doc
    ... def f(seed=0):
    ...     '''Do it.
    ...
    ...     Parameters
    ...     ----------
    ...     %(seed)s
    ...     '''
    >>> print(f.__doc__.splitlines()[4].strip())
    seed : int, default 0
    """
    doc = obj.__doc__
    if not doc:
        return obj

    def entry(match: re.Match[str]) -> str:
        key, indent = match["key"], match["indent"]
        if key not in docdict:
            raise KeyError(f"{getattr(obj, '__qualname__', obj)}: no shared doc for %({key})s; "
                           f"known: {', '.join(sorted(docdict))}")
        return "\n".join(indent + line if line else line for line in docdict[key].splitlines())

    obj.__doc__ = _PLACEHOLDER.sub(entry, doc)
    return obj
