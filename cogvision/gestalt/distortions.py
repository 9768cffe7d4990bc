"""Distortions that keep local texture and break global spatial relations.

Each distortion is a seeded function ``f(images, grid, seed) -> images`` on a batch (B, C, H, W) in [0, 1]
whose strength is the grid size ``g`` (the image is cut into g x g square patches; larger g = finer
scrambling, smaller patches):

- ``shuffle``: the patches are permuted by a random derangement (every patch moves);
- ``shuffle_seamless``: the same permutation, but each patch carries a margin of its own surroundings and
  neighbouring patches are cross-faded over that margin, so that no hard edge marks the patch borders
  (seam control);
- ``rotate``: every patch stays in place and is rotated by 90, 180 or 270 degrees (drawn at random);
- ``texform``: pooled-statistics texture synthesis (:mod:`cogvision.texture`) inside g x g smooth,
  overlapping square pooling windows (:func:`square_windows`): local statistics kept, layout inside each
  window destroyed. Here the grid counts pooling windows, so a *smaller* g is the stronger distortion.

Sizes that the grid does not divide are **cropped**, never resampled: :func:`crop_to_grid` keeps the
centred ``g * floor(H / g)`` x ``g * floor(W / g)`` region (at most ``g - 1`` pixels lost per side). The
protocol crops the image and its variants identically, so the three items of a trial always match.

Seeds: image ``i`` of a batch uses the generator seeded by ``seed + i`` mixed with the distortion name
and grid (:func:`item_generator`), so a batch starting at image ``s`` called with ``seed + s`` gives the
same result as one call on all images.
"""

from __future__ import annotations

import math
import zlib
from typing import Callable

import torch

from cogvision.texture import WindowedTexture

Distortion = Callable[[torch.Tensor, int, int], torch.Tensor]
SEAM_FRACTION = 0.125  # seamless shuffle: margin of each patch, as a fraction of its side
WINDOW_OVERLAP = 0.5  # texform: fraction of a cell over which neighbouring windows cross-fade


def item_generator(seed: int, tag: str, grid: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, tag, grid)`` (stable across runs and platforms)."""
    mixed = zlib.crc32(f"{tag}|{grid}|{seed}".encode())
    return torch.Generator().manual_seed(mixed)


def crop_to_grid(images: torch.Tensor, grid: int) -> torch.Tensor:
    """Centre-crop (B, C, H, W) so that ``grid`` divides both sides.

    Raises
    ------
    ValueError
        When ``grid`` is below 1 or the image is smaller than ``grid`` pixels on a side.
    """
    _check(images, grid)
    h, w = images.shape[-2:]
    nh, nw = grid * (h // grid), grid * (w // grid)
    top, left = (h - nh) // 2, (w - nw) // 2
    return images[..., top:top + nh, left:left + nw]


def _check(images: torch.Tensor, grid: int) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"distortions need images as a tensor (B, C, H, W), got {shape}")
    if int(grid) != grid or grid < 1:
        raise ValueError(f"grid must be a positive integer, got {grid!r}")
    if min(images.shape[-2:]) < grid:
        raise ValueError(f"an image of {tuple(images.shape[-2:])} px is too small for a {grid}x{grid} grid")


def to_patches(images: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, C, g*ph, g*pw) -> (B, g*g, C, ph, pw), patches in row-major order."""
    b, c, h, w = images.shape
    ph, pw = h // grid, w // grid
    return images.reshape(b, c, grid, ph, grid, pw).permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, c, ph, pw)


