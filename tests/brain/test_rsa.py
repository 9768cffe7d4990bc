"""RSA against rsatoolbox and scipy on shared inputs, analytic cases, and the real 92-image RDMs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from cogvision.brain.kendall import kendall_tau_a
from cogvision.brain.rsa import bootstrap_compare, compare_rdms, compute_rdm, noise_ceiling, upper

rsatoolbox = pytest.importorskip("rsatoolbox")


def brute_tau_a(x, y):
    """Kendall tau_a by counting every pair (O(n^2))."""
    sx = np.sign(x[:, None] - x[None])
    sy = np.sign(y[:, None] - y[None])
    n = len(x)
    return (sx * sy)[np.triu_indices(n, 1)].sum() / (n * (n - 1) / 2)


@pytest.fixture
def patterns():
    rng = np.random.default_rng(0)
    return rng.normal(size=(23, 31)), rng.normal(size=(23, 17))  # 23 stimuli, unequal feature counts


@pytest.mark.parametrize("metric, scipy_metric, scale", [("correlation", "correlation", 1), ("cosine", "cosine", 1),
                                                         ("euclidean", "sqeuclidean", 31)])
def test_rdm_equals_scipy(patterns, metric, scipy_metric, scale):
    x, _ = patterns
    np.testing.assert_allclose(compute_rdm(x, metric, batch_size=5), squareform(pdist(x, scipy_metric)) / scale,
                               atol=1e-12)


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_rdm_equals_rsatoolbox(patterns, metric):
    x, _ = patterns
    ref = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method=metric).get_matrices()[0]
    np.testing.assert_allclose(compute_rdm(x, metric), ref, atol=1e-12)


def test_tau_a_brute_force_with_ties():
    rng = np.random.default_rng(1)
    x, y = np.round(rng.normal(size=300), 1), np.round(rng.normal(size=300), 1)  # many ties
    assert kendall_tau_a(x, y) == pytest.approx(brute_tau_a(x, y), abs=1e-12)
    assert kendall_tau_a(np.ones(5), np.arange(5.0)) == 0.0
    assert kendall_tau_a(np.arange(5.0), np.arange(5.0)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method, rsa_method", [("tau_a", "tau-a"), ("spearman", "spearman"), ("pearson", "corr")])
def test_compare_equals_rsatoolbox(patterns, method, rsa_method):
    x, y = patterns
    a, b = compute_rdm(x), compute_rdm(y)
    ref = rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(upper(a)[None]), rsatoolbox.rdm.RDMs(upper(b)[None]), rsa_method)
    assert compare_rdms(a, b, method)[0, 0] == pytest.approx(ref[0, 0], abs=1e-9)


def test_tau_a_equals_scipy_tau_b_without_ties(patterns):
    a, b = (upper(compute_rdm(p)) for p in patterns)
    assert len(np.unique(a)) == len(a)
    assert kendall_tau_a(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)


@pytest.mark.parametrize("method, rsa_method", [("tau_a", "tau-a"), ("spearman", "spearman"), ("pearson", "corr")])
def test_noise_ceiling_equals_rsatoolbox(patterns, method, rsa_method):
    from rsatoolbox.inference import boot_noise_ceiling

    x, _ = patterns
    rng = np.random.default_rng(2)
    subjects = np.stack([compute_rdm(x + rng.normal(size=x.shape)) for _ in range(4)])
    with pytest.warns(UserWarning) if method == "tau_a" else _nothing():
        ref = boot_noise_ceiling(rsatoolbox.rdm.RDMs(upper(subjects)), method=rsa_method)
    np.testing.assert_allclose(noise_ceiling(subjects, method), ref, atol=1e-9)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_bootstrap_interval_covers_and_shrinks(patterns):
    x, _ = patterns
    rng = np.random.default_rng(3)
    model = compute_rdm(x)[None]
    subjects = np.stack([compute_rdm(x + 2 * rng.normal(size=x.shape)) for _ in range(3)])
    boot = bootstrap_compare(model, subjects, "tau_a", n_boot=100, seed=0)
    point = compare_rdms(model, subjects, "tau_a").mean()
    low, high = np.percentile(boot["score"][:, 0], [2.5, 97.5])
    assert low < point < high
    assert np.all(boot["ceiling_low"] <= boot["ceiling_high"] + 1e-12)


def test_bad_rdm_sizes():
    with pytest.raises(ValueError, match="same stimuli"):
        compare_rdms(compute_rdm(np.random.default_rng(0).normal(size=(5, 3))),
                     compute_rdm(np.random.default_rng(0).normal(size=(6, 3))))
    with pytest.raises(ValueError, match="must be of the same stimuli"):
        bootstrap_compare(np.zeros((1, 5, 5)), np.zeros((2, 6, 6)), n_boot=2)
    with pytest.raises(ValueError, match="constant"):
        compute_rdm(np.ones((4, 3)), "correlation")
    with pytest.raises(ValueError, match="NaN"):
        compute_rdm(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_92_images_ceiling_band(shared):
    from data_loaders.kriegeskorte92 import load_92images, reference_rdms

    ds = load_92images(shared / "data/fmri/kriegeskorte2008_92images")
    assert ds["images"].shape[:1] == (92,) and ds["human_it"].shape == (4, 2, 92, 92)
    refs = reference_rdms(ds)
    low, high = noise_ceiling(refs["human_it"], "tau_a")
    assert 0 < low < high < 1
    # human IT agrees with monkey IT better than chance (Kriegeskorte et al. 2008)
    assert compare_rdms(refs["monkey_it"], refs["human_it"], "tau_a").mean() > 0.05
