"""An exactly invertible steerable pyramid computed in the Fourier domain.

The masks follow the steerable pyramid of Simoncelli & Freeman (1995) as used by Portilla &
Simoncelli (2000): ``n_scales`` scales of ``n_orientations`` real-valued oriented band-pass bands,
each scale half the size of the previous, and a low-pass residual. Every band mask is a raised cosine
in log radius (one octave wide) times ``|cos(theta - k pi / K)| ** (K - 1)`` in angle (even-symmetric,
so every band is real; the Nyquist row and column are symmetrised), normalised so that the squared
masks of a scale sum to the squared radial mask, and radial high and low masks square-sum to one; reconstruction multiplies by the same masks and sums, so ``inverse(forward(x)) == x`` up to
float error. Unlike the classic pyramid there is no separate high-pass residual: the finest scale's
bands run up to the Nyquist corners (its radial mask is one above half Nyquist), which keeps the exact
inverse and saves one full-resolution band.

Coefficients come back as one tensor per resolution: ``coeffs[s]`` for ``0 <= s < n_scales`` is
(B, C, K, H / 2**s, W / 2**s), and the last entry is the low-pass residual
(B, C, 1, H / 2**n_scales, W / 2**n_scales). Pixel values keep their amplitude across scales.

>>> import torch
>>> from cogvision.texture import SteerablePyramid
>>> pyr = SteerablePyramid(n_scales=3, n_orientations=4)
>>> x = torch.rand(2, 3, 64, 48)
>>> coeffs = pyr(x)
>>> [tuple(c.shape) for c in coeffs]
[(2, 3, 4, 64, 48), (2, 3, 4, 32, 24), (2, 3, 4, 16, 12), (2, 3, 1, 8, 6)]
>>> bool(torch.allclose(pyr.inverse(coeffs), x, atol=1e-5))
True
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


def max_scales(height: int, width: int, min_size: int = 8) -> int:
    """Largest number of scales for which every level halves exactly and the low-pass stays >= ``min_size``."""
    scales = 0
    h, w = height, width
    while h % 2 == 0 and w % 2 == 0 and h // 2 >= min_size and w // 2 >= min_size:
        h, w = h // 2, w // 2
        scales += 1
    return scales


def _raised_cosine(log_radius: torch.Tensor, start: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high) masks with low**2 + high**2 = 1; the transition runs over one octave above ``start``."""
    t = ((log_radius - start).clamp(0.0, 1.0)) * (math.pi / 2)
    return torch.cos(t), torch.sin(t)


def _angular(fy: torch.Tensor, fx: torch.Tensor, k: int) -> torch.Tensor:
    """(K, ...) angular masks ``|cos(theta - b pi / K)| ** (K - 1)``, squares summing to one."""
    order = k - 1
    const = (2.0 ** (2 * order)) * math.factorial(order) ** 2 / (k * math.factorial(2 * order))
    angle = torch.atan2(fy, fx)
    return torch.stack([torch.cos(angle - math.pi * b / k).abs() ** order * math.sqrt(const) for b in range(k)])


