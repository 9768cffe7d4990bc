"""Steerable pyramid and windowed AdaIN texture synthesis."""

from __future__ import annotations

import pytest
import torch

from cogvision.texture import SteerablePyramid, WindowedTexture, synthesize, to_opponent


@pytest.mark.parametrize("orientations", [1, 2, 4, 6])
def test_pyramid_inverts_exactly_on_unequal_sides(orientations):
    pyr = SteerablePyramid(n_scales=3, n_orientations=orientations)
    x = torch.rand(2, 3, 48, 72)
    coeffs = pyr(x)
    assert [tuple(c.shape[-3:]) for c in coeffs] == [(orientations, 48, 72), (orientations, 24, 36),
                                                    (orientations, 12, 18), (1, 6, 9)]
    assert torch.allclose(pyr.inverse(coeffs), x, atol=1e-5)


def test_pyramid_bands_are_oriented():
    # a vertical grating (varies along x) lands in the band tuned to horizontal frequencies (band 0)
    x = torch.sin(torch.arange(64.0) * 2 * torch.pi / 6).expand(1, 1, 64, 64).contiguous()
    energy = (SteerablePyramid(2, 4)(x)[0] ** 2).sum(dim=(0, 1, 3, 4))
    assert energy.argmax() == 0 and energy[0] > 20 * energy[2]


def test_pyramid_rejects_sizes_it_cannot_halve():
    with pytest.raises(ValueError, match="divisible by 8"):
        SteerablePyramid(n_scales=3)(torch.rand(1, 3, 36, 36))


def _hard_windows(size: int) -> torch.Tensor:
    quarter = torch.zeros(4, size, size)
    half = size // 2
    quarter[0, :half, :half] = quarter[1, :half, half:] = quarter[2, half:, :half] = quarter[3, half:, half:] = 1
    return quarter


def test_adain_matches_each_window_statistics_in_feature_space():
    torch.manual_seed(1)
    images = torch.rand(2, 3, 64, 64)
    module = WindowedTexture(_hard_windows(64), 1.0, pyramid=SteerablePyramid(2, 4), noise_floor=0.0)
    image = module.pyramid(to_opponent(images))[0]  # finest scale: (2, 3, 4, 64, 64)
    noise = module.pyramid(torch.randn(2, 3, 64, 64))[0]
    mixed = module.mix(image, noise)
    for region in (slice(0, 32), slice(32, 64)):
        a, b = image[..., region, :32], mixed[..., region, :32]
        assert torch.allclose(a.mean(dim=(-1, -2)), b.mean(dim=(-1, -2)), atol=1e-4)
        assert torch.allclose(a.std(dim=(-1, -2)), b.std(dim=(-1, -2)), rtol=1e-3, atol=1e-6)
    # ... and the texture is not the image
    assert (mixed - image).abs().mean() > 0.3 * image.abs().mean()


def test_alpha_zero_is_identity_and_alpha_one_changes_the_image():
    images = torch.rand(1, 3, 32, 32)
    windows = _hard_windows(32)
    assert torch.allclose(synthesize(images, windows, alpha=0.0), images, atol=1e-5)
    per_pixel = torch.zeros(32, 32)
    per_pixel[:, 16:] = 1.0
    out = synthesize(images, windows, alpha=per_pixel, seed=3)
    assert (out[..., 16:] - images[..., 16:]).abs().mean() > 0.05


def test_seed_reproducible_and_gradients_flow():
    images = torch.rand(1, 3, 32, 32, requires_grad=True)
    windows = _hard_windows(32)
    out = synthesize(images, windows, seed=5)
    assert torch.equal(out, synthesize(images, windows, seed=5))
    assert not torch.equal(out, synthesize(images, windows, seed=6))
    out.sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_coarse_windows_and_pooled_statistics_keep_the_image_range():
    images = torch.rand(2, 3, 64, 64)
    coarse = _hard_windows(16)  # windows on a 16 x 16 grid for 64 px images
    out = WindowedTexture(coarse, torch.tensor([0.0, 1.0, 1.0, 1.0]), stat_size=16)(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("bad, match", [
    (torch.rand(3, 32, 32), "shape"),
    (torch.randint(0, 255, (1, 3, 32, 32)), "float"),
    (torch.rand(1, 3, 32, 32) * 5, r"\[0, 1\]"),
    (torch.rand(1, 4, 32, 32), "shape"),
])
def test_bad_images_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        synthesize(bad, _hard_windows(32))


def test_bad_windows_and_alpha_raise():
    with pytest.raises(ValueError, match="sum to 1"):
        synthesize(torch.rand(1, 3, 32, 32), _hard_windows(32) * 0.5)
    with pytest.raises(ValueError, match="alpha"):
        synthesize(torch.rand(1, 3, 32, 32), _hard_windows(32), alpha=torch.ones(7))
    with pytest.raises(ValueError, match="power of two"):
        synthesize(torch.rand(1, 3, 48, 48), _hard_windows(32))


@pytest.mark.parametrize("orientations", [3, 4])
def test_pyramid_bands_are_the_masked_spectrum(orientations):
    # the forward pass computes two bands per complex FFT: each must still be irfft2(mask * spectrum)
    pyr = SteerablePyramid(n_scales=2, n_orientations=orientations)
    x = torch.rand(2, 3, 32, 48)
    masks = pyr._levels(32, 48, x.device)[0]["band"]
    expected = torch.fft.irfft2(torch.fft.rfft2(x)[:, :, None] * masks, s=(32, 48))
    assert torch.allclose(pyr(x)[0], expected, atol=1e-6)


@pytest.mark.parametrize("factor", [2, 4])
def test_upsampling_and_block_moments_match_torch(factor):
    from cogvision.texture.synthesis import _block_moments, _upsample

    maps = torch.randn(5, 6, 7)
    expected = torch.nn.functional.interpolate(maps[None], scale_factor=factor, mode="bilinear", align_corners=False)
    assert torch.allclose(_upsample(maps, factor), expected[0], atol=1e-6)
    big = torch.randn(5, 6 * factor, 7 * factor)
    first, second = _block_moments(big, factor)
    assert torch.allclose(first, torch.nn.functional.avg_pool2d(big, factor), atol=1e-6)
    assert torch.allclose(second, torch.nn.functional.avg_pool2d(big**2, factor), atol=1e-5)


def test_batch_chunks_give_the_whole_batch_result(monkeypatch):
    from cogvision.texture import synthesis

    images = torch.rand(5, 3, 64, 64)
    module = WindowedTexture(_hard_windows(16), 1.0, stat_size=16)
    whole = module(images, seed=2)
    monkeypatch.setattr(synthesis, "_CHUNK_COEFFICIENTS", 1)  # the smallest chunks: two images
    assert len(module._chunks(images)) == 3
    assert torch.allclose(module(images, seed=2), whole, atol=1e-6)
