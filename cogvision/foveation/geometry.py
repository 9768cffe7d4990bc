"""Visual-field geometry: degrees per pixel, eccentricity and polar angle, and pooling windows.

Pooling windows tile the visual field in log-polar coordinates, as in Freeman & Simoncelli (2011) and
NeuroFovea (Deza et al. 2019): their radial and angular extent (full width at half maximum) grows
linearly with eccentricity, ``extent = scaling * eccentricity``. In log eccentricity ``u = log(e)`` the
rings are raised-cosine (``cos**2``) profiles spaced by their half-maximum width
``w = 2 asinh(scaling / 2)``; in polar angle there are ``round(2 pi / scaling)`` ``cos**2`` sectors per
ring. ``cos**2`` profiles at that spacing sum to one, so the windows tile the field. Window 0 is the fovea:
weight one inside ``fovea_deg`` and falling off over the first ring's width; every other window is one
(ring, sector) product. All windows together sum to one at every pixel, and the peripheral windows
(1, 2, ...) alone sum to one outside the fovea's fall-off.

>>> from cogvision.foveation.geometry import pooling_windows
>>> win = pooling_windows(128, 128, scaling=0.4)
>>> win.weights.shape[1:], bool((win.weights.sum(0) - 1).abs().max() < 1e-5)
(torch.Size([128, 128]), True)
>>> float(win.alpha[0])  # the fovea is left intact
0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

# NeuroFovea's alpha slope: d = 0.56 ln 10 = 1.281, alpha = tanh(d r / 2), r = window radius in degrees.
ALPHA_SLOPE = 1.281
DEFAULT_FOV_DEG = 26.0


def pixels_per_degree(width: int, fov_deg: float = DEFAULT_FOV_DEG) -> float:
    """Pixels per degree when ``width`` pixels span ``fov_deg`` degrees of visual angle."""
    if width <= 0:
        raise ValueError(f"image width must be positive, got {width}")
    if fov_deg <= 0:
        raise ValueError(f"fov_deg must be positive, got {fov_deg}")
    return width / fov_deg


def parse_fixation(fixation: tuple[float, float] | None, height: int, width: int) -> tuple[float, float]:
    """(x, y) fixation in pixels (``None`` = image centre), validated to lie inside the image."""
    if fixation is None:
        return ((width - 1) / 2.0, (height - 1) / 2.0)
    if len(fixation) != 2:
        raise ValueError(f"fixation must be an (x, y) pair in pixels, got {fixation!r}")
    x, y = float(fixation[0]), float(fixation[1])
    if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise ValueError(f"fixation (x={x}, y={y}) lies outside the {width}x{height} image "
                         f"(x must be in [0, {width - 1}], y in [0, {height - 1}])")
    return x, y


def eccentricity_map(height: int, width: int, fixation: tuple[float, float] | None = None,
                     fov_deg: float = DEFAULT_FOV_DEG) -> tuple[torch.Tensor, torch.Tensor]:
    """Eccentricity (degrees) and polar angle (radians, counter-clockwise from the right) at every pixel.

    Parameters
    ----------
    height, width
        Image size in pixels.
    fixation
        (x, y) in pixels; default the centre.
    fov_deg
        Degrees of visual angle spanned by the image width.

    Returns
    -------
    eccentricity, angle : torch.Tensor
        Two (height, width) float32 maps.
    """
    fx, fy = parse_fixation(fixation, height, width)
    ppd = pixels_per_degree(width, fov_deg)
    ys = (torch.arange(height, dtype=torch.float64) - fy)[:, None]
    xs = (torch.arange(width, dtype=torch.float64) - fx)[None, :]
    ecc = torch.sqrt(xs**2 + ys**2) / ppd
    angle = torch.atan2(-ys, xs).expand(height, width)
    return ecc.float(), angle.float().contiguous()


@dataclass(frozen=True)
class PoolingWindows:
    """Pooling windows for one (size, fixation, scaling, field of view).

    Attributes
    ----------
    weights : torch.Tensor
        (n_windows, H, W) non-negative, summing to one at every pixel; window 0 is the fovea.
    ring : torch.Tensor
        (n_windows,) ring index (-1 for the fovea).
    centre_deg : torch.Tensor
        (n_windows,) eccentricity of each window's centre in degrees (0 for the fovea).
    radius_deg : torch.Tensor
        (n_windows,) radius of a disc with the area of the window's half-maximum region, in degrees
        (analytic, so independent of the image border; 0 for the fovea).
    alpha : torch.Tensor
        (n_windows,) NeuroFovea blend weight ``tanh(1.281 * radius_deg / 2)``; 0 for the fovea.
    scaling, fov_deg, fovea_deg : float
    fixation : tuple of float
        (x, y) in pixels.
    """

    weights: torch.Tensor
    ring: torch.Tensor
    centre_deg: torch.Tensor
    radius_deg: torch.Tensor
    alpha: torch.Tensor
    scaling: float
    fov_deg: float
    fovea_deg: float
    fixation: tuple[float, float]

    @property
    def n_windows(self) -> int:
        """Number of windows, fovea included."""
        return int(self.weights.shape[0])

    @property
    def fovea(self) -> torch.Tensor:
        """(H, W) weight of the foveal window (1 inside ``fovea_deg``)."""
        return self.weights[0]


def _cos2(distance: torch.Tensor, spacing: float) -> torch.Tensor:
    """``cos**2`` profile of half-maximum width ``spacing`` (support ``|d| < spacing``)."""
    d = (distance / spacing).clamp(-1.0, 1.0)
    return torch.cos(d * (math.pi / 2)) ** 2


def pooling_windows(height: int, width: int, scaling: float = 0.4, *,
                    fixation: tuple[float, float] | None = None, fov_deg: float = DEFAULT_FOV_DEG,
                    fovea_deg: float = 1.0) -> PoolingWindows:
    """Log-polar pooling windows whose size grows linearly with eccentricity (cached per arguments).

    Parameters
    ----------
    height, width
        Image size in pixels.
    scaling
        Window extent (radial and angular half-maximum width) divided by eccentricity; 0.4 in
        Emergent Properties, about 0.25 for V1 and 0.5 for V2 metamers.
    fixation
        (x, y) in pixels; default the centre.
    fov_deg
        Degrees spanned by the image width (26 as NeuroFovea).
    fovea_deg
        Radius of the intact fovea in degrees.

    Returns
    -------
    PoolingWindows
    """
    if not isinstance(scaling, (int, float)) or not math.isfinite(scaling) or scaling <= 0:
        raise ValueError(f"scaling must be a positive number (0.4 in the paper), got {scaling!r}")
    if scaling > 2:
        raise ValueError(f"scaling must be at most 2 (windows wider than their eccentricity), got {scaling}")
    if fovea_deg <= 0:
        raise ValueError(f"fovea_deg must be positive, got {fovea_deg}")
    fix = parse_fixation(fixation, height, width)
    return _pooling_windows(int(height), int(width), float(scaling), fix, float(fov_deg), float(fovea_deg))


def fovea_weight(eccentricity: torch.Tensor, scaling: float, fovea_deg: float) -> torch.Tensor:
    """Weight of the foveal window at each eccentricity (degrees): 1 inside ``fovea_deg``, then ``cos**2``."""
    u = torch.log(eccentricity.clamp_min(1e-6)) - math.log(fovea_deg)
    return torch.where(u <= 0, torch.ones_like(u), _cos2(u, 2.0 * math.asinh(scaling / 2.0)))


@lru_cache(maxsize=16)
def _pooling_windows(height: int, width: int, scaling: float, fixation: tuple[float, float], fov_deg: float,
                     fovea_deg: float) -> PoolingWindows:
    ecc, angle = eccentricity_map(height, width, fixation, fov_deg)
    spacing = 2.0 * math.asinh(scaling / 2.0)           # ring spacing in log eccentricity
    n_sectors = max(1, round(2 * math.pi / scaling))
    sector = 2 * math.pi / n_sectors
    u = torch.log(ecc.clamp_min(1e-6)) - math.log(fovea_deg)  # 0 at the fovea's edge
    max_ring = int(math.ceil(float(u.max()) / spacing)) + 1
    fovea = fovea_weight(ecc, scaling, fovea_deg)
    weights, rings, centres, radii = [fovea], [-1], [0.0], [0.0]
    for ring in range(1, max_ring + 1):
        radial = _cos2(u - ring * spacing, spacing)
        if float(radial.max()) <= 0:
            continue
        centre = fovea_deg * math.exp(ring * spacing)
        # half-maximum region: e in centre * exp(+-spacing/2), angle within +-sector/2
        area = sector * centre**2 * math.sinh(spacing)
        radius = math.sqrt(area / math.pi)
        for s in range(n_sectors):
            offset = torch.remainder(angle - s * sector + math.pi, 2 * math.pi) - math.pi
            w = radial * _cos2(offset, sector) if n_sectors > 1 else radial
            if float(w.max()) <= 1e-6:
                continue
            weights.append(w)
            rings.append(ring)
            centres.append(centre)
            radii.append(radius)
    stacked = torch.stack(weights)
    stacked = stacked / stacked.sum(0, keepdim=True)  # exact partition of unity in float32
    radius_t = torch.tensor(radii, dtype=torch.float32)
    alpha = torch.tanh(ALPHA_SLOPE * radius_t / 2)
    alpha[0] = 0.0
    return PoolingWindows(weights=stacked, ring=torch.tensor(rings), centre_deg=torch.tensor(centres),
                          radius_deg=radius_t, alpha=alpha, scaling=scaling, fov_deg=fov_deg,
                          fovea_deg=fovea_deg, fixation=fixation)


def window_counts(size: int = 512, scalings: tuple[float, ...] = (0.25, 0.4, 0.5), **kwargs) -> dict[float, int]:
    """Number of windows (fovea included) touching a ``size`` x ``size`` image for each scaling."""
    return {s: pooling_windows(size, size, s, **kwargs).n_windows for s in scalings}
