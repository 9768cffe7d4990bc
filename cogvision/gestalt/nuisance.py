"""Nuisance variants that keep global structure, and matching their pixel change to a distortion's.

A nuisance is a seeded family ``f(images, magnitude, seed) -> images`` whose change grows with the
per-image ``magnitude`` (a tensor of shape (B,)):

- ``local`` (the default of the protocol): a change that never moves or mirrors any large part of the
  image. For ``magnitude`` m in [0, 1] a small shift (``m`` x 2% of the side, random direction) and a
  small colour change (``m`` x 0.05, as ``color``); above 1 the same shift and colour change plus
  band-limited noise (one field for all channels, radial frequencies 16-64 cycles per image, i.e.
  wavelengths of 1/64-1/16 of the side, finer than any patch of a g <= 8 grid) of RMS
  ``(m - 1) x 0.1``, clipped to [0, 1]. The noise is a fixed field per image (seeded), so the MSE grows
  monotonically with m and can reach the MSE of a coarse shuffle without any displacement;
- ``shift``: translation by ``magnitude`` pixels in a random direction (sub-pixel, bilinear; the
  uncovered border is filled by reflection). Matched to a coarse shuffle it needs up to half the image,
  mirrored at the border, so it breaks global layout itself (kept for comparison);
- ``color``: brightness, contrast and saturation changed along a random unit direction in those three
  axes, scaled by ``magnitude`` (values clipped to [0, 1]).

:func:`matched_nuisance` picks, per image, the magnitude whose pixel mean squared error to the image
equals a target (the distortion's MSE), by false position; images whose target is out of reach get the
largest magnitude and are flagged by their achieved MSE. Several targets for the same images (every
distortion and grid of one crop in :func:`~cogvision.gestalt.protocol.run_disrt`) are matched in one call,
with the same result as one at a time but less work. Image ``i`` of a batch draws its direction from
``seed + i``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from cogvision.gestalt.distortions import item_generator

Nuisance = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


LOCAL_SHIFT = 0.02  # local nuisance: largest shift, as a fraction of the image side
LOCAL_COLOR = 0.05  # local nuisance: largest colour change
LOCAL_NOISE = 0.1  # local nuisance: noise RMS per unit of magnitude above 1
LOCAL_BAND = (16.0, 64.0)  # local nuisance: noise band, cycles per image (radial frequency)
LOCAL_MAX = 21.0  # local nuisance: largest magnitude searched (noise RMS 2, nearly every pixel clipped)


def _directions(images: torch.Tensor, seed: int, tag: str, dim: int) -> torch.Tensor:
    rows = [torch.randn(dim, generator=item_generator(seed + i, tag, 0)) for i in range(images.shape[0])]
    direction = torch.stack(rows)
    return (direction / direction.norm(dim=1, keepdim=True)).to(images.device, images.dtype)


def band_noise(shape: tuple[int, int], seed: int, band: tuple[float, float] = LOCAL_BAND) -> torch.Tensor:
    """A seeded Gaussian noise field (H, W) with radial frequencies in ``band`` (cycles per image), RMS 1.

    White noise is filtered by an ideal annulus in the Fourier domain and scaled to unit RMS.
    """
    h, w = shape
    white = torch.randn(h, w, generator=item_generator(seed, "local-noise", 0), dtype=torch.float64)
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None] * h
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :] * w
    radius = torch.sqrt(fy**2 + fx**2)
    keep = (radius >= band[0]) & (radius <= band[1])
    field = torch.fft.irfft2(torch.fft.rfft2(white) * keep, s=(h, w))
    return (field / field.square().mean().sqrt().clamp_min(1e-12)).float()


def _local_parameters(images: torch.Tensor, seed: int) -> torch.Tensor:
    """(B, 5 + H*W) per image: shift direction (2), colour direction (3), noise field (H*W)."""
    h, w = images.shape[-2:]
    noise = torch.stack([band_noise((h, w), seed + i).flatten() for i in range(images.shape[0])])
    parts = [_directions(images, seed, "local-shift", 2), _directions(images, seed, "local-color", 3),
             noise.to(images.device, images.dtype)]
    return torch.cat(parts, dim=1)


def shift(images: torch.Tensor, magnitude: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Translate image ``i`` by ``magnitude[i]`` pixels along a random direction (reflection padding).

    Parameters
    ----------
    images
        (B, C, H, W).
    magnitude
        (B,) shift lengths in pixels (0 returns the image exactly).
    seed
        Base seed for the directions.
    """
    return _shift(images, magnitude, _directions(images, seed, "shift", 2))


