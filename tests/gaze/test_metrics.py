"""Metrics on hand-computed cases, and the analytic baselines on the real GazeFollow test2 annotations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cogvision.gaze.baselines import centre_prior, object_prior, point_gaussians
from cogvision.gaze.losses import focal_bce, gaussian_heatmap, heatmap_loss
from cogvision.gaze.metrics import (
    avg_l2,
    conventions,
    dark_blur,
    dark_kernel_sigma,
    dark_refine,
    gaze_point,
    gazefollow_auc,
    gazefollow_scores,
    inout_ap,
    min_l2,
    multi_hot_map,
    resize_heatmap,
    roc_auc,
    vat_auc,
    vat_region,
    vat_scores,
)

MAP = np.array([[4.0, 3.0], [2.0, 1.0]])


def test_rank_auc_equals_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 6, size=200).astype(float)  # many ties, as with uint8 maps
        target = rng.random(200) < 0.1
        assert roc_auc(target, scores) == pytest.approx(roc_auc_score(target, scores))
    assert np.isnan(roc_auc(np.ones(5, bool), np.arange(5)))


@pytest.mark.parametrize("point, expected", [((0.0, 0.0), 1.0), ((0.75, 0.75), 0.0), ((0.75, 0.25), 2 / 3),
                                             ((0.25, 0.75), 1 / 3)])
def test_gazefollow_auc_by_hand(point, expected):
    # one positive pixel: AUC = fraction of the other pixels scored lower
    assert gazefollow_auc(MAP, [point]) == pytest.approx(expected)


def test_gazefollow_auc_two_annotators_and_padding():
    # positives 4 and 1, negatives 3 and 2: pairs won 2 of 4
    points = [(0.1, 0.1), (0.9, 0.9), (-1, -1)]
    assert gazefollow_auc(MAP, points) == pytest.approx(0.5)


def test_auc_at_image_size_resizes_the_map():
    # [[4, 3], [2, 1]] upsampled bilinearly keeps its corners: the top-left pixel is the unique maximum
    assert gazefollow_auc(MAP, [(0.0, 0.0)], size=(4, 4)) == pytest.approx(1.0)
    assert gazefollow_auc(MAP, [(0.99, 0.99)], size=(4, 4)) == pytest.approx(0.0)
    peaked = gaussian_heatmap(torch.tensor([[0.3, 0.6]]), size=64)[0]
    assert gazefollow_auc(peaked, [(0.3, 0.6)], size=(480, 640)) > 0.999


def test_multi_hot_conventions():
    target = multi_hot_map([(0.99, 0.99), (1.0, 0.0)], (64, 64))
    assert target[63, 63] and target[0, 63] and target.sum() == 2
    target = multi_hot_map([(0.99, 0.99)], (64, 64), scale="size-1")
    assert target[62, 62] and target.sum() == 1


def test_uint8_resize_is_bytescaled_and_quantised():
    out = resize_heatmap(np.array([[0.0, 0.5], [1.0, 2.0]]), (2, 2), "uint8")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 64], [128, 255]])


def test_gaze_point_argmax_and_offsets():
    heatmap = np.zeros((8, 10))
    heatmap[2, 5] = 1
    assert gaze_point(heatmap) == (0.5, 0.25)
    assert gaze_point(heatmap, offset=0.5) == (0.55, 2.5 / 8)
    assert gaze_point(heatmap, offset=1.0) == (0.6, 3 / 8)


def test_dark_recovers_a_sub_pixel_peak():
    x, y = 20.3, 30.7
    heatmap = gaussian_heatmap(torch.tensor([[x / 64, y / 64]]), size=64)[0].numpy()
    col, row = dark_refine(heatmap, kernel=19, sigma=3.0)
    assert abs(col - x) < 0.05 and abs(row - y) < 0.05
    assert gaze_point(heatmap) == (20 / 64, 31 / 64)
    # ViTGaze's default 39-px kernel (sigma 6.2) on a map large enough for it
    x, y = 60.3, 70.7
    heatmap = gaussian_heatmap(torch.tensor([[x / 128, y / 128]]), size=128)[0].numpy()
    col, row = dark_refine(heatmap)
    assert abs(col - x) < 0.02 and abs(row - y) < 0.02


def test_l2_by_hand():
    points = [(0.3, 0.4), (0.0, 0.1), (-1, -1)]
    assert min_l2((0.0, 0.0), points) == pytest.approx(0.1)
    assert avg_l2((0.0, 0.0), points) == pytest.approx(np.hypot(0.15, 0.25))
    with pytest.raises(ValueError, match="no valid gaze point"):
        avg_l2((0, 0), [(-1, -1)])


def test_vat_square_and_disc_regions():
    square = vat_region((0.5, 0.5), 64, 3.0, "square")
    assert square.sum() == 19 * 19 and square[23, 23] and square[41, 41] and not square[42, 42]
    corner = vat_region((0.0, 0.0), 64, 3.0, "square")
    assert corner.sum() == 10 * 10
    disc = vat_region((0.5, 0.5), 64, 3.0, "disc")
    expected = sum(1 for i in range(-10, 11) for j in range(-10, 11) if i * i + j * j <= 90)
    assert disc.sum() == expected and disc[32, 32]
    assert disc[32 + 3, 32 + 9] and disc[32 - 9, 32 + 3]  # d^2 = 90 = 10 sigma^2: ViTGaze keeps the boundary


def test_vat_auc_and_scores():
    region = vat_region((0.25, 0.75), 64, 3.0, "square").astype(float)
    assert vat_auc(region, (0.25, 0.75)) == pytest.approx(1.0)
    assert vat_auc(1 - region, (0.25, 0.75)) == pytest.approx(0.0)
    maps = np.stack([region, region])
    scores = vat_scores(maps, [(0.25, 0.75), (-1, -1)], [1, 0], [0.9, 0.2])
    assert scores["auc"] == pytest.approx(1.0) and scores["ap"] == pytest.approx(1.0)
    # a flat square: the argmax is its top-left pixel (7, 39), 9 pixels from the target in x and y
    assert scores["n_in"] == 1 and scores["l2"] == pytest.approx(np.hypot(9 / 64, 9 / 64))


def test_average_precision_by_hand():
    # ranks: 0.9 (in), 0.8 (out), 0.3 (in), 0.1 (out): AP = (1 + 2/3) / 2
    assert inout_ap([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == pytest.approx(5 / 6)
    assert np.isnan(inout_ap([0, 0], [0.1, 0.2]))


def test_gaussian_target_peak_and_mean_of_annotators():
    maps = gaussian_heatmap(torch.tensor([[0.5, 0.25]]), size=64)
    assert maps.shape == (1, 64, 64) and maps[0, 16, 32] == pytest.approx(1.0)
    two = gaussian_heatmap(torch.tensor([[[0.25, 0.25], [0.75, 0.75], [-1.0, -1.0]]]), size=64)
    assert two[0, 16, 16] == pytest.approx(0.5, abs=1e-6)
    assert gaussian_heatmap(torch.tensor([[-1.0, -1.0]])).abs().sum() == 0


def test_heatmap_loss_ignores_out_of_frame_people():
    target = gaussian_heatmap(torch.tensor([[0.3, 0.3], [0.6, 0.6]]))
    pred = torch.zeros(2, 64, 64)
    a = heatmap_loss(pred, target, torch.tensor([1.0, 0.0]))
    pred[1] = 5.0
    b = heatmap_loss(pred, target, torch.tensor([1.0, 0.0]))
    assert a == b and a == pytest.approx(1e4 * (target[0] ** 2).mean())


def test_focal_bce_reduces_to_bce_and_down_weights_easy_examples():
    logits = torch.tensor([3.0, -2.0, 0.5])
    labels = torch.tensor([1.0, 0.0, 0.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    torch.testing.assert_close(focal_bce(logits, labels, gamma=0.0), bce)
    assert focal_bce(logits, labels, gamma=2.0) < bce


def test_baseline_maps():
    centre = centre_prior(2)
    assert gaze_point(centre[0]) == (0.5, 0.5)
    mean = point_gaussians(torch.tensor([[[0.25, 0.4], [0.5, 0.6], [-1, -1]]]))
    assert gaze_point(mean[0]) == (0.375, 0.5)
    objects = object_prior([np.array([[0.2, 0.2], [0.8, 0.8]])])
    assert objects[0, 13, 13] == pytest.approx(objects[0, 51, 51].item(), abs=1e-2)


def test_gazefollow_scores_table():
    maps = gaussian_heatmap(torch.tensor([[0.25, 0.5], [0.5, 0.5]])).numpy()
    gaze = np.array([[[0.25, 0.5], [-1, -1]], [[0.75, 0.5], [0.25, 0.5]]])
    table = gazefollow_scores(maps, gaze)
    assert list(table.columns) == ["auc", "avg_l2", "min_l2", "pred_x", "pred_y"]
    assert table["avg_l2"].tolist() == pytest.approx([0.0, 0.0])
    assert table["min_l2"].tolist() == pytest.approx([0.0, 0.25])


def test_real_test2_sample_image_scores(shared):
    """The one real test2 image (428 x 640, 10 annotators): a Gaussian at their mean is near-perfect."""
    import json

    meta = json.loads((shared / "data/gaze_following/gazefollow_test2/test2_00000000_00000003.json").read_text())
    points = np.array(meta["gaze_points_norm"])
    heatmap = point_gaussians(torch.tensor(points[None], dtype=torch.float32))[0]
    table = gazefollow_scores(heatmap[None].numpy(), points[None], sizes=[(meta["height"], meta["width"])])
    assert table["avg_l2"].iloc[0] < 1 / 64 * 1.5
    assert table["min_l2"].iloc[0] < table["avg_l2"].iloc[0] + 0.1
    assert 0.8 < table["auc"].iloc[0] < 1.0


def test_reference_uint8_default_ties_the_near_zero_pixels():
    # the region holds 0.001, one pixel outside holds 1, the rest 0. Float: the region beats every
    # negative but the peak, AUC = (n - 1) / n. uint8 (Chong's imresize, the default): 0.001 -> 0 ties
    # with the zeros, AUC = 0.5 (n - 1) / n.
    region = vat_region((0.5, 0.5), 64, 3.0, "square")
    heatmap = np.where(region, 1e-3, 0.0)
    heatmap[0, 0] = 1.0
    n = (~region).sum()
    assert vat_auc(heatmap, (0.5, 0.5), resize="bilinear") == pytest.approx((n - 1) / n)
    assert vat_auc(heatmap, (0.5, 0.5)) == pytest.approx(0.5 * (n - 1) / n)
    # one positive pixel: every other pixel but the peak ties with it
    assert gazefollow_auc(heatmap, [(0.5, 0.5)]) == pytest.approx(0.5 * 4094 / 4095)
    assert conventions()["reference"] == "yes" and conventions(resize="bilinear")["reference"].startswith("no")


def test_dark_blur_is_the_zero_padded_39_tap_gaussian():
    rng = np.random.default_rng(0)
    heatmap = rng.random((50, 60))  # larger than the kernel, so np.convolve "same" keeps the size
    assert dark_kernel_sigma(39) == pytest.approx(6.2)  # OpenCV's default sigma for 39 taps
    taps = np.exp(-np.arange(-19, 20) ** 2 / (2 * 6.2**2))
    taps /= taps.sum()
    expected = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="same"), 1, heatmap)
    expected = np.apply_along_axis(lambda c: np.convolve(c, taps, mode="same"), 0, expected)
    np.testing.assert_allclose(dark_blur(heatmap), expected, rtol=1e-10, atol=1e-12)


def test_dark_acceptance_rule_vitgaze_vs_concave():
    # a peak whose log-Hessian is indefinite (strong diagonal coupling): ViTGaze still takes the Newton
    # step (det != 0); the concave rule keeps the argmax. sigma ~ 0 makes the blur the identity.
    heatmap = np.full((9, 9), 1e-3)
    heatmap[4, 4] = 1.0
    heatmap[5, 5] = heatmap[3, 3] = 0.99
    heatmap[4, 6] = heatmap[4, 2] = heatmap[6, 4] = heatmap[2, 4] = 0.5
    heatmap[4, 5] = 0.6
    assert dark_refine(heatmap, kernel=3, sigma=1e-3, accept="concave") == (4.0, 4.0)
    col, row = dark_refine(heatmap, kernel=3, sigma=1e-3)
    assert (col, row) != (4.0, 4.0)
    with pytest.raises(ValueError, match="kernel"):
        dark_refine(heatmap, kernel=4)
