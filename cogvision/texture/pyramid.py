"""An exactly invertible steerable pyramid computed in the Fourier domain.

The masks follow the steerable pyramid of Simoncelli & Freeman (1995) as used by Portilla &
Simoncelli (2000): ``n_scales`` scales of ``n_orientations`` real-valued oriented band-pass bands,
each scale half the size of the previous, and a low-pass residual. Every band mask is a raised cosine
in log radius (one octave wide) times ``|cos(theta - k pi / K)| ** (K - 1)`` in angle (even-symmetric,
so every band is real; the Nyquist row and column are symmetrised), normalised so that the squared
masks of a scale sum to the squared radial mask, and radial high and low masks square-sum to one;
reconstruction multiplies by the same masks and sums, so ``inverse(forward(x)) == x`` up to float error.
Unlike the classic pyramid there is no separate high-pass residual: the finest scale's
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
    """Fourier masks of every level (real and even, so every band is a real image).

    A band level holds ``band`` (K, h, w//2+1), the band masks on the ``rfft2`` half plane (used by the
    inverse); ``pairs`` (ceil(K/2), h, w), ``band[2p] + 1j * band[2p + 1]`` on the full ``fft2`` plane (used
    by the forward transform); ``low`` (h/2, w/2), the full-plane low-pass on the next level's frequencies,
    over 4, and ``low_half`` (h/2, w/4+1), the same on the next level's half plane, times 4 (these factors
    keep pixel amplitudes when a spectrum is cropped to, or zero-padded from, half the size). All are
    complex64, so products with spectra need no casts.
    """
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
            band = high * angular  # (K, h, w//2+1)
            full = torch.cat([_full_plane(band, w), torch.zeros(n_orientations % 2, h, w, dtype=band.dtype)])
            entry["band"] = band.to(torch.complex64)
            entry["pairs"] = torch.complex(full[0::2], full[1::2]).to(torch.complex64)
            entry["low"] = (_low_frequencies(_full_plane(low, w), h // 2, w // 2) / 4).to(torch.complex64)
            entry["low_half"] = (_low_frequencies(low, h // 2, w // 2, half=True) * 4).to(torch.complex64)
            h, w = h // 2, w // 2
        levels.append(entry)
    return tuple(levels)


def _full_plane(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Extend an even mask from the ``rfft2`` half plane (..., h, width//2+1) to the full plane (..., h, width)."""
    mirrored = mask.flip(-2).roll(1, dims=-2)  # row i holds row -i
    return torch.cat([mask, mirrored[..., 1:(width + 1) // 2].flip(-1)], dim=-1)


def _low_frequencies(spectrum: torch.Tensor, h: int, w: int, half: bool = False) -> torch.Tensor:
    """The frequencies of an (h, w) image (``fft2`` order) cut from a larger image's full-plane spectrum.

    With ``half`` the spectrum and the result are ``rfft2`` half planes (the result has w//2+1 columns).
    """
    rows = torch.cat([spectrum[..., :(h + 1) // 2, :], spectrum[..., spectrum.shape[-2] - h // 2:, :]], dim=-2)
    if half:
        return rows[..., : w // 2 + 1]
    return torch.cat([rows[..., :(w + 1) // 2], rows[..., rows.shape[-1] - w // 2:]], dim=-1)


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
        spectrum = torch.fft.fft2(x.float())
        coeffs = []
        for level in levels[:-1]:
            h, w = level["size"]
            # Two bands per complex inverse FFT: the masks are real and even, so each band is real and
            # ifft2(X (M_a + i M_b)) = band_a + i band_b (about 3x faster than irfft2 of every band on CPU).
            pairs = torch.fft.ifft2(spectrum[:, :, None] * level["pairs"])  # (B, C, ceil(K/2), h, w)
            bands = torch.view_as_real(pairs).movedim(-1, 3).flatten(2, 3)  # (B, C, 2 ceil(K/2), h, w)
            coeffs.append(bands[:, :, : self.n_orientations].contiguous())
            spectrum = _low_frequencies(spectrum, h // 2, w // 2) * level["low"]
        coeffs.append(torch.fft.ifft2(spectrum).real[:, :, None].contiguous())
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
            h = level["size"][0]
            bands, masks = torch.fft.rfft2(coeffs[index]), level["band"]
            fine = bands[:, :, 0] * masks[0]
            for k in range(1, len(masks)):  # sum over orientations without materialising every product
                fine.addcmul_(bands[:, :, k], masks[k])
            # zero-pad the coarser spectrum (times the low-pass) to this level: add it to its frequencies
            low = spectrum * level["low_half"]
            top, bottom = (low.shape[-2] + 1) // 2, low.shape[-2] // 2  # rows of frequencies >= 0 and < 0
            fine[..., :top, : low.shape[-1]] += low[..., :top, :]
            fine[..., h - bottom:, : low.shape[-1]] += low[..., top:, :]
            spectrum = fine
        return torch.fft.irfft2(spectrum, s=(height, width))
