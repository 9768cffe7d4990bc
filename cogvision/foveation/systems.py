"""The foveation systems by name: one registry, one set of names, used by the library, the jobs and the CLI.

:data:`ALL_SYSTEMS` maps each canonical name to a constructor taking one :class:`SystemParameters`
(himalaya's ``ALL_SOLVERS`` shape: the caller validates the name once and dispatches). The names are those of
Deza & Konkle (2020)'s four systems as the Emergent-Properties suite reports them:

| name | system |
|---|---|
| ``reference`` | the image itself (:class:`~cogvision.foveation.texture.Reference`) |
| ``texture`` | foveated texture (:class:`~cogvision.foveation.texture.FoveatedTexture`) |
| ``uniform`` | uniform Gaussian blur (:class:`~cogvision.foveation.blur.UniformBlur`) |
| ``foveated_blur`` | blur growing with eccentricity (:class:`~cogvision.foveation.blur.FoveatedBlur`) |

:data:`ALIASES` keeps older spellings working: ``blur`` (the name ``cogvision foveate --system`` used) means
``foveated_blur``.

>>> system_name("blur")
'foveated_blur'
>>> make_system("uniform", uniform_sigma_deg=0.5)
UniformBlur(sigma_deg=0.5, fov_deg=26.0)
>>> make_system("warp")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown foveation system 'warp'; expected one of reference, texture, uniform, foveated_blur (alias: ...)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from torch import nn

from cogvision.foveation.blur import FoveatedBlur, UniformBlur
from cogvision.foveation.geometry import DEFAULT_FOV_DEG
from cogvision.foveation.texture import FoveatedTexture, Reference


@dataclass(frozen=True)
class SystemParameters:
    """Every parameter a foveation system may use; each constructor reads the ones it needs.

    Attributes
    ----------
    scaling : float
        Pooling-window size / eccentricity of the texture system.
    uniform_sigma_deg : float
        Gaussian sigma (degrees) of the uniform blur.
    foveated_slope : float
        Sigma (degrees) per degree of eccentricity of the foveated blur.
    fixation : tuple of float or None
        (x, y) in pixels (default: the image centre).
    fov_deg : float
        Degrees spanned by the image width.
    fovea_deg : float
        Radius of the unblurred fovea of the foveated blur (degrees).
    seed : int or None
        Noise seed of the texture system.
    """

    scaling: float = 0.4
    uniform_sigma_deg: float = 0.3
    foveated_slope: float = 0.1
    fixation: tuple[float, float] | None = None
    fov_deg: float = DEFAULT_FOV_DEG
    fovea_deg: float = 1.0
    seed: int | None = 0


def _reference(p: SystemParameters) -> nn.Module:
    return Reference()


def _texture(p: SystemParameters) -> nn.Module:
    return FoveatedTexture(p.scaling, fixation=p.fixation, fov_deg=p.fov_deg, fovea_deg=p.fovea_deg, seed=p.seed)


def _uniform(p: SystemParameters) -> nn.Module:
    return UniformBlur(p.uniform_sigma_deg, fov_deg=p.fov_deg)


def _foveated_blur(p: SystemParameters) -> nn.Module:
    return FoveatedBlur(p.foveated_slope, fixation=p.fixation, fov_deg=p.fov_deg, fovea_deg=p.fovea_deg)


#: Canonical name -> constructor from :class:`SystemParameters`.
ALL_SYSTEMS: dict[str, Callable[[SystemParameters], nn.Module]] = {
    "reference": _reference, "texture": _texture, "uniform": _uniform, "foveated_blur": _foveated_blur,
}
#: Older names still accepted -> canonical name.
ALIASES: dict[str, str] = {"blur": "foveated_blur"}
#: The blur controls and the parameter each is matched on (:mod:`cogvision.foveation.matching`).
BLUR_PARAMETERS: dict[str, str] = {"uniform": "uniform_sigma_deg", "foveated_blur": "foveated_slope"}


def choices_text() -> str:
    """The accepted names, for messages and ``--help``."""
    aliases = ", ".join(f"{alias} = {name}" for alias, name in ALIASES.items())
    return f"{', '.join(ALL_SYSTEMS)} (alias: {aliases})"


def system_name(name: str) -> str:
    """The canonical name of ``name`` (an alias is resolved); an unknown name is a ``ValueError`` listing the
    choices."""
    canonical = ALIASES.get(name, name)
    if canonical not in ALL_SYSTEMS:
        raise ValueError(f"unknown foveation system {name!r}; expected one of {choices_text()}")
    return canonical


def make_system(name: str, parameters: SystemParameters | None = None, **overrides) -> nn.Module:
    """Build system ``name`` (canonical or alias) as an ``nn.Module`` on (B, 3, H, W) images in [0, 1].

    Parameters
    ----------
    name
        A key of :data:`ALL_SYSTEMS` or :data:`ALIASES`.
    parameters
        The parameters (default :class:`SystemParameters`).
    **overrides
        Fields of :class:`SystemParameters` to change, e.g. ``scaling=0.25``.
    """
    parameters = replace(parameters or SystemParameters(), **overrides)
    return ALL_SYSTEMS[system_name(name)](parameters)
