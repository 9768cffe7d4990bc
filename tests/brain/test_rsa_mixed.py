"""Mixed (reweighted) RSA: splits, non-negative weights, component groups and category readouts, no peeking."""

from __future__ import annotations

import numpy as np
import pytest

from cogvision.brain.rsa import compute_rdm
from cogvision.brain.rsa_mixed import (
    component_group_rdms,
    mixed_rsa,
    mixed_rsa_features,
    mixed_split,
    readout_rdms,
    stimulus_splits,
)


def test_stimulus_splits_are_disjoint_and_repeatable():
    splits = stimulus_splits(40, n_splits=3, test_fraction=0.5, seed=2)
    for train, test in splits:
        assert len(train) == len(test) == 20 and not set(train) & set(test)
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(40))
    again = stimulus_splits(40, n_splits=3, test_fraction=0.5, seed=2)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))
    with pytest.raises(ValueError, match="leaves 1 of 40 stimuli for testing"):
        stimulus_splits(40, test_fraction=0.02)


def test_mixed_split_weights_ignore_test_pairs():
    """The weights come from training pairs only: changing the reference among test stimuli leaves them alone."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8))
    model = np.stack([compute_rdm(x[:, :4]), compute_rdm(x[:, 4:])])
    reference = np.stack([compute_rdm(x[:, :4] + 0.3 * rng.normal(size=(30, 4))) for _ in range(3)])
    train, test = stimulus_splits(30, 1, seed=0)[0]
    first = mixed_split(model, reference, train, test)
    changed = reference.copy()
    ti, tj = np.meshgrid(test, test, indexing="ij")
    changed[:, ti, tj] = rng.random(size=(3, len(test), len(test)))
    second = mixed_split(model, changed, train, test)
    np.testing.assert_array_equal(first["weights"], second["weights"])
    assert first["mixed"] != second["mixed"]
    assert first["weights"][0] > 0 and first["weights"][1] == 0  # the reference is built from the first RDM only


def test_mixed_rsa_recovers_a_mixture():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    ra, rb = compute_rdm(a, "euclidean"), compute_rdm(b, "euclidean")
    reference = np.stack([ra + rb + 0.05 * compute_rdm(rng.normal(size=(40, 5)), "euclidean") for _ in range(2)])
    res = mixed_rsa(np.stack([ra, rb]), reference, "tau_a", n_splits=4, seed=0)
    assert (res["weights"] > 0).all() and (res["mixed"] > res["best_single"]).all()


def test_component_groups_fitted_on_training_stimuli_only():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 50))
    train = np.arange(20)
    groups = component_group_rdms(x, train, (1, 2, 4))
    assert groups.shape == (3, 30, 30)
    moved = x.copy()
    moved[20:] += 5 * rng.normal(size=(10, 50))  # other features for the test stimuli
    ti, tj = np.meshgrid(train, train, indexing="ij")
    np.testing.assert_allclose(component_group_rdms(moved, train, (1, 2, 4))[:, ti, tj], groups[:, ti, tj], atol=1e-12)
    # all 19 components, each RDM times its size, add up to the squared distance of training stimuli
    every = component_group_rdms(x, train, (1, 2, 4, 12))
    total = np.tensordot(np.array([1, 2, 4, 12]), every, 1)[ti, tj]
    np.testing.assert_allclose(total, compute_rdm(x[train], "euclidean") * 50, atol=1e-9)


def test_readouts_use_training_labels_only_and_separate_categories():
    rng = np.random.default_rng(3)
    labels = np.zeros((40, 2), bool)
    labels[rng.permutation(40)[:20], 0] = True
    labels[:, 1] = ~labels[:, 0]
    x = rng.normal(size=(40, 30)) + 2.0 * labels[:, :1]  # category 0 shifts every feature
    train, test = stimulus_splits(40, 1, seed=0)[0]
    rdms = readout_rdms(x, labels, train)
    scrambled = labels.copy()
    scrambled[test] = ~scrambled[test]
    np.testing.assert_array_equal(readout_rdms(x, scrambled, train), rdms)
    # test stimuli of different categories are far apart on the readout, of the same category close
    same = labels[test, 0][:, None] == labels[test, 0][None]
    block = rdms[0][np.ix_(test, test)]
    assert block[~same].mean() > 4 * block[same & ~np.eye(len(test), dtype=bool)].mean()
    with pytest.raises(ValueError, match="expected \\(40, n_labels\\)"):
        readout_rdms(x, labels[:10], train)


def test_component_groups_and_readouts_help_where_they_should():
    """A reference made of one weak principal dimension plus a category: the richer candidates do better."""
    rng = np.random.default_rng(4)
    n = 60
    labels = np.zeros((n, 1), bool)
    labels[rng.permutation(n)[:30]] = True
    strong = rng.normal(size=(n, 5)) * 3.0  # dominates the layer RDM but not the brain
    weak = rng.normal(size=(n, 1))
    x = np.column_stack([strong, weak, 1.5 * labels])
    brain = compute_rdm(np.column_stack([weak, 1.5 * labels]), "euclidean")
    reference = np.stack([brain + 0.2 * compute_rdm(rng.normal(size=(n, 3)), "euclidean") for _ in range(3)])
    layers = mixed_rsa(compute_rdm(x)[None], reference, n_splits=3, seed=0)["mixed"].mean()
    components = mixed_rsa_features([x], reference, groups=(1,) * 7, n_splits=3, seed=0)
    readouts = mixed_rsa_features([x], reference, groups=None, labels=labels, n_splits=3, seed=0)
    assert components["mixed"].mean() > layers + 0.05 and readouts["mixed"].mean() > layers + 0.05
    assert (components["n_rdms"] == 8).all() and (readouts["n_rdms"] == 2).all()
