"""Every dataset by name: :func:`load` dispatches to the dataset's own loader (himalaya's solver-dict shape).

>>> import data_loaders
>>> "osie" in data_loaders.available()
True
>>> scanpaths = data_loaders.load("synthetic_scanpaths", n_scenes=3, n_subjects=2, seed=1)
>>> len(scanpaths.scenes)
3
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from data_loaders.algonauts import load_algonauts_subject
from data_loaders.amazon_covers import load_amazon_covers
from data_loaders.coco_search18 import load_coco_search18
from data_loaders.cowley_v4 import load_v4_session
from data_loaders.gazefollow import read_gazefollow_txt
from data_loaders.haxby import load_haxby
from data_loaders.images import builtin_images
from data_loaders.interiors import load_interiors
from data_loaders.kriegeskorte92 import load_92images
from data_loaders.osie import load_osie
from data_loaders.synthetic_brain import make_synthetic_brain
from data_loaders.synthetic_gaze import make_gaze_scenes
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths
from data_loaders.videoattentiontarget import read_vat_annotations

DATASETS: dict[str, Callable[..., Any]] = {
    "algonauts": load_algonauts_subject,
    "amazon_covers": load_amazon_covers,
    "builtin_images": builtin_images,
    "coco_search18": load_coco_search18,
    "cowley_v4": load_v4_session,
    "gazefollow": read_gazefollow_txt,
    "haxby": load_haxby,
    "interiors": load_interiors,
    "kriegeskorte92": load_92images,
    "osie": load_osie,
    "synthetic_brain": make_synthetic_brain,
    "synthetic_gaze": make_gaze_scenes,
    "synthetic_scanpaths": make_synthetic_scanpaths,
    "videoattentiontarget": read_vat_annotations,
}


def available() -> list[str]:
    """Names of every dataset :func:`load` knows, sorted."""
    return sorted(DATASETS)


def describe(name: str) -> str:
    """One line on dataset ``name``: its loader and the first line of the loader's docstring."""
    loader = _loader(name)
    summary = (inspect.getdoc(loader) or "").splitlines()
    return f"{loader.__module__}.{loader.__name__}" + (f": {summary[0]}" if summary else "")


def _loader(name: str) -> Callable[..., Any]:
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), DATASETS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown dataset {name!r}{hint}; choices: {', '.join(available())}")
    return DATASETS[name]


def load(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Load dataset ``name`` with its own loader (``DATASETS[name]``), passing ``args`` and ``kwargs`` on.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    *args, **kwargs
        The loader's own arguments (e.g. ``load("cowley_v4", 3, images=False)``); see :func:`describe`.

    Returns
    -------
    object
        What the loader returns: a :class:`~cogvision.scanpath.ScanpathSet`, an ``xarray.Dataset``, a
        ``pandas.DataFrame``, ...

    Raises
    ------
    ValueError
        For an unknown name (listing the choices), or arguments the loader does not take (listing the ones
        it does), before anything is read.
    """
    loader = _loader(name)
    signature = inspect.signature(loader)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        raise ValueError(f"dataset {name!r} ({loader.__module__}.{loader.__name__}) cannot take these arguments "
                         f"({err}); its parameters: {', '.join(signature.parameters)}") from None
    return loader(*args, **kwargs)