def from_patches(patches: torch.Tensor, grid: int) -> torch.Tensor:
    """Inverse of :func:`to_patches`."""
    b, _, c, ph, pw = patches.shape
    return patches.reshape(b, grid, grid, c, ph, pw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, grid * ph, grid * pw)


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random permutation of ``range(n)`` with no fixed point (identity for ``n == 1``)."""
    if n == 1:
        return torch.zeros(1, dtype=torch.long)
    while True:
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == torch.arange(n)).any()):
            return perm


def _permutations(images: torch.Tensor, grid: int, seed: int, tag: str) -> torch.Tensor:
    return torch.stack([derangement(grid * grid, item_generator(seed + i, tag, grid)) for i in range(images.shape[0])])


def shuffle(images: torch.Tensor, grid: int, seed: int = 0) -> torch.Tensor:
    """Move every patch of a ``grid`` x ``grid`` tiling to another cell (a random derangement per image).

    Parameters
    ----------
    images
        (B, C, H, W); cropped with :func:`crop_to_grid` first.
    grid
        Patches per side (strength).
    seed
        Base seed; image ``i`` uses :func:`item_generator`.

    Returns
    -------
    torch.Tensor
        (B, C, g*floor(H/g), g*floor(W/g)): the same multiset of patches (and of pixel values).
    """
    images = crop_to_grid(images, grid)
    perm = _permutations(images, grid, seed, "shuffle").to(images.device)
    patches = to_patches(images, grid)
    index = perm[:, :, None, None, None].expand_as(patches)
    return from_patches(patches.gather(1, index), grid)


def shuffle_seamless(images: torch.Tensor, grid: int, seed: int = 0, seam: float = SEAM_FRACTION) -> torch.Tensor:
    """:func:`shuffle` with blended borders: the same permutation, patches cross-faded over their margins.

    Each cell receives its source patch extended by ``m = max(1, round(seam * patch side))`` pixels of
    the source's own surroundings (reflection at the image border). Neighbouring cells overlap by ``2 m``
    pixels and are mixed with linear ramps that sum to one, so a seam becomes a smooth cross-fade. With
    the identity permutation the output equals the input.

    Parameters
    ----------
    images
        (B, C, H, W) with square patches after cropping.
    grid
        Patches per side.
    seed
        Base seed (the permutation matches :func:`shuffle` for the same seed).
    seam
        Margin as a fraction of the patch side, in (0, 0.5].
    """
    if not 0 < seam <= 0.5:
        raise ValueError(f"seam must be in (0, 0.5], got {seam}")
    images = crop_to_grid(images, grid)
    perm = _permutations(images, grid, seed, "shuffle").to(images.device)
    return _blend_permuted(images, grid, perm, seam)


def _blend_permuted(images: torch.Tensor, grid: int, perm: torch.Tensor, seam: float) -> torch.Tensor:
    b, c, h, w = images.shape
    ph, pw = h // grid, w // grid
    m = max(1, round(seam * min(ph, pw)))
    if m > min(h, w) - 1:
        raise ValueError(f"images of {h}x{w} px are too small for seamless blending at grid {grid}")
    padded = torch.nn.functional.pad(images, (m, m, m, m), mode="reflect")
    ext = torch.stack([padded[..., i * ph:(i + 1) * ph + 2 * m, j * pw:(j + 1) * pw + 2 * m]
                       for i in range(grid) for j in range(grid)], dim=1)  # (B, g*g, C, ph+2m, pw+2m)
    ext = ext.gather(1, perm[:, :, None, None, None].expand_as(ext))
    ramp_h, ramp_w = _ramp(ph, m, images), _ramp(pw, m, images)
    weight = ramp_h[:, None] * ramp_w[None, :]
    canvas = images.new_zeros(b, c, h + 2 * m, w + 2 * m)
    total = images.new_zeros(1, 1, h + 2 * m, w + 2 * m)
    for cell in range(grid * grid):
        i, j = divmod(cell, grid)
        rows, cols = slice(i * ph, (i + 1) * ph + 2 * m), slice(j * pw, (j + 1) * pw + 2 * m)
        canvas[..., rows, cols] += weight * ext[:, cell]
        total[..., rows, cols] += weight
    return (canvas / total)[..., m:m + h, m:m + w]


def _ramp(side: int, m: int, like: torch.Tensor) -> torch.Tensor:
    t = torch.arange(side + 2 * m, dtype=like.dtype, device=like.device) + 0.5
    return (t / (2 * m)).clamp(max=1) * ((side + 2 * m - t) / (2 * m)).clamp(max=1)


def rotate(images: torch.Tensor, grid: int, seed: int = 0) -> torch.Tensor:
    """Rotate every patch of a ``grid`` x ``grid`` tiling in place by 90, 180 or 270 degrees (random).

    Parameters
    ----------
    images
        (B, C, H, W) whose patches are square after :func:`crop_to_grid` (i.e. square images).
    grid
        Patches per side.
    seed
        Base seed.
    """
    images = crop_to_grid(images, grid)
    h, w = images.shape[-2:]
    if h != w:
        raise ValueError(f"rotate needs square patches; images of {h}x{w} px give {h // grid}x{w // grid} patches")
    turns = torch.stack([torch.randint(1, 4, (grid * grid,), generator=item_generator(seed + i, "rotate", grid))
                         for i in range(images.shape[0])]).to(images.device)
    patches = to_patches(images, grid).clone()
    for k in (1, 2, 3):
        sel = turns == k
        patches[sel] = torch.rot90(patches[sel], k, dims=(-2, -1))
    return from_patches(patches, grid)


def _partition_1d(side: int, grid: int, overlap: float) -> torch.Tensor:
    """(grid, side) raised-cosine windows along one axis that sum to 1 at every pixel."""
    cell = side / grid
    ramp = overlap * cell / 2  # half-width of each cross-fade
    t = torch.arange(side, dtype=torch.float64) + 0.5
    rising = []
    for i in range(grid + 1):  # the rising edge of window i at its left border (0 for i=0, 1 past i=grid)
        if i == 0:
            rising.append(torch.ones(side, dtype=torch.float64))
        elif i == grid:
            rising.append(torch.zeros(side, dtype=torch.float64))
        else:
            u = ((t - (i * cell - ramp)) / (2 * ramp)).clamp(0, 1) if ramp > 0 else (t >= i * cell).double()
            rising.append(torch.sin(u * math.pi / 2) ** 2)
    return torch.stack([rising[i] - rising[i + 1] for i in range(grid)]).float()


def square_windows(height: int, width: int, grid: int, overlap: float = WINDOW_OVERLAP) -> torch.Tensor:
    """``grid`` x ``grid`` smooth, overlapping square pooling windows that sum to 1 at every pixel.

    Each window is the product of two one-dimensional windows that are flat (1) inside their cell and
    cross-fade with their neighbours by a raised cosine over ``overlap`` of a cell (half on each side of
    the border).

    Returns
    -------
    torch.Tensor
        (grid * grid, height, width), row-major.
    """
    if not 0 <= overlap <= 1:
        raise ValueError(f"window overlap must be in [0, 1], got {overlap}")
    rows, cols = _partition_1d(height, grid, overlap), _partition_1d(width, grid, overlap)
    return (rows[:, None, :, None] * cols[None, :, None, :]).reshape(grid * grid, height, width)


def texform(images: torch.Tensor, grid: int, seed: int = 0) -> torch.Tensor:
    """Pooled-statistics texture synthesis in ``grid`` x ``grid`` square windows (a "texform").

    Every window of :func:`square_windows` is replaced by seeded noise given the window's statistics of
    the image in a multi-scale pyramid (:func:`cogvision.texture.synthesize`, ``alpha = 1``): local
    texture statistics are kept, the arrangement inside each window is lost.

    Parameters
    ----------
    images
        (B, 3, H, W) in [0, 1]; cropped with :func:`crop_to_grid` first.
    grid
        Windows per side (a smaller grid is the stronger distortion).
    seed
        Image ``i`` uses noise seeded by ``seed + i``.
    """
    images = crop_to_grid(images, grid)
    module = WindowedTexture(square_windows(*images.shape[-2:], grid)).to(images.device)
    return torch.cat([module(images[i:i + 1], seed=seed + i) for i in range(images.shape[0])])


DISTORTIONS: dict[str, Distortion] = {"shuffle": shuffle, "shuffle_seamless": shuffle_seamless, "rotate": rotate,
                                      "texform": texform}


def distort(name: str, images: torch.Tensor, grid: int, seed: int = 0) -> torch.Tensor:
    """Apply distortion ``name`` (a key of :data:`DISTORTIONS`) at strength ``grid``."""
    if name not in DISTORTIONS:
        raise ValueError(f"unknown distortion {name!r}; available: {sorted(DISTORTIONS)}")
    return DISTORTIONS[name](images, grid, seed)
