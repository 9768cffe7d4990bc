"""Named network constructors that ship with cogvision (timm's registry idea).

A constructor registered with :func:`register_model` can be loaded without ``allow_code``: as
``builtin:NAME``, or by its full ``package.module:NAME`` path when its module is part of cogvision
(e.g. ``cogvision.gaze.backbones:gaze_vit``). The constructors of :mod:`cogvision.models.builtin` are
registered when :mod:`cogvision.models` is imported; other cogvision modules register theirs when
they are imported.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TypeVar

from torch import nn

Constructor = Callable[..., nn.Module]
F = TypeVar("F", bound=Constructor)

BUILTIN_MODELS: dict[str, Constructor] = {}


def register_model(constructor: F) -> F:
    """Register ``constructor`` (a function returning an ``nn.Module``) under its function name.

    Raises
    ------
    ValueError
        If another constructor is registered under that name already.

    Examples
    --------
    >>> from cogvision.models import BUILTIN_MODELS
    >>> BUILTIN_MODELS["tiny_cnn"].__module__
    'cogvision.models.builtin'
    """
    name = constructor.__name__
    known = BUILTIN_MODELS.get(name)
    if known is not None and known is not constructor:
        raise ValueError(f"a model constructor named {name!r} is registered already "
                         f"({known.__module__}.{known.__qualname__})")
    BUILTIN_MODELS[name] = constructor
    return constructor


def builtin_constructor(name: str) -> Constructor:
    """The registered constructor called ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the registered ones (closest first).
    """
    if name not in BUILTIN_MODELS:
        close = difflib.get_close_matches(name, BUILTIN_MODELS, n=3, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"no builtin model {name!r}{hint} builtin models: {', '.join(sorted(BUILTIN_MODELS))}")
    return BUILTIN_MODELS[name]


def is_registered(constructor: object) -> bool:
    """Whether ``constructor`` is one of the registered constructors (compared by identity)."""
    return any(constructor is known for known in BUILTIN_MODELS.values())
