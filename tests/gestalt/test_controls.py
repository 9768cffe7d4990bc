"""The DiSRT controls: a layout-keeping nuisance matched in pixel MSE, the two nulls, degenerate cells, trials."""

import json

import numpy as np
import pytest
import torch

from cogvision.gestalt import (
    NULL_PIXEL,
    NULL_STRUCTURE_BLIND,
    PIXELS,
    DisrtProtocol,
    band_noise,
    crop_to_grid,
    degenerate_cells,
    distort,
    local,
    matched_nuisance,
    pixel_mse,
    run_disrt,
    summary,
)
from cogvision.gestalt.report import save_results
from cogvision.models import load_model


@pytest.fixture(scope="module")
def photos():
    from data_loaders.images import builtin_images

    return builtin_images(["astronaut", "chelsea", "coffee", "rocket", "camera", "grace_hopper"], size=64)


def test_band_noise_has_unit_rms_and_no_power_outside_its_band():
    field = band_noise((48, 56), seed=3, band=(6.0, 12.0)).double()
    assert float(field.square().mean()) == pytest.approx(1.0, rel=1e-5)
    power = torch.fft.fft2(field).abs().square()
    fy = torch.fft.fftfreq(48, dtype=torch.float64)[:, None] * 48
    fx = torch.fft.fftfreq(56, dtype=torch.float64)[None, :] * 56
    radius = torch.sqrt(fy**2 + fx**2)
    outside = (radius < 6) | (radius > 12)
    assert float(power[outside].sum()) < 1e-9 * float(power.sum())
    assert torch.equal(field, band_noise((48, 56), seed=3, band=(6.0, 12.0)))  # seeded
    assert not torch.equal(field, band_noise((48, 56), seed=4, band=(6.0, 12.0)))


def test_local_nuisance_moves_nothing_further_than_two_percent(photos):
    x = photos[0][:3]
    assert torch.allclose(local(x, torch.zeros(3)), x, atol=1e-5)
    # magnitude 1: shift of 2% of the side (1.28 px at 64) and a colour change of 0.05, no noise
    y = local(x, torch.ones(3), seed=2)
    crop = crop_to_grid(x, 2)
    assert bool((pixel_mse(y, x) < 0.5 * pixel_mse(distort("shuffle", crop, 2, 0), crop)).all())
    # with noise, coarse layout is untouched: the blurred nuisance stays close to the blurred image, while
    # a shuffle of the same pixel MSE does not
    crop = crop_to_grid(x, 2)
    shuffled = distort("shuffle", crop, 2, 0)
    nuis, _, mse = matched_nuisance("local", crop, pixel_mse(shuffled, crop), 0)
    assert torch.allclose(mse, pixel_mse(shuffled, crop).double(), rtol=2e-3)
    blur = torch.nn.AvgPool2d(8)
    assert bool((pixel_mse(blur(nuis), blur(crop)) < 0.25 * pixel_mse(blur(shuffled), blur(crop))).all())


@pytest.mark.parametrize("dist", ["shuffle", "rotate", "shuffle_seamless"])
def test_local_nuisance_reaches_the_distortion_mse_on_real_photographs(photos, dist):
    x = photos[0]
    for grid in (2, 4, 8):
        crop = crop_to_grid(x, grid)
        target = pixel_mse(distort(dist, crop, grid, 1), crop)
        _, _, mse = matched_nuisance("local", crop, target, 1)
        assert bool(((mse / target - 1).abs() <= 0.05).all()), (dist, grid, (mse / target).tolist())


def test_validation_rows_sit_at_their_nulls(photos):
    control = load_model("cogvision.models.builtin:permutation_invariant", device="cpu")
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=(2, 4), trials=2, n_boot=100)
    ds = run_disrt(control, photos[0], protocol, layers=["relu"])
    info = summary(ds)
    assert info["nuisance_matched_fraction"] == 1.0 and info["excluded_cells"] == []
    # a bag of local features cannot see a shuffle or a patch rotation: exactly the structure-blind null
    assert info["score"] == NULL_STRUCTURE_BLIND and info["score_high"] == NULL_STRUCTURE_BLIND
    assert info["index"] == pytest.approx(NULL_STRUCTURE_BLIND, abs=1e-6)
    # the pixel observer ties the matched nuisance and distortion: exactly 1/2, accuracy and index
    assert info["pixel_score"] == NULL_PIXEL and info["pixel_index"] == NULL_PIXEL
    assert info["null_structure_blind"] == 0.0 and info["null_pixel"] == 0.5


