"""Compression matching: blur controls with the same mean SSIM to the reference as the texture system.

Deza & Konkle matched their blur systems to Foveation-Texture "in perceptual compression", measured
by SSIM against the Reference images. :func:`match_compression` finds the uniform blur width and the
foveated blur slope whose mean SSIM to the reference (over a set of images) equals the texture
system's, by Brent root finding (``scipy.optimize.brentq``) on the monotone SSIM-vs-width curve.

>>> import torch
>>> from cogvision.foveation.matching import ssim
>>> x = torch.rand(2, 3, 32, 32)
>>> ssim(x, x).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from scipy.optimize import brentq
from torch import nn

from cogvision.foveation.geometry import DEFAULT_FOV_DEG
from cogvision.foveation.systems import BLUR_PARAMETERS, SystemParameters, make_system
from cogvision.foveation.texture import FoveatedTexture, Reference


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004; Gaussian window 11, sigma 1.5, data range 1) per image.

    Parameters
    ----------
    a, b
        (B, C, H, W) in [0, 1]; channels are averaged, as ``IQA_pytorch.SSIM(channels=3)``.

    Returns
    -------
    torch.Tensor
        (B,) SSIM values.
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two (B, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    c1, c2 = 0.01**2, 0.03**2
    coords = torch.arange(window, dtype=a.dtype, device=a.device) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    channels = a.shape[1]
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, window, window)
    blur = lambda x: F.conv2d(x, kernel, groups=channels)  # noqa: E731  (valid region, as the reference)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@dataclass
class MatchResult:
    """What :func:`match_compression` returns.

    Attributes
    ----------
    uniform_sigma_deg : float
        Width of the matched uniform blur (Gaussian sigma, degrees).
    foveated_slope : float
        Slope of the matched foveated blur (sigma in degrees per degree of eccentricity).
    target_ssim : float
        Mean SSIM of the texture system to the reference.
    table : pandas.DataFrame
        Columns ``image, system, ssim``: SSIM to the reference of every image under every system.
    """

    uniform_sigma_deg: float
    foveated_slope: float
    target_ssim: float
    table: pd.DataFrame


def _mean_ssim(system: nn.Module, images: torch.Tensor, reference: torch.Tensor) -> float:
    with torch.no_grad():
        return float(ssim(system(images), reference).mean())


def _search(make: Callable[[float], nn.Module], images: torch.Tensor, reference: torch.Tensor, target: float,
            upper: float) -> tuple[float, bool]:
    """``(p, feasible)``: p >= 0 with mean SSIM(make(p)(images), reference) == target (SSIM falls as p grows),
    or, when no p up to ``64 * upper`` gets that low, the largest p tried (the closest the system comes)."""
    f = lambda p: _mean_ssim(make(p), images, reference) - target  # noqa: E731
    if f(0.0) <= 0:
        return 0.0, True
    high = upper
    while f(high) > 0:
        if high >= 64 * upper:
            return high, False
        high *= 2
    return float(brentq(f, 0.0, high, xtol=1e-4 * upper, rtol=1e-6)), True


def _solve(make: Callable[[float], nn.Module], images: torch.Tensor, reference: torch.Tensor, target: float,
           upper: float, name: str) -> float:
    """Like :func:`_search`, but an unreachable target is a ``ValueError`` naming the system."""
    value, feasible = _search(make, images, reference, target, upper)
    if not feasible:
        floor = _mean_ssim(make(value), images, reference)
        raise ValueError(f"the {name} system cannot reach the texture system's mean SSIM {target:.3f}: even at "
                         f"{value:g} its SSIM is {floor:.3f} (blur keeps flat regions intact); use a smaller "
                         "texture scaling or other images")
    return value


BLUR_SYSTEMS = tuple(BLUR_PARAMETERS)  # the blur controls of :data:`cogvision.foveation.systems.ALL_SYSTEMS`


def match_system(kind: str, images: torch.Tensor, texture: FoveatedTexture | None = None,
                 reference: nn.Module | None = None, *, fov_deg: float = DEFAULT_FOV_DEG) -> dict:
    """Match one blur control to the texture system's mean SSIM to the reference, reporting (not raising)
    when it cannot reach it.

    Parameters
    ----------
    kind
        ``"uniform"`` (parameter: Gaussian sigma in degrees) or ``"foveated_blur"`` (parameter: sigma in
        degrees per degree of eccentricity).
    images
        (B, 3, H, W) in [0, 1], the matching set.
    texture, reference, fov_deg
        As in :func:`match_compression`.

    Returns
    -------
    dict
        ``system``, ``measure`` (``"ssim"``), ``target`` (the texture system's mean SSIM), ``achieved``
        (the blur's mean SSIM at ``parameter``), ``parameter``, ``feasible`` (False when even the largest
        blur tried, 64x the search's first bracket, stays above the target: ``parameter`` is then that
        largest blur, the closest the system comes), ``scaling``.
    """
    if kind not in BLUR_SYSTEMS:
        raise ValueError(f"kind must be one of {BLUR_SYSTEMS}, got {kind!r}")
    texture = texture if texture is not None else FoveatedTexture(0.4, fov_deg=fov_deg)
    reference = reference if reference is not None else Reference()
    with torch.no_grad():
        ref = reference(images)
        target = float(ssim(texture(images), ref).mean())
    if not math.isfinite(target):
        raise ValueError("the texture system's SSIM to the reference is not finite; check the images")
    make = _factory(kind, texture)
    value, feasible = _search(make, images, ref, target, upper=1.0 if kind == "uniform" else 0.2)
    return {"system": kind, "measure": "ssim", "target": target, "achieved": _mean_ssim(make(value), images, ref),
            "parameter": value, "feasible": feasible, "scaling": texture.scaling}


def _factory(kind: str, texture: FoveatedTexture) -> Callable[[float], nn.Module]:
    """Blur control ``kind`` at a given value of its matched parameter, with the texture system's geometry."""
    geometry = SystemParameters(fixation=texture.fixation, fov_deg=texture.fov_deg, fovea_deg=texture.fovea_deg)
    return lambda value: make_system(kind, geometry, **{BLUR_PARAMETERS[kind]: value})


def match_compression(images: torch.Tensor, texture: FoveatedTexture | None = None,
                      reference: nn.Module | None = None, *, fov_deg: float = DEFAULT_FOV_DEG,
                      names: list[str] | None = None) -> MatchResult:
    """Fit the uniform and foveated blur controls to the texture system's mean SSIM to the reference.

    Parameters
    ----------
    images
        (B, 3, H, W) in [0, 1], the matching set.
    texture
        The texture system (default ``FoveatedTexture(0.4)``); its fixation, field of view and fovea
        are reused by the foveated blur.
    reference
        The reference system (default identity).
    fov_deg
        Field of view of the blur systems when no texture system is given.
    names
        Image names for the table (default ``"0", "1", ...``).

    Returns
    -------
    MatchResult

    Raises
    ------
    ValueError
        When no blur width reaches the target (heavy blur still keeps flat regions, so SSIM levels off
        around 0.4-0.5 on photographs; the texture system at s = 0.4 can fall below that).
    """
    texture = texture if texture is not None else FoveatedTexture(0.4, fov_deg=fov_deg)
    reference = reference if reference is not None else Reference()
    names = names if names is not None else [str(i) for i in range(len(images))]
    if len(names) != len(images):
        raise ValueError(f"names has {len(names)} entries for {len(images)} images")
    with torch.no_grad():
        ref = reference(images)
        target = float(ssim(texture(images), ref).mean())
    if not math.isfinite(target):
        raise ValueError("the texture system's SSIM to the reference is not finite; check the images")
    uniform = _solve(_factory("uniform", texture), images, ref, target, upper=1.0, name="uniform blur")
    foveated = _solve(_factory("foveated_blur", texture), images, ref, target, upper=0.2, name="foveated blur")
    systems = {"reference": reference, "texture": texture, "uniform": _factory("uniform", texture)(uniform),
               "foveated_blur": _factory("foveated_blur", texture)(foveated)}
    rows = []
    with torch.no_grad():
        for system_name, system in systems.items():
            values = ssim(system(images), ref)
            rows += [{"image": n, "system": system_name, "ssim": float(v)} for n, v in zip(names, values)]
    table = pd.DataFrame(rows)
    return MatchResult(uniform_sigma_deg=uniform, foveated_slope=foveated, target_ssim=target, table=table)
