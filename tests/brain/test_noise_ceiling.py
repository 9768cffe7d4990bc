"""Noise ceilings and r^2_ER on simulated neurons whose true values are known, and on the real V4 repeats."""

from __future__ import annotations

import numpy as np
import pytest

from cogvision.brain.metrics import r2_er, split_half_reliability, trial_variance


def simulate(n_stim=400, n_neurons=300, n_rep=6, signal=1.0, noise=2.0, r_true=0.6, unequal=False, seed=0):
    """Neurons with expected response mu, a prediction x with corr(x, mu) = r_true (in expectation)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n_stim, n_neurons)) * np.sqrt(signal)
    x = r_true * mu / np.sqrt(signal) + np.sqrt(1 - r_true ** 2) * rng.normal(size=mu.shape)
    reps = mu[None] + rng.normal(size=(n_rep, n_stim, n_neurons)) * np.sqrt(noise)
    if unequal:  # 2..n_rep repeats per stimulus, NaN-padded
        counts = rng.integers(2, n_rep + 1, size=(n_stim, n_neurons))
        reps[np.arange(n_rep)[:, None, None] >= counts[None]] = np.nan
    return mu, x, reps


def paper_r2_er(x, y):
    """Pospisil & Bair (2021) r^2_ER for equal repeats, written from the paper's formula (y: n_rep x n_stim)."""
    n, m = y.shape
    sigma2 = np.mean(np.var(y, axis=0, ddof=1))
    xc = x - x.mean()
    ym = y.mean(0) - y.mean()
    num = np.sum(xc * ym) ** 2 - sigma2 / n * np.sum(xc ** 2)
    den = np.sum(xc ** 2) * (np.sum(ym ** 2) - (m - 1) * sigma2 / n)
    return num / den


def test_r2_er_matches_paper_formula_equal_repeats():
    _, x, reps = simulate(n_stim=50, n_neurons=7, n_rep=5)
    ours = r2_er(x, reps)
    ref = np.array([paper_r2_er(x[:, k], reps[:, :, k]) for k in range(x.shape[1])])
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("unequal", [False, True])
def test_r2_er_unbiased_where_raw_r2_is_not(unequal):
    mu, x, reps = simulate(unequal=unequal)
    true_r2 = np.array([np.corrcoef(x[:, k], mu[:, k])[0, 1] ** 2 for k in range(x.shape[1])])
    est = r2_er(x, reps)
    raw = np.array([np.corrcoef(x[:, k], np.nanmean(reps[:, :, k], 0))[0, 1] ** 2 for k in range(x.shape[1])])
    # averaged over 300 neurons the estimator is within 0.01 of the truth; the raw r^2 is far below it
    assert abs(est.mean() - true_r2.mean()) < 0.01
    assert raw.mean() < true_r2.mean() - 0.05


def test_trial_variance_pooled():
    _, _, reps = simulate(n_stim=300, n_neurons=20, noise=2.0, unequal=True)
    sigma2, n = trial_variance(reps)
    assert abs(sigma2.mean() - 2.0) < 0.05  # 20 neurons x ~750 degrees of freedom each
    assert np.all(np.abs(sigma2 - 2.0) < 0.4)
    assert n.min() >= 2


def test_split_half_spearman_brown_recovers_reliability():
    signal, noise, n_rep = 1.0, 3.0, 6
    _, _, reps = simulate(n_stim=2000, n_neurons=30, n_rep=n_rep, signal=signal, noise=noise)
    truth = signal / (signal + noise / n_rep)  # reliability of the 6-repeat mean
    est = split_half_reliability(reps, n_splits=10)
    assert abs(est.mean() - truth) < 0.02


def test_noise_functions_reject_bad_repeats():
    with pytest.raises(ValueError, match="n_repeats >= 2"):
        r2_er(np.zeros((5, 2)), np.zeros((1, 5, 2)))
    reps = np.random.default_rng(0).normal(size=(3, 5, 2))
    reps[1:, 2, 0] = np.nan
    with pytest.raises(ValueError, match="stimulus 2 of target 0 has 1 repeat"):
        split_half_reliability(reps)
    with pytest.raises(ValueError, match="prediction has shape"):
        r2_er(np.zeros((4, 2)), np.random.default_rng(0).normal(size=(3, 5, 2)))


def test_real_v4_repeats_ceiling(shared):
    from data_loaders.cowley_v4 import load_v4_session, repeats_array

    ds = load_v4_session("201016", root=shared / "data/neural/cowley2023_v4", images=False)
    reps = repeats_array(ds)
    assert reps.shape == (10, 600, 82)
    rel = split_half_reliability(reps, n_splits=5)
    assert 0.5 < np.median(rel) < 0.95
    # the mean of 2 repeats as a "model" of the other repeats (independent noise): r^2_ER corrects the
    # raw r^2 upwards, towards the reliability of a 2-repeat mean (below the 5-10-repeat reliability)
    assert np.isfinite(reps[:5]).all()
    pred = reps[:2].mean(0)
    rest = reps[2:]
    corrected = r2_er(pred, rest)
    raw = np.array([np.corrcoef(pred[:, k], np.nanmean(rest[:, :, k], 0))[0, 1] ** 2 for k in range(82)])
    assert np.median(corrected) > np.median(raw) + 0.05
    assert np.median(corrected) < np.median(rel)