def _shift(images: torch.Tensor, magnitude: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    b, _, h, w = images.shape
    magnitude = magnitude.to(images.device, images.dtype).reshape(b)
    dx, dy = (direction * magnitude[:, None]).unbind(1)
    # normalised pixel centres (align_corners=False); output pixel x samples input x - dx: content moves by +dx
    xs = (2 * torch.arange(w, dtype=images.dtype, device=images.device) + 1) / w - 1
    ys = (2 * torch.arange(h, dtype=images.dtype, device=images.device) + 1) / h - 1
    gx = (xs[None, None, :] - (2 * dx / w)[:, None, None]).expand(b, h, w)
    gy = (ys[None, :, None] - (2 * dy / h)[:, None, None]).expand(b, h, w)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def color(images: torch.Tensor, magnitude: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Colour change of image ``i`` of size ``magnitude[i]`` along a random (brightness, contrast, saturation) axis.

    ``y = x + t u_b``; ``y = mean(y) + (1 + t u_c)(y - mean(y))``; ``y = gray(y) + (1 + t u_s)(y - gray(y))``,
    clipped to [0, 1]; ``u`` is a random unit vector, ``t = magnitude``.
    """
    return _color(images, magnitude, _directions(images, seed, "color", 3))


def _color(images: torch.Tensor, magnitude: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    b = images.shape[0]
    t = magnitude.to(images.device, images.dtype).reshape(b, 1, 1, 1)
    y = images + t * u[:, 0].view(b, 1, 1, 1)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    y = mean + (1 + t * u[:, 1].view(b, 1, 1, 1)) * (y - mean)
    if images.shape[1] == 3:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=y.dtype, device=y.device).view(1, 3, 1, 1)
        gray = (y * luma).sum(1, keepdim=True)
        y = gray + (1 + t * u[:, 2].view(b, 1, 1, 1)) * (y - gray)
    return y.clamp(0, 1)


def local(images: torch.Tensor, magnitude: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Layout-keeping nuisance of size ``magnitude[i]`` (see the module docstring): small shift and colour
    change up to magnitude 1, band-limited noise of RMS ``0.1 (magnitude - 1)`` above.

    Parameters
    ----------
    images
        (B, C, H, W) in [0, 1].
    magnitude
        (B,) non-negative sizes (0 returns the image up to resampling rounding).
    seed
        Base seed: image ``i`` draws its directions and noise field from ``seed + i``.
    """
    return _local(images, magnitude, _local_parameters(images, seed))


def _local(images: torch.Tensor, magnitude: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    m = magnitude.to(images.device, images.dtype).reshape(images.shape[0])
    return _local_noise(_local_base(images, m.clamp(max=1.0), params), m, params)


def _local_base(images: torch.Tensor, small: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """The shift and colour change of the local nuisance at sizes ``small`` (B,) <= 1."""
    y = _shift(images, small * LOCAL_SHIFT * images.shape[-1], params[:, :2])
    return _color(y, small * LOCAL_COLOR, params[:, 2:5])


def _local_noise(base: torch.Tensor, m: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """``base`` plus the band-limited noise of the local nuisance at magnitudes ``m`` (B,), clipped to [0, 1]."""
    b, _, h, w = base.shape
    noise = params[:, 5:].reshape(b, 1, h, w)
    amplitude = ((m - 1).clamp_min(0) * LOCAL_NOISE).view(b, 1, 1, 1)
    return (base + amplitude * noise).clamp(0, 1)


def _parameters(name: str, images: torch.Tensor, seed: int) -> torch.Tensor:
    """Per-image random parameters (B, P) of nuisance ``name`` (rows are indexed with the images)."""
    if name == "local":
        return _local_parameters(images, seed)
    return _directions(images, seed, name, 2 if name == "shift" else 3)


NUISANCES: dict[str, Nuisance] = {"local": local, "shift": shift, "color": color}
_KERNELS = {"local": _local, "shift": _shift, "color": _color}  # variant from per-image parameters


def max_magnitude(name: str, size: int) -> float:
    """Largest magnitude searched when matching: half the image side for ``shift``, 1 for ``color``,
    :data:`LOCAL_MAX` for ``local``."""
    return {"shift": size / 2, "color": 1.0}.get(name, LOCAL_MAX)


def default_magnitude(name: str, size: int) -> float:
    """Unmatched nuisance size: a 2% shift of the image side, a colour jitter of 0.05, or ``local`` at 1
    (both of those together, no noise)."""
    return {"shift": 0.02 * size, "color": 0.05}.get(name, 1.0)


def pixel_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error between (B, C, H, W) batches -> (B,) float64 (accumulated in float32)."""
    diff = a.float() - b.float()
    return diff.square_().flatten(1).mean(1).double()  # squared in place: one temporary image batch, not two


def apply_nuisance(name: str, images: torch.Tensor, magnitude: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Apply nuisance ``name`` (a key of :data:`NUISANCES`) with per-image ``magnitude``."""
    if name not in NUISANCES:
        raise ValueError(f"unknown nuisance {name!r}; available: {sorted(NUISANCES)}")
    return NUISANCES[name](images, magnitude, seed)


@torch.no_grad()
def matched_nuisance(
    name: str, images: torch.Tensor, target_mse: torch.Tensor, seed: int = 0, rtol: float = 1e-3,
    max_iterations: int = 40,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nuisance variants whose pixel MSE to ``images`` equals ``target_mse`` (per image, for one or more targets).

    The magnitude is found in [0, :func:`max_magnitude`] by the Illinois variant of false position
    (bracketing, so it always converges on a crossing; superlinear on the smooth MSE curves of shifts
    and colour changes), stopping when every image is within ``rtol`` of its target. A crossing need not
    be unique (a shift's MSE ripples with the sub-pixel phase and flattens near the cap), so the steps are
    part of the protocol. Several targets for the same images (e.g. every distortion and grid of one crop)
    are searched together, and each (target, image) pair takes exactly the steps it would take alone; for
    speed they share the evaluation at the largest magnitude (every pair's first), each step evaluates the
    pairs still searching together (B at a time), and a pair keeps the variant of the step that matched it
    (no final pass).

    Parameters
    ----------
    name
        ``"local"``, ``"shift"`` or ``"color"``.
    images
        (B, C, H, W) in [0, 1].
    target_mse
        (B,) the pixel MSE to reach (e.g. the distortion's), or (T, B) for T targets per image.
    seed
        Base seed (fixes each image's direction).
    rtol
        Relative tolerance on the MSE.
    max_iterations
        Upper bound on the search steps (each evaluates the pairs still searching).

    Returns
    -------
    variants : torch.Tensor
        (B, C, H, W), or (T, B, C, H, W) for (T, B) targets.
    magnitude : torch.Tensor
        (B,) or (T, B) float64, the magnitudes used.
    mse : torch.Tensor
        (B,) or (T, B) float64, the achieved MSE (below the target where even the largest magnitude falls
        short).
    """
    if name not in NUISANCES:
        raise ValueError(f"unknown nuisance {name!r}; available: {sorted(NUISANCES)}")
    b = images.shape[0]
    if target_mse.shape not in ((b,), (target_mse.shape[0], b)):
        raise ValueError(f"target_mse must be (B,) or (T, B) for B = {b} images, got {tuple(target_mse.shape)}")
    search = _Search(name, images, target_mse, seed, rtol)
    t, mse = search.run(max_iterations)
    shape = tuple(target_mse.shape)
    return search.variants.reshape(*shape, *images.shape[1:]), t.reshape(shape), mse.reshape(shape)


def _illinois_step(active: torch.Tensor, t_new: torch.Tensor, f_new: torch.Tensor, bracket: tuple,
                   side: torch.Tensor) -> tuple[tuple, torch.Tensor]:
    """One Illinois update of the brackets ``(lo, hi, f_lo, f_hi)`` of the ``active`` pairs after evaluating
    ``t_new``; ``side`` records which end each pair replaced last (-1 low, +1 high)."""
    lo, hi, f_lo, f_hi = bracket
    up = active & (f_new >= 0)
    down = active & (f_new < 0)
    f_lo = torch.where(up & (side == 1), f_lo / 2, f_lo)  # Illinois: the same end twice halves the other
    f_hi = torch.where(down & (side == -1), f_hi / 2, f_hi)
    hi, f_hi = torch.where(up, t_new, hi), torch.where(up, f_new, f_hi)
    lo, f_lo = torch.where(down, t_new, lo), torch.where(down, f_new, f_lo)
    side = torch.where(up, 1, torch.where(down, -1, side)).to(torch.int8)
    return (lo, hi, f_lo, f_hi), side


class _Search:
    """One :func:`matched_nuisance` search: a row per (target, image) pair, row r being target r // B for
    image r % B; each row's variant is written into :attr:`variants` once, at the step that matches it."""

    def __init__(self, name: str, images: torch.Tensor, target_mse: torch.Tensor, seed: int, rtol: float) -> None:
        self.name, self.images, self.rtol = name, images, rtol
        self.kernel = _KERNELS[name]
        self.direction = _parameters(name, images, seed)
        self.target = target_mse.to(torch.float64).cpu().flatten()
        self.b = images.shape[0]
        self.image = torch.arange(self.target.shape[0]) % self.b
        self.variants = images.new_empty((self.target.shape[0], *images.shape[1:]))
        # Above magnitude 1 the local nuisance only changes its noise amplitude: its shift and colour change at
        # 1 are computed once per image here, not at every step (the same variants, fewer operations).
        self.at_one = _local_base(images, torch.ones(self.b, dtype=images.dtype), self.direction) \
            if name == "local" else None

    def close(self, f: torch.Tensor) -> torch.Tensor:
        """Rows whose MSE minus target ``f`` is within the tolerance."""
        return f.abs() <= self.rtol * self.target

    def vary(self, src: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.at_one is not None and bool((t >= 1).all()):
            return _local_noise(self.at_one[src], t, self.direction[src])
        return self.kernel(self.images[src], t, self.direction[src])

    def evaluate(self, rows: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """MSE (len(rows),) of the variants of ``rows`` at magnitudes ``t[rows]``; keeps the variants of
        the rows that match their target (so that no final pass is needed)."""
        out, device = [], self.images.device
        for chunk in rows.split(self.b):  # at most B images at a time: temporaries no larger than the batch's
            src = self.image[chunk].to(device)
            varied = self.vary(src, t[chunk].to(self.images.dtype))
            out.append(pixel_mse(varied, self.images[src]).cpu())
            done = ((out[-1] - self.target[chunk]).abs() <= self.rtol * self.target[chunk]).to(device)
            self.variants[chunk.to(device)[done]] = varied[done]
        return torch.cat(out)

    def run(self, max_iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Search every row; returns the magnitudes used and the MSEs reached, (rows,) float64 each."""
        n, device, target = self.target.shape[0], self.images.device, self.target
        largest = max_magnitude(self.name, self.images.shape[-1])
        lo, hi = torch.zeros(n, dtype=torch.float64), torch.full((n,), largest, dtype=torch.float64)
        # every pair starts at the largest magnitude: evaluated once per image
        at_largest = self.kernel(self.images, hi[:self.b].to(self.images.dtype), self.direction)
        mse = pixel_mse(at_largest, self.images).cpu()[self.image]
        f_lo, f_hi = -target, mse - target
        unreachable = f_hi < 0
        t, f_t = hi.clone(), f_hi.clone()
        settled = unreachable | self.close(f_t)  # pairs that stay at the largest magnitude
        self.variants[settled.to(device)] = at_largest[self.image[settled].to(device)]
        side = torch.zeros(n, dtype=torch.int8)
        for _ in range(max_iterations):
            active = ~(unreachable | self.close(f_t))
            if not bool(active.any()):
                break
            denom = (f_hi - f_lo).clamp_min(1e-300)
            t_new = torch.where(active, hi - f_hi * (hi - lo) / denom, t)
            rows = active.nonzero().flatten()
            mse[rows] = self.evaluate(rows, t_new)
            f_new = torch.where(active, mse - target, 0.0)
            (lo, hi, f_lo, f_hi), side = _illinois_step(active, t_new, f_new, (lo, hi, f_lo, f_hi), side)
            t, f_t = torch.where(active, t_new, t), torch.where(active, f_new, f_t)
        else:  # pairs stopped by max_iterations: their variant at the last magnitude tried
            for chunk in (~(unreachable | self.close(f_t))).nonzero().flatten().split(self.b):
                src = self.image[chunk].to(device)
                self.variants[chunk.to(device)] = self.kernel(self.images[src], t[chunk].to(self.images.dtype),
                                                              self.direction[src])
        return t, mse


def fixed_nuisance(name: str, images: torch.Tensor, magnitude: float | None = None,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unmatched nuisance with the same ``magnitude`` for every image (default :func:`default_magnitude`)."""
    value = default_magnitude(name, images.shape[-1]) if magnitude is None else float(magnitude)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"nuisance magnitude must be a non-negative number, got {magnitude!r}")
    mag = torch.full((images.shape[0],), value, dtype=torch.float64)
    variants = apply_nuisance(name, images, mag.to(images.dtype), seed)
    return variants, mag, pixel_mse(variants, images).cpu()
