"""Nuisances, matching, pooling, similarities, the odd-one-out rule and the graded index."""

import pytest
import torch

from cogvision.gestalt.nuisance import apply_nuisance, color, fixed_nuisance, matched_nuisance, pixel_mse, shift
from cogvision.gestalt.readout import graded_index, oddity, pool, similarity


def _images(b=3, side=48, seed=0):
    return torch.rand(b, 3, side, side, generator=torch.Generator().manual_seed(seed))


def test_zero_magnitude_nuisances_return_the_image():
    x = _images()
    assert torch.allclose(shift(x, torch.zeros(3)), x, atol=1e-5)  # affine_grid rounding
    assert torch.allclose(color(x, torch.zeros(3)), x, atol=1e-6)


def test_integer_shift_moves_content():
    x = _images(1)
    y = shift(x, torch.tensor([4.0]), seed=0)
    # find the integer displacement that best explains y inside the valid region
    errors = {(dy, dx): (y[..., 8:40, 8:40] - x[..., 8 - dy:40 - dy, 8 - dx:40 - dx]).abs().mean().item()
              for dy in range(-5, 6) for dx in range(-5, 6)}
    best = min(errors, key=errors.get)
    assert 3 <= (best[0] ** 2 + best[1] ** 2) ** 0.5 <= 5


@pytest.mark.parametrize("name", ["shift", "color"])
def test_matched_nuisance_reaches_the_target_mse(name):
    x = torch.nn.functional.interpolate(_images(3, 16), size=48, mode="bilinear")  # smooth images
    target = torch.tensor([0.002, 0.005, 0.01], dtype=torch.float64)
    variants, magnitude, mse = matched_nuisance(name, x, target, seed=1)
    assert torch.allclose(mse, pixel_mse(variants, x))
    assert torch.allclose(mse, target, rtol=1e-2)
    assert bool((magnitude > 0).all())


def test_unreachable_target_uses_the_largest_magnitude_and_reports_the_shortfall():
    x = _images(1)
    variants, magnitude, mse = matched_nuisance("shift", x, torch.tensor([10.0]))
    assert magnitude.item() == 24.0 and mse.item() < 10.0


def test_fixed_nuisance_and_bad_names():
    x = _images()
    _, magnitude, _ = fixed_nuisance("shift", x)
    assert torch.allclose(magnitude, torch.full((3,), 0.02 * 48, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown nuisance"):
        apply_nuisance("blur", x, torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        fixed_nuisance("shift", x, -1.0)


def test_pooling_shapes_and_errors():
    conv = torch.randn(2, 5, 4, 6)
    assert pool(conv, "mean").shape == (2, 5) and pool(conv, "flat").shape == (2, 120)
    tokens = torch.randn(2, 1 + 12, 7)
    assert torch.equal(pool(tokens, "cls", 1, True), tokens[:, 0].double())
    assert torch.allclose(pool(tokens, "mean", 1, True), tokens[:, 1:].double().mean(1))
    assert pool(tokens, "flat", 1, True).shape == (2, 12 * 7)
    with pytest.raises(ValueError, match="conv map"):
        pool(conv, "cls", layer="features.1")
    with pytest.raises(ValueError, match="no class token"):
        pool(tokens, "cls", 0, False)
    with pytest.raises(ValueError, match="pooling must be"):
        pool(conv, "max")


def test_similarities():
    a, b = torch.tensor([[1.0, 0.0], [1.0, 2.0]]), torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    assert torch.allclose(similarity(a, b), torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(similarity(a, b, "euclidean"), -torch.tensor([2 ** 0.5, 5 ** 0.5], dtype=torch.float64))
    assert torch.allclose(similarity(a, b, "correlation"), torch.tensor([-1.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="similarity must be"):
        similarity(a, b, "dot")


def test_oddity_rule_and_ties():
    s = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    # image-nuisance close, distortion far from both: the distortion is odd
    choice, credit = oddity(s(0.9), s(0.2), s(0.3))
    assert choice.item() == 2 and credit.item() == 1.0
    # image and distortion identical (a blind observer): the nuisance is odd, no credit
    choice, credit = oddity(s(0.5), s(1.0), s(0.5))
    assert choice.item() == 1 and credit.item() == 0.0
    # three identical items: a three-way tie scores 1/3; nuisance and distortion tied: 1/2
    assert oddity(s(1.0), s(1.0), s(1.0))[1].item() == pytest.approx(1 / 3)
    assert oddity(s(0.6), s(0.6), s(0.2))[1].item() == pytest.approx(1 / 2)


def test_graded_index():
    s = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    assert graded_index(s(0.8, 1.0, 1.0), s(0.8, 0.6, 1.0)).tolist() == pytest.approx([0.5, 1.0, 0.5])
    assert graded_index(s(-1.0), s(-3.0), "euclidean").item() == pytest.approx(0.75)


@pytest.mark.parametrize("metric", ["cosine", "correlation", "euclidean"])
def test_triplet_similarity_equals_three_pairwise_calls(metric):
    from cogvision.gestalt.readout import triplet_similarity

    g = torch.Generator().manual_seed(1)
    a, b, c = (torch.randn(4, 50, generator=g) for _ in range(3))
    c[0] = 0  # a zero vector has similarity 1 by convention in both paths
    got = triplet_similarity(a, b, c, metric)
    want = (similarity(a, b, metric), similarity(a, c, metric), similarity(b, c, metric))
    for x, y in zip(got, want):
        assert torch.allclose(x, y, atol=1e-12)


@pytest.mark.parametrize("name", ["shift", "color"])
def test_matching_several_targets_at_once_equals_matching_each_alone(name):
    x = torch.nn.functional.interpolate(_images(4, 12, seed=2), size=48, mode="bilinear")
    targets = torch.tensor([[0.001, 0.004, 0.02, 9.0],  # the last is out of reach
                            [0.003, 0.0, 0.01, 0.006]], dtype=torch.float64)  # a zero target: magnitude ~0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the per-image MSE sums in the same order for any batch
    try:
        for max_iterations in (1, 40):
            together = matched_nuisance(name, x, targets, seed=3, max_iterations=max_iterations)
            assert [tuple(r.shape) for r in together] == [(2, 4, 3, 48, 48), (2, 4), (2, 4)]
            for k in range(2):
                alone = matched_nuisance(name, x, targets[k], seed=3, max_iterations=max_iterations)
                for a, b in zip(alone, together):
                    assert torch.equal(a, b[k])
    finally:
        torch.set_num_threads(threads)
    variants, magnitude, mse = together
    assert torch.allclose(mse, pixel_mse(variants.flatten(0, 1), x.repeat(2, 1, 1, 1)).view(2, 4))
    assert magnitude[0, 3] == (24.0 if name == "shift" else 1.0) and magnitude[1, 1] < 1e-3


def test_matching_rejects_targets_of_the_wrong_shape():
    with pytest.raises(ValueError, match="target_mse must be"):
        matched_nuisance("shift", _images(3), torch.full((2,), 0.01))