@lru_cache(maxsize=32)
def _masks(height: int, width: int, n_scales: int, n_orientations: int) -> tuple:
    """Real, Hermitian Fourier masks on the ``rfft2`` half-plane grid of every level."""
    levels = []
    h, w = height, width
    for level in range(n_scales + 1):
        entry = {"size": (h, w)}
        if level < n_scales:
            fy = (torch.fft.fftfreq(h, dtype=torch.float64)[:, None] * 2.0).expand(h, w // 2 + 1)
            fx = (torch.fft.rfftfreq(w, dtype=torch.float64)[None, :] * 2.0).expand(h, w // 2 + 1)
            log_radius = torch.log2(torch.sqrt(fx**2 + fy**2).clamp_min(1e-12))  # 0 = Nyquist
            low, high = _raised_cosine(log_radius, -2.0)  # transition 0.25 -> 0.5 x Nyquist
            angular = _angular(fy, fx, n_orientations)
            # Nyquist row and column are their own mirror images: symmetrise them so every band stays real
            angular[:, h // 2] = torch.sqrt(
                (angular[:, h // 2] ** 2 + _angular(fy[h // 2], -fx[h // 2], n_orientations) ** 2) / 2)
            angular[:, :, -1] = torch.sqrt((angular[:, :, -1] ** 2 + _angular(-fy[:, -1], fx[:, -1], n_orientations)
                                            ** 2) / 2)
            entry["band"] = (high * angular).float()  # (K, h, w//2+1)
            entry["low"] = low.float()
            h, w = h // 2, w // 2
        levels.append(entry)
    return tuple(levels)


def _crop_half(spectrum: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Keep the central frequencies of an ``rfft2`` spectrum of an (h, w) image for an (h/2, w/2) image."""
    qh, qw = h // 4, w // 4
    top = spectrum[..., :qh, : qw + 1]
    bottom = spectrum[..., h - qh:, : qw + 1]
    return torch.cat([top, bottom], dim=-2) / 4.0


def _pad_double(spectrum: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_crop_half`: zero-pad an (h/2, w/2) ``rfft2`` spectrum to an (h, w) one."""
    qh, qw = h // 4, w // 4
    out = spectrum.new_zeros(spectrum.shape[:-2] + (h, w // 2 + 1))
    out[..., :qh, : qw + 1] = spectrum[..., :qh, :]
    out[..., h - qh:, : qw + 1] = spectrum[..., qh:, :]
    return out * 4.0


class SteerablePyramid(torch.nn.Module):
    """Real steerable pyramid in the Fourier domain, with an exact inverse.

    Parameters
    ----------
    n_scales
        Number of band-pass scales; ``None`` picks the most that keep the low-pass at least 8 px.
        Image height and width must be divisible by ``2 ** n_scales``.
    n_orientations
        Oriented bands per scale (1 to 8).

    Notes
    -----
    Differentiable and device-agnostic (masks are built once per image size and cached). Works on any
    number of channels; the channel axis is kept as axis 1 of every coefficient tensor.
    """

    def __init__(self, n_scales: int | None = None, n_orientations: int = 4) -> None:
        super().__init__()
        if n_scales is not None and n_scales < 1:
            raise ValueError(f"n_scales must be >= 1 (or None for automatic), got {n_scales}")
        if not 1 <= n_orientations <= 8:
            raise ValueError(f"n_orientations must be between 1 and 8, got {n_orientations}")
        self.n_scales = n_scales
        self.n_orientations = n_orientations

    def scales_for(self, height: int, width: int) -> int:
        """Number of scales used for an image of this size (raises ``ValueError`` if it cannot halve)."""
        if self.n_scales is None:
            scales = max_scales(height, width)
            if scales < 1:
                raise ValueError(f"image of {height}x{width} px is too small or odd-sized for a pyramid: "
                                 "height and width must be even and at least 16 px")
            return scales
        step = 2 ** self.n_scales
        if height % step or width % step or height // step < 2 or width // step < 2:
            raise ValueError(f"image of {height}x{width} px cannot be split into {self.n_scales} scales: "
                             f"height and width must be divisible by {step} and at least {2 * step} px")
        return self.n_scales

    def _levels(self, height: int, width: int, device: torch.device) -> list[dict]:
        levels = _masks(height, width, self.scales_for(height, width), self.n_orientations)
        return [{key: (v.to(device) if isinstance(v, torch.Tensor) else v) for key, v in lv.items()} for lv in levels]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Decompose (B, C, H, W) into the list of per-resolution coefficient tensors (see module docs)."""
        if x.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        levels = self._levels(x.shape[-2], x.shape[-1], x.device)
        spectrum = torch.fft.rfft2(x.float())
        coeffs = []
        for level in levels[:-1]:
            h, w = level["size"]
            coeffs.append(torch.fft.irfft2(spectrum[:, :, None] * level["band"], s=(h, w)))
            spectrum = _crop_half(spectrum * level["low"], h, w)
        coeffs.append(torch.fft.irfft2(spectrum, s=levels[-1]["size"])[:, :, None])
        return coeffs

    def inverse(self, coeffs: list[torch.Tensor]) -> torch.Tensor:
        """Reconstruct (B, C, H, W) from coefficients shaped like :meth:`forward`'s output."""
        height, width = coeffs[0].shape[-2:]
        levels = self._levels(height, width, coeffs[0].device)
        if len(coeffs) != len(levels):
            raise ValueError(f"expected {len(levels)} coefficient tensors for a {height}x{width} image, "
                             f"got {len(coeffs)}")
        spectrum = torch.fft.rfft2(coeffs[-1][:, :, 0])
        for index in range(len(levels) - 2, -1, -1):
            level = levels[index]
            h, w = level["size"]
            bands = (torch.fft.rfft2(coeffs[index]) * level["band"]).sum(dim=2)
            spectrum = _pad_double(spectrum, h, w) * level["low"] + bands
        return torch.fft.irfft2(spectrum, s=(height, width))
