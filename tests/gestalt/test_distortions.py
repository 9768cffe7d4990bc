"""Distortions keep local content and pixel statistics, move every patch, crop sizes the grid does not divide."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cogvision.gestalt.distortions import (
    _blend_permuted,
    crop_to_grid,
    derangement,
    distort,
    from_patches,
    rotate,
    shuffle,
    shuffle_seamless,
    to_patches,
)


def _images(b=2, h=48, w=48, seed=0):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _patch_keys(images, grid):
    patches = to_patches(images, grid).flatten(2)  # (B, g*g, C*ph*pw)
    return [sorted(tuple(p.tolist()) for p in item) for item in patches]


@settings(max_examples=15, deadline=None)
@given(grid=st.integers(2, 6), side=st.integers(12, 40), seed=st.integers(0, 1000))
def test_shuffle_keeps_the_multiset_of_patches_and_moves_every_patch(grid, side, seed):
    x = _images(1, side, side, seed)
    y = shuffle(x, grid, seed)
    cropped = crop_to_grid(x, grid)
    assert y.shape == cropped.shape
    assert _patch_keys(y, grid) == _patch_keys(cropped, grid)
    assert torch.equal(y.flatten().sort().values, cropped.flatten().sort().values)  # pixel statistics
    moved = (to_patches(y, grid) != to_patches(cropped, grid)).flatten(2).any(-1)
    assert bool(moved.all())


@settings(max_examples=15, deadline=None)
@given(grid=st.integers(2, 6), side=st.integers(12, 40), seed=st.integers(0, 1000))
def test_rotate_keeps_pixels_and_turns_every_patch_in_place(grid, side, seed):
    x = crop_to_grid(_images(1, side, side, seed), grid)
    y = rotate(x, grid, seed)
    assert torch.equal(y.flatten().sort().values, x.flatten().sort().values)
    for p_in, p_out in zip(to_patches(x, grid)[0], to_patches(y, grid)[0]):
        turned = [torch.rot90(p_in, k, dims=(-2, -1)) for k in (1, 2, 3)]
        assert any(torch.equal(p_out, t) for t in turned)


def test_sizes_that_the_grid_does_not_divide_are_centre_cropped():
    x = _images(2, 50, 47)
    y = crop_to_grid(x, 4)
    assert y.shape[-2:] == (48, 44)
    assert torch.equal(y, x[..., 1:49, 1:45])
    assert shuffle(x, 4).shape[-2:] == (48, 44)
    with pytest.raises(ValueError, match="square patches"):
        rotate(x, 4)


def test_bad_grids_and_shapes_raise():
    with pytest.raises(ValueError, match="too small"):
        shuffle(_images(1, 8, 8), 10)
    with pytest.raises(ValueError, match="positive integer"):
        shuffle(_images(), 0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        shuffle(torch.rand(3, 8, 8), 2)
    with pytest.raises(ValueError, match="unknown distortion"):
        distort("scramble", _images(), 2)


def test_seamless_shuffle_blends_only_near_the_seams():
    x = _images(2, 64, 64)
    plain, smooth = shuffle(x, 4, 3), shuffle_seamless(x, 4, 3, seam=0.125)  # margin m = 2 px
    inner = lambda t: to_patches(t, 4)[..., 2:-2, 2:-2]  # noqa: E731
    assert torch.allclose(inner(plain), inner(smooth), atol=1e-6)  # same permutation, same interiors
    assert not torch.allclose(plain, smooth)
    identity = torch.arange(16).expand(2, 16)
    assert torch.allclose(_blend_permuted(x, 4, identity, 0.125), x, atol=1e-6)


def test_seamless_shuffle_removes_the_edges_at_patch_borders():
    # a smooth ramp image: a plain shuffle creates jumps at the borders, the blended one much smaller ones
    ramp = torch.linspace(0, 1, 64)
    x = (ramp[None, :] * ramp[:, None]).expand(1, 3, 64, 64).contiguous()
    jump = lambda t: (t[..., :, 16] - t[..., :, 15]).abs().mean()  # noqa: E731
    assert jump(shuffle_seamless(x, 4, 1, seam=0.25)) < 0.5 * jump(shuffle(x, 4, 1))


def test_same_seed_same_result_and_batching_does_not_matter():
    x = _images(4)
    assert torch.equal(shuffle(x, 3, 5), shuffle(x, 3, 5))
    assert not torch.equal(shuffle(x, 3, 5), shuffle(x, 3, 6))
    whole = rotate(x, 4, 7)
    assert torch.equal(torch.cat([rotate(x[:2], 4, 7), rotate(x[2:], 4, 9)]), whole)


def test_derangement_has_no_fixed_point():
    g = torch.Generator().manual_seed(0)
    for n in (2, 4, 9, 64):
        perm = derangement(n, g)
        assert sorted(perm.tolist()) == list(range(n))
        assert not bool((perm == torch.arange(n)).any())


def test_patches_round_trip():
    x = _images(2, 24, 36)
    assert torch.equal(from_patches(to_patches(x, 3), 3), x)


def test_square_windows_are_a_smooth_partition_of_unity():
    from cogvision.gestalt.distortions import square_windows

    w = square_windows(40, 48, 4)
    assert w.shape == (16, 40, 48) and float(w.min()) >= 0
    assert torch.allclose(w.sum(0), torch.ones(40, 48), atol=1e-5)
    assert float(w[5, 15, 18]) == pytest.approx(1.0)  # flat inside its cell (rows 10-20, columns 12-24)
    assert 0 < float(w[5, 10, 18]) < 1  # cross-fades at the cell border
    assert float(w[5, 0, 0]) == 0.0 and float(w[5, 39, 47]) == 0.0  # and vanishes far away


def test_texform_keeps_window_statistics_and_destroys_layout():
    from cogvision.gestalt.distortions import square_windows, texform
    from data_loaders.images import builtin_images

    x, _ = builtin_images(["astronaut", "coffee"], size=64)
    y = texform(x, 4, seed=0)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert torch.equal(texform(x[1:], 4, seed=1), y[1:])  # image i uses seed + i
    w = square_windows(64, 64, 4)
    mean = lambda t: torch.einsum("bchw,khw->bkc", t, w) / w.sum((1, 2))[None, :, None]  # noqa: E731
    assert float(torch.corrcoef(torch.stack([mean(x).flatten(), mean(y).flatten()]))[0, 1]) > 0.8
    assert float((x - y).abs().mean()) > 0.1  # the pixels themselves are new
