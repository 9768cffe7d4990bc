"""Foveation geometry, the four systems and compression matching."""

from __future__ import annotations

import math

import pytest
import torch

from cogvision.foveation import (
    FoveatedBlur,
    FoveatedTexture,
    Reference,
    UniformBlur,
    eccentricity_map,
    pixels_per_degree,
    pooling_windows,
)
from cogvision.foveation.adain import adain_decoder, load_adain_pair, vgg19_relu4_1_encoder
from cogvision.foveation.matching import match_compression, ssim


@pytest.mark.parametrize("scaling", [0.25, 0.4, 0.5])
def test_windows_tile_the_field_outside_the_fovea(scaling):
    win = pooling_windows(72, 96, scaling, fixation=(30.0, 40.0))
    assert win.weights.min() >= 0
    assert torch.allclose(win.weights.sum(0), torch.ones(72, 96), atol=1e-5)
    ecc, _ = eccentricity_map(72, 96, (30.0, 40.0))
    outside = ecc > win.fovea_deg * math.exp(2 * math.asinh(scaling / 2))
    assert torch.allclose(win.weights[1:].sum(0)[outside], torch.ones(int(outside.sum())), atol=1e-5)
    assert torch.all(win.weights[0][ecc < win.fovea_deg] == 1)
    assert win.alpha[0] == 0 and (win.alpha[1:] > 0).all()


def test_windows_grow_with_eccentricity_and_are_cached():
    win = pooling_windows(128, 128, 0.4)
    assert torch.all(torch.diff(win.radius_deg[1:]) >= 0)
    # window size / eccentricity is the scaling (half-maximum radius of a square-ish window ~ 0.56 s e)
    ratio = win.radius_deg[1:] / win.centre_deg[1:]
    assert torch.allclose(ratio, ratio[0]) and 0.2 < float(ratio[0]) < 0.3
    assert pooling_windows(128, 128, 0.4) is win
    assert pooling_windows(128, 128, 0.25).n_windows > win.n_windows > pooling_windows(128, 128, 0.5).n_windows


def test_geometry_numbers():
    assert pixels_per_degree(512, 26.0) == pytest.approx(512 / 26)
    ecc, angle = eccentricity_map(9, 11, (10.0, 4.0))
    assert ecc[4, 10] == 0 and ecc[4, 0] == pytest.approx(10 / (11 / 26))
    assert angle[0, 10] == pytest.approx(torch.pi / 2)  # straight up from the fixation


@pytest.mark.parametrize("kwargs, match", [
    ({"scaling": 0.0}, "scaling"), ({"scaling": -1.0}, "scaling"),
    ({"scaling": 0.4, "fixation": (200.0, 5.0)}, "outside"),
])
def test_bad_geometry_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pooling_windows(64, 64, **kwargs)


def test_texture_keeps_the_fovea_and_changes_the_periphery():
    images = torch.rand(2, 3, 128, 128)
    system = FoveatedTexture(0.4, fixation=(40.0, 70.0))
    out = system(images)
    ecc, _ = eccentricity_map(128, 128, (40.0, 70.0))
    fovea, periphery = ecc < system.fovea_deg * 0.9, ecc > 6
    assert torch.allclose(out[..., fovea], images[..., fovea], atol=1e-6)
    assert (out[..., periphery] - images[..., periphery]).abs().mean() > 0.1
    assert torch.equal(out, system(images))  # seeded


def test_texture_seed_none_draws_fresh_noise_and_gradients_flow():
    images = torch.rand(1, 3, 64, 64, requires_grad=True)
    system = FoveatedTexture(0.5, seed=None)
    a, b = system(images), system(images)
    assert not torch.equal(a, b)
    a.mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_texture_rejects_bad_inputs():
    with pytest.raises(ValueError, match="scaling"):
        FoveatedTexture(0.0)
    with pytest.raises(ValueError, match="outside"):
        FoveatedTexture(0.4, fixation=(-3.0, 10.0))(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="shape"):
        FoveatedTexture(0.4)(torch.rand(64, 64))
    with pytest.raises(ValueError, match="both"):
        FoveatedTexture(0.4, encoder=vgg19_relu4_1_encoder())


def test_faithful_encoder_decoder_from_local_files(tmp_path):
    torch.manual_seed(0)
    encoder, decoder = vgg19_relu4_1_encoder(), adain_decoder()
    torch.save(encoder.state_dict(), tmp_path / "vgg.pth")
    torch.save(decoder.state_dict(), tmp_path / "decoder.pth")
    enc, dec = load_adain_pair(tmp_path / "vgg.pth", tmp_path / "decoder.pth")
    images = torch.rand(1, 3, 64, 64)
    out = FoveatedTexture(0.4, encoder=enc, decoder=dec)(images)
    assert out.shape == images.shape and torch.isfinite(out).all()
    assert Reference(enc, dec)(images).shape == images.shape
    with pytest.raises(FileNotFoundError):
        load_adain_pair(tmp_path / "missing.pth", tmp_path / "decoder.pth")
    with pytest.raises(ValueError, match="decoder"):
        load_adain_pair(tmp_path / "vgg.pth", tmp_path / "vgg.pth")


def test_blur_width_grows_with_eccentricity():
    system = FoveatedBlur(0.1, fixation=(20.0, 30.0))
    sigma = system.sigma_map(64, 80)
    ecc, _ = eccentricity_map(64, 80, (20.0, 30.0))
    order = ecc.flatten().argsort()
    assert torch.all(torch.diff(sigma.flatten()[order]) >= -1e-5)
    assert sigma[ecc < 1].max() == 0 and sigma.max() > 2
    # measured: high-frequency energy drops more in the periphery than near the fixation
    noise = torch.rand(1, 1, 64, 80)
    out = system(noise)
    near, far = ecc < 1, ecc > 8
    assert torch.allclose(out[..., near], noise[..., near], atol=1e-5)
    assert out[..., far].std() < 0.5 * noise[..., far].std()


def test_uniform_blur_and_reference():
    images = torch.rand(2, 3, 32, 32)
    assert torch.equal(Reference()(images), images)
    assert torch.equal(UniformBlur(0.0)(images), images)
    assert UniformBlur(1.0)(images).std() < images.std()
    with pytest.raises(ValueError, match="sigma_deg"):
        UniformBlur(-1.0)


def test_ssim_known_cases():
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    assert ssim(x, 1 - x).max() < 0


def test_compression_matching_reaches_target():
    images = torch.rand(2, 3, 64, 64) * 0.5 + torch.linspace(0, 0.5, 64)  # textured everywhere
    texture = FoveatedTexture(0.25, fovea_deg=2.0)
    result = match_compression(images, texture)
    means = result.table.groupby("system")["ssim"].mean()
    assert abs(means["uniform"] - result.target_ssim) < 0.01
    assert abs(means["foveated_blur"] - result.target_ssim) < 0.01
    assert result.uniform_sigma_deg > 0 and result.foveated_slope > 0
    assert set(result.table.columns) == {"image", "system", "ssim"}
