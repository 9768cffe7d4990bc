"""The settings of a DiSRT run as one typed configuration, validated once, with its choices as enums.

:class:`DisrtProtocol` is a :class:`cogvision.config.Config` (pydantic): unknown keys, values of the wrong type
and choices outside the registries are one ``ValueError`` naming the key and the allowed values, whether the
settings come from Python, from ``cogvision disrt`` flags or from a ``--config`` file
(:func:`cogvision.config.read_config`, :func:`cogvision.config.validate_config`; built directly in Python,
the error is pydantic's ``ValidationError``, also a ``ValueError``). The choice enums are built from the registries
(:data:`~cogvision.gestalt.distortions.DISTORTIONS`, :data:`~cogvision.gestalt.nuisance.NUISANCES`,
:data:`~cogvision.gestalt.readout.POOLINGS`, ...), so a new entry there is a new choice everywhere.

>>> DisrtProtocol(grids=(2, 4)).grids
(2, 4)
>>> from cogvision.config import validate_config
>>> validate_config(DisrtProtocol, {"pooling": "max"}, "disrt.yaml")
Traceback (most recent call last):
...
ValueError: disrt.yaml: pooling: expected 'cls', 'mean' or 'flat', got 'max'
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import pydantic

from cogvision.config import Config
from cogvision.gestalt.distortions import DISTORTIONS
from cogvision.gestalt.nuisance import NUISANCES
from cogvision.gestalt.readout import POOLINGS, SIMILARITIES
from cogvision.models import TOKEN_MODES


def _choices(name: str, values) -> type[Enum]:
    return Enum(name, {value: value for value in values}, type=str)


#: Distortions (keys of :data:`~cogvision.gestalt.distortions.DISTORTIONS`).
Distortion = _choices("Distortion", DISTORTIONS)
#: Readout pooling (:data:`~cogvision.gestalt.readout.POOLINGS`).
Pooling = _choices("Pooling", POOLINGS)
#: Similarity of two pooled representations (:data:`~cogvision.gestalt.readout.SIMILARITIES`).
Similarity = _choices("Similarity", SIMILARITIES)
#: Nuisance families (keys of :data:`~cogvision.gestalt.nuisance.NUISANCES`).
Nuisance = _choices("Nuisance", NUISANCES)
#: Top-K axis on token sequences (:data:`cogvision.models.sparsity.TOKEN_MODES`).
TokenMode = _choices("TokenMode", TOKEN_MODES)


class DisrtProtocol(Config):
    """Settings of one DiSRT run (validated on creation; immutable).

    Attributes
    ----------
    distortions : tuple of str
        Keys of :data:`cogvision.gestalt.distortions.DISTORTIONS`, no repeats.
    grids : tuple of int
        Strengths: patches per side, each >= 2, no repeats.
    pooling : str
        ``cls``, ``mean`` or ``flat`` (see :mod:`cogvision.gestalt.readout`).
    similarity : str
        ``cosine``, ``correlation`` or ``euclidean``.
    nuisance : str
        ``local`` (default: small shift, colour change and band-limited noise, layout kept), ``shift`` or
        ``color`` (:mod:`cogvision.gestalt.nuisance`).
    match : bool
        Match the nuisance's pixel MSE to the distortion's per image (default); else a fixed small nuisance.
    nuisance_magnitude : float or None
        Fixed magnitude when ``match`` is False (pixels for shift, jitter size for colour).
    token_mode : str
        Top-K axis on token sequences: ``token`` or ``channel``.
    seed : int
        Seed of distortions, nuisances and the bootstrap.
    trials : int
        Trials per image and cell (>= 1), each with its own distortion and nuisance seed.
    n_boot : int
        Bootstrap resamples for the intervals (>= 1).
    human : float or None
        Human reference accuracy in [0, 1] drawn in figures (not verified for the paper; None = no line).
    """

    model_config = pydantic.ConfigDict(frozen=True, use_enum_values=True)

    distortions: tuple[Distortion, ...] = ("shuffle", "rotate")
    grids: tuple[int, ...] = (2, 4, 8)
    pooling: Pooling = "mean"
    similarity: Similarity = "cosine"
    nuisance: Nuisance = "local"
    match: bool = True
    nuisance_magnitude: Optional[float] = None
    token_mode: TokenMode = "token"
    seed: int = 0
    trials: int = pydantic.Field(3, ge=1)
    n_boot: int = pydantic.Field(1000, ge=1)
    human: Optional[float] = pydantic.Field(None, ge=0, le=1)

    @pydantic.field_validator("distortions")
    @classmethod
    def _distinct_distortions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"distortions must be a non-empty list without repeats of {sorted(DISTORTIONS)}")
        return value

    @pydantic.field_validator("grids")
    @classmethod
    def _grid_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or min(value) < 2 or len(set(value)) != len(value):
            raise ValueError("grids must be a non-empty list of distinct integers >= 2")
        return value

    def to_json(self) -> str:
        """The settings as a JSON string (stored in the results' attrs)."""
        return json.dumps(self.model_dump())