def test_pixel_observer_sees_an_unmatched_nuisance(photos):
    tiny = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
    protocol = DisrtProtocol(distortions=("shuffle",), grids=(2,), match=False, trials=1, n_boot=20)
    ds = run_disrt(tiny, photos[0], protocol, layers=["features.3"])
    assert float(ds["accuracy"].sel(layer=PIXELS).item()) == 1.0  # a tiny nuisance gives the distortion away


def test_trials_draw_new_distortions_and_are_averaged_per_image(photos):
    tiny = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
    ds = run_disrt(tiny, photos[0][:3], DisrtProtocol(distortions=("shuffle",), grids=(4,), trials=3, n_boot=50),
                   layers=["features.3"])
    s_id = ds["s_id"].sel(layer="features.3", k=1.0, distortion="shuffle", strength=4).values  # (image, trial)
    assert not np.allclose(s_id[:, 0], s_id[:, 1]) and not np.allclose(s_id[:, 1], s_id[:, 2])
    per_image = ds["correct"].sel(layer="features.3", k=1.0).mean("trial")
    assert float(ds["accuracy"].sel(layer="features.3", k=1.0).item()) == pytest.approx(float(per_image.mean()))
    assert int(ds["n_trials"].max()) == 9
    with pytest.raises(ValueError, match="trials"):
        DisrtProtocol(trials=0)


def test_degenerate_cells_are_left_out_and_named(photos, tmp_path):
    tiny = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
    # the old half-image shift cannot reach a 2x2 shuffle's MSE on most photographs; texforms are always out
    ds = run_disrt(tiny, photos[0], DisrtProtocol(distortions=("shuffle", "texform"), grids=(2,), nuisance="shift",
                                                  trials=1, n_boot=50), layers=["features.3"])
    excluded = {(c["distortion"], c["strength"]): c["reason"] for c in degenerate_cells(ds)}
    assert "local statistics" in excluded[("texform", 2)]
    info = summary(ds)
    if ("shuffle", 2) in excluded:
        assert "matched on" in excluded[("shuffle", 2)] and info["all_cells_degenerate"]
        assert info["score"] == pytest.approx(info["score_all_cells"])
    else:
        kept = ds["correct"].sel(layer="features.3", k=1.0, distortion="shuffle", strength=2).mean()
        assert info["score"] == pytest.approx(float(kept))
    (tmp_path / "run").mkdir()
    written = save_results(ds, tmp_path / "run", command="cogvision disrt ...")
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("nuisance_matched_fraction", "index", "index_low", "index_high", "null_structure_blind"):
        assert on_disk[key] == pytest.approx(written[key])
    assert "texform 2x2 (changes local statistics" in (tmp_path / "run" / "report.md").read_text()


def test_local_search_variants_equal_the_nuisance_at_their_magnitudes():
    """The search's shortcut above magnitude 1 (shift and colour computed once) gives the nuisance itself."""
    from cogvision.gestalt.nuisance import local, matched_nuisance, pixel_mse

    gen = torch.Generator().manual_seed(3)
    images = torch.rand(3, 3, 48, 48, generator=gen)
    shuffled = images.flip(-1).flip(-2)
    variants, magnitude, mse = matched_nuisance("local", images, pixel_mse(shuffled, images), seed=7)
    assert (magnitude > 1).any()
    torch.testing.assert_close(variants, local(images, magnitude, seed=7), rtol=0, atol=1e-6)
    torch.testing.assert_close(mse, pixel_mse(variants, images).double(), rtol=1e-9, atol=1e-12)
