"""Blur front-ends: ``UniformBlur`` and ``FoveatedBlur`` (blur width growing with eccentricity).

Gaussian blur is applied in the Fourier domain (exact Gaussian transfer function) on a mirror-padded
image, so it is differentiable, batched and as fast on a GPU as on a CPU. ``FoveatedBlur`` renders a
small stack of uniformly blurred images with geometrically spaced widths and, at each pixel, linearly
interpolates the two whose widths bracket ``sigma(e) = slope * max(e - fovea_deg, 0)`` (degrees of
visual angle), in the spirit of Perry & Geisler (2002)'s blur pyramid.

>>> import torch
>>> from cogvision.foveation import FoveatedBlur, UniformBlur
>>> x = torch.rand(1, 3, 64, 64)
>>> UniformBlur(0.5)(x).shape, FoveatedBlur(0.05)(x).shape
(torch.Size([1, 3, 64, 64]), torch.Size([1, 3, 64, 64]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cogvision.foveation.geometry import DEFAULT_FOV_DEG, eccentricity_map, pixels_per_degree
from cogvision.foveation.texture import FoveatedSystem
from cogvision.texture import check_images


def gaussian_blur(images: torch.Tensor, sigmas_px: list[float] | torch.Tensor) -> torch.Tensor:
    """Blur (B, C, H, W) with each Gaussian width (pixels); returns (n_sigmas, B, C, H, W).

    Mirror padding of a quarter of the image on each side (at least 3 sigma where possible) keeps the
    circular FFT from wrapping opposite borders into each other.
    """
    sigmas = torch.as_tensor(sigmas_px, dtype=torch.float32, device=images.device).reshape(-1)
    height, width = images.shape[-2:]
    pad_h = min(height - 1, max(height // 4, int(math.ceil(3 * float(sigmas.max())))))
    pad_w = min(width - 1, max(width // 4, int(math.ceil(3 * float(sigmas.max())))))
    padded = F.pad(images, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
    ph, pw = padded.shape[-2:]
    fy = torch.fft.fftfreq(ph, device=images.device)[:, None]
    fx = torch.fft.rfftfreq(pw, device=images.device)[None, :]
    freq2 = fy**2 + fx**2
    transfer = torch.exp(-2 * math.pi**2 * sigmas[:, None, None] ** 2 * freq2)  # (S, ph, pw//2+1)
    spectrum = torch.fft.rfft2(padded)
    blurred = torch.fft.irfft2(spectrum[None] * transfer[:, None, None], s=(ph, pw))
    return blurred[..., pad_h:pad_h + height, pad_w:pad_w + width]


class UniformBlur(nn.Module):
    """Spatially uniform Gaussian blur of width ``sigma_deg`` degrees (``fov_deg`` across the image)."""

    def __init__(self, sigma_deg: float, *, fov_deg: float = DEFAULT_FOV_DEG) -> None:
        super().__init__()
        if sigma_deg < 0:
            raise ValueError(f"sigma_deg must be >= 0, got {sigma_deg}")
        if fov_deg <= 0:
            raise ValueError(f"fov_deg must be positive, got {fov_deg}")
        self.sigma_deg = float(sigma_deg)
        self.fov_deg = float(fov_deg)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Blur (B, C, H, W) images in [0, 1]."""
        check_images(images)
        if self.sigma_deg == 0:
            return images
        sigma_px = self.sigma_deg * pixels_per_degree(images.shape[-1], self.fov_deg)
        return gaussian_blur(images, [sigma_px])[0].clamp(0, 1)

    def extra_repr(self) -> str:
        """The parameters shown in the module's repr."""
        return f"sigma_deg={self.sigma_deg}, fov_deg={self.fov_deg}"


class FoveatedBlur(FoveatedSystem):
    """Gaussian blur whose width grows linearly with eccentricity outside the fovea.

    Parameters
    ----------
    slope
        Blur width (Gaussian sigma, degrees) per degree of eccentricity beyond ``fovea_deg``.
    fixation, fov_deg, fovea_deg
        See :class:`cogvision.foveation.FoveatedSystem`.
    n_levels
        Number of blurred images the per-pixel width is interpolated from.
    """

    def __init__(self, slope: float, *, fixation: tuple[float, float] | None = None,
                 fov_deg: float = DEFAULT_FOV_DEG, fovea_deg: float = 1.0, n_levels: int = 8) -> None:
        super().__init__(fixation=fixation, fov_deg=fov_deg, fovea_deg=fovea_deg)  # scaling: windows unused here
        if slope < 0:
            raise ValueError(f"slope must be >= 0, got {slope}")
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2, got {n_levels}")
        self.slope = float(slope)
        self.n_levels = int(n_levels)

    def sigma_map(self, height: int, width: int) -> torch.Tensor:
        """(H, W) blur width in pixels at every pixel."""
        ecc, _ = eccentricity_map(height, width, self.fixation, self.fov_deg)
        return self.slope * (ecc - self.fovea_deg).clamp_min(0) * pixels_per_degree(width, self.fov_deg)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Blur (B, C, H, W) images in [0, 1] with the eccentricity-dependent width."""
        check_images(images)
        sigma = self.sigma_map(*images.shape[-2:]).to(images.device)
        top = float(sigma.max())
        if top <= 0:
            return images
        # level 0 is the image itself; levels 1.. are geometric from 0.5 px (or top / 2**levels) to top
        low = min(0.5, top / 2 ** (self.n_levels - 1))
        widths = [0.0] + [low * (top / low) ** (i / (self.n_levels - 2)) for i in range(self.n_levels - 1)]
        stack = gaussian_blur(images, widths)  # (L, B, C, H, W)
        stack = torch.cat([images[None], stack[1:]])
        levels = torch.tensor(widths, device=images.device)
        index = torch.searchsorted(levels, sigma.reshape(-1).contiguous()).clamp(1, len(widths) - 1)
        lo, hi = levels[index - 1], levels[index]
        frac = ((sigma.reshape(-1) - lo) / (hi - lo)).clamp(0, 1).reshape(sigma.shape)
        index = index.reshape(sigma.shape)
        gather = lambda idx: torch.gather(stack, 0, idx.expand(1, *stack.shape[1:3], -1, -1))[0]  # noqa: E731
        below = gather((index - 1)[None, None, None])
        above = gather(index[None, None, None])
        return (below * (1 - frac) + above * frac).clamp(0, 1)

    def extra_repr(self) -> str:
        """The parameters shown in the module's repr."""
        return (f"slope={self.slope}, fixation={self.fixation}, fov_deg={self.fov_deg}, fovea_deg={self.fovea_deg}, "
                f"n_levels={self.n_levels}")
