"""Exact Kendall tau_a (each vector sorted once, Fenwick count) and the CPU RDM path, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from cogvision.brain import kendall, rsa
from cogvision.brain.kendall import kendall_tau_a
from cogvision.brain.rsa import compare_vectors, compute_rdm


def brute_tau_a(x, y):
    """Kendall tau_a by counting every pair (O(n^2)); ties count 0."""
    sx = np.sign(x[:, None] - x[None])
    sy = np.sign(y[:, None] - y[None])
    n = len(x)
    return (sx * sy)[np.triu_indices(n, 1)].sum() / (n * (n - 1) / 2)


def tie_cases():
    rng = np.random.default_rng(4)
    smooth = rng.normal(size=400)
    coarse = np.round(rng.normal(size=400), 1)  # many ties
    return {
        "no ties": (smooth, smooth + rng.normal(size=400)),
        "ties in both": (coarse, np.round(coarse + rng.normal(size=400), 1)),
        "ties in x only": (coarse, smooth),
        "ties in y only": (smooth, coarse),
        "ties in both, shared": (np.repeat(np.arange(40.0), 10),
                                 np.tile(np.arange(10.0), 40) * np.repeat([1, -1], 200)),
        "x constant": (np.ones(50), rng.normal(size=50)),
        "reversed": (np.arange(30.0), -np.arange(30.0)),
        "two values": (np.array([1.0, 2.0]), np.array([3.0, 3.0])),
        "negative and zeros": (np.array([0.0, -0.0, -1.0, 2.0, -1.0]), np.array([1.0, 1.0, 0.5, -2.0, 0.0])),
    }


@pytest.mark.parametrize("case", list(tie_cases()))
@pytest.mark.parametrize("fenwick", [True, False], ids=["fenwick", "tau_b fallback"])
def test_tau_a_equals_brute_force(case, fenwick, monkeypatch):
    if not fenwick:
        monkeypatch.setattr(kendall, "_kendall_dis", None)
    x, y = tie_cases()[case]
    assert kendall_tau_a(x, y) == pytest.approx(brute_tau_a(x, y), abs=1e-12)
    assert kendall_tau_a(y, x) == pytest.approx(brute_tau_a(x, y), abs=1e-12)


def test_many_against_many_equals_brute_force():
    """Each reference is ranked once and each model vector sorted once; every pair still equals brute force."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=300)
    models = np.stack([np.round(base + k * rng.normal(size=300), 1) for k in range(4)])
    references = np.stack([np.round(base + rng.normal(size=300), d) for d in (0, 1, 8)])
    expected = np.array([[brute_tau_a(m, r) for r in references] for m in models])
    np.testing.assert_allclose(compare_vectors(models, references, "tau_a"), expected, atol=1e-12)


def test_tau_a_at_scale_equals_scipy_without_ties():
    """20,000 values (199,990,000 pairs): tau_a equals scipy's tau_b where there are no ties."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=20_000)
    y = x + 2 * rng.normal(size=20_000)
    assert kendall_tau_a(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_tau_a_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        kendall_tau_a(np.array([1.0, np.nan, 2.0]), np.arange(3.0))


@pytest.mark.parametrize("metric", rsa.METRICS)
def test_cpu_one_block_equals_row_blocks(metric):
    """One block on the CPU (numpy, BLAS syrk) equals row blocks (torch) and is exactly symmetric."""
    x = np.random.default_rng(7).normal(size=(37, 23))
    whole = compute_rdm(x, metric)
    blocks = compute_rdm(x, metric, batch_size=5)
    np.testing.assert_allclose(whole, blocks, atol=1e-12)
    assert np.array_equal(whole, whole.T) and np.all(np.diag(whole) == 0)


def test_rdm_of_tensor_that_requires_grad():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    np.testing.assert_allclose(compute_rdm(x), compute_rdm(x.detach().numpy()), atol=0)


def sort_cases():
    rng = np.random.default_rng(8)
    return {
        "normal": rng.normal(size=3000),
        "ties": np.round(rng.normal(size=3000), 2),
        "signed zeros and tiny values": np.array([0.0, -0.0, 1e-300, -1e-300, 0.0, 5.0, -5.0]),
        # a few neighbours closer than the value bits a key keeps, the larger first: those runs are re-sorted
        "a few near-equal pairs": np.r_[rng.normal(size=3000), [np.nextafter(x, np.inf) for x in (0.3, -0.7, 2.0)],
                                        [0.3, -0.7, 2.0], np.nextafter(0.5, 0.0), 0.5, np.nextafter(0.5, 1.0), 0.5],
        "near-equal negatives": -(1 + rng.integers(0, 300, 4000) * 1e-14),
        # near-equal almost everywhere: more than n / 64 descents, np.argsort instead
        "crowded": 1 + rng.integers(0, 50_000, 60_000) * 1e-13,
        "one value": np.array([2.0]),
    }


@pytest.mark.parametrize("case", list(sort_cases()))
def test_packed_key_sort_is_exact(case):
    values = sort_cases()[case]
    order, ordered = kendall._sort(values)
    assert np.array_equal(np.sort(order), np.arange(len(values)))
    assert np.array_equal(values[order], np.sort(values)) and np.array_equal(ordered, np.sort(values))
