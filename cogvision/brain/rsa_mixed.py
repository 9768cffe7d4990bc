"""Reweighted ("mixed") RSA: model RDMs combined with non-negative weights fitted on training stimuli.

As Khaligh-Razavi & Kriegeskorte (2014) did with AlexNet: candidate RDMs (whole layers, principal-component
groups within a layer, cross-fitted category readouts) are weighted by non-negative least squares on the pairs of
training stimuli only, and the weighted RDM is compared with the reference on the pairs of held-out stimuli.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls

from cogvision.brain.rsa import compare_vectors, compute_rdm, noise_ceiling


def stimulus_splits(n: int, n_splits: int = 20, test_fraction: float = 0.5,
                    seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random splits of ``n`` stimuli into (train, test) index arrays (sorted), the same for the same seed.

    Raises
    ------
    ValueError
        When the test or the training part would hold fewer than 3 stimuli.
    """
    n_test = int(round(test_fraction * n))
    if not 3 <= n_test <= n - 3:
        raise ValueError(f"test_fraction {test_fraction} leaves {n_test} of {n} stimuli for testing; need 3..n-3")
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(n_splits):
        order = rng.permutation(n)
        splits.append((np.sort(order[n_test:]), np.sort(order[:n_test])))
    return splits


def _pairs(stimuli: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) indices of the pairs among ``stimuli`` (upper triangle)."""
    a, b = np.triu_indices(len(stimuli), 1)
    return stimuli[a], stimuli[b]


def mixed_split(model: np.ndarray, reference: np.ndarray, train: np.ndarray, test: np.ndarray,
                method: str = "tau_a") -> dict:
    """Fit non-negative weights of ``model`` RDMs on the training pairs; score the weighted RDM on the test pairs.

    Parameters
    ----------
    model : ndarray of shape (k, n, n)
    reference : ndarray of shape (n_subjects, n, n)
    train, test : ndarray of int
        Disjoint stimulus indices; only pairs within each part are used.
    method : {"tau_a", "spearman", "pearson"}

    Returns
    -------
    dict
        ``mixed`` (test score of the weighted RDM, mean over subjects), ``best_single`` (test score of the
        single RDM best on the training pairs), ``ceiling_low``, ``ceiling_high`` (of the test pairs; NaN
        with one subject) and ``weights`` (k,). The weights (plus a free-sign intercept) are the non-negative
        least squares fit of the mean reference RDM on the training pairs (Khaligh-Razavi & Kriegeskorte 2014).
    """
    tri, trj = _pairs(train)
    tei, tej = _pairs(test)
    target = reference[:, tri, trj].mean(0)
    design = np.column_stack([model[:, tri, trj].T, np.ones(len(target)), -np.ones(len(target))])
    weights = nnls(design, target)[0][:len(model)]
    ref_test = reference[:, tei, tej]
    single = compare_vectors(model[:, tri, trj], reference[:, tri, trj], method).mean(1).argmax()
    low, high = noise_ceiling(ref_test, method) if len(reference) >= 2 else (np.nan, np.nan)
    return {"mixed": compare_vectors((weights @ model[:, tei, tej])[None], ref_test, method).mean(),
            "best_single": compare_vectors(model[single:single + 1, tei, tej], ref_test, method).mean(),
            "ceiling_low": low, "ceiling_high": high, "weights": weights}


def _check_mixed(model: np.ndarray, reference: np.ndarray) -> np.ndarray:
    reference = reference[None] if reference.ndim == 2 else reference
    if model.ndim != 3 or model.shape[1:] != reference.shape[1:]:
        raise ValueError(f"model RDMs {model.shape} and reference RDMs {reference.shape} must be (k, n, n) of the "
                         "same n")
    return reference


def _stack_splits(results: list[dict]) -> dict[str, np.ndarray]:
    return {key: np.array([r[key] for r in results]) for key in results[0]}


def mixed_rsa(model_rdms, reference, method: str = "tau_a", n_splits: int = 20, test_fraction: float = 0.5,
              seed: int = 0) -> dict[str, np.ndarray]:
    """Reweighted ("mixed") RSA: non-negative weights of several RDMs fitted on some stimuli, tested on the rest.

    For each random split of the stimuli (:func:`stimulus_splits`), :func:`mixed_split` fits the weights on
    the pairs among training stimuli and compares the weighted RDM with each subject's RDM on the pairs among
    test stimuli, beside the noise ceiling of those pairs and the best single RDM chosen on the training pairs.

    Parameters
    ----------
    model_rdms : array-like of shape (n_rdms, n, n)
        E.g. one RDM per layer.
    reference : array-like of shape (n_subjects, n, n)
    method : {"tau_a", "spearman", "pearson"}
    n_splits, test_fraction, seed
        Random stimulus splits.

    Returns
    -------
    dict of str to ndarray
        ``mixed``, ``best_single``, ``ceiling_low``, ``ceiling_high`` (n_splits,) test scores and ``weights``
        (n_splits, n_rdms).
    """
    model = np.asarray(model_rdms, dtype=np.float64)
    reference = _check_mixed(model, np.asarray(reference, dtype=np.float64))
    return _stack_splits([mixed_split(model, reference, train, test, method)
                          for train, test in stimulus_splits(model.shape[1], n_splits, test_fraction, seed)])


def _components(x: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal axes of the rows ``fit`` of ``x`` (n, p): their mean (p,) and the axes (rank, p)."""
    mean = x[fit].mean(0)
    _, singular, vt = np.linalg.svd(x[fit] - mean, full_matrices=False)
    return mean, vt[:int((singular > singular[0] * 1e-10).sum())]


def component_group_rdms(features, train: np.ndarray, groups: Sequence[int] = (1,) * 16) -> np.ndarray:
    """RDMs of groups of principal components of one layer's features, the components fitted on ``train`` only.

    The features of the training stimuli are centred on their mean and decomposed (SVD); every stimulus
    is projected on the leading components, and each group of consecutive components gives one
    squared-Euclidean RDM (:func:`compute_rdm` ``"euclidean"``). The sum of all groups' RDMs, each times its
    group size, is the squared Euclidean distance of the features within the training stimuli's span, so
    non-negative weights of the groups reweight the layer's principal dimensions (a feature reweighting
    within a layer, Khaligh-Razavi & Kriegeskorte 2014) without looking at the test stimuli's features.

    Parameters
    ----------
    features : array-like of shape (n_stimuli, ...)
    train : ndarray of int
        Stimuli the components are fitted on.
    groups : sequence of int
        Sizes of consecutive component groups, from the first component; groups past the available
        components (``len(train) - 1`` at most) are cut short or dropped.

    Returns
    -------
    ndarray of shape (n_groups, n_stimuli, n_stimuli)
    """
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(train) < 3 or any(g < 1 for g in groups):
        raise ValueError(f"need >= 3 training stimuli and group sizes >= 1, got {len(train)} and {list(groups)}")
    mean, axes = _components(x, train)
    scores = (x - mean) @ axes.T
    edges = np.minimum(np.cumsum([0, *groups]), len(axes))
    return np.stack([compute_rdm(scores[:, a:b], "euclidean") for a, b in zip(edges[:-1], edges[1:]) if b > a])


def readout_rdms(features, labels, train: np.ndarray, n_components: int = 16, alpha: float = 1.0,
                 inner_folds: int = 5, seed: int = 0) -> np.ndarray:
    """RDMs of linear category readouts of one layer's features, trained on the labels of ``train`` only.

    For each label column, a ridge regression of the (centred) 0/1 label on the standardised scores of the
    first ``n_components`` principal components of the features (components, standardisation and weights
    fitted on the stimuli it is trained on; penalty ``alpha`` times their number) gives a decision value per
    stimulus, and the RDM is the squared difference of decision values (Khaligh-Razavi & Kriegeskorte 2014's
    category-supervised dimensions). Stimuli outside ``train`` get the values of the readout trained on all
    of ``train``; each training stimulus gets the value of a readout trained without it (``inner_folds``
    cross-fitting), so weights later fitted on training pairs see out-of-sample readouts, as the test
    stimuli will. Labels of stimuli outside ``train`` are never read.

    Parameters
    ----------
    features : array-like of shape (n_stimuli, ...)
    labels : array-like of shape (n_stimuli, n_labels)
        0/1 (or bool) category memberships.
    train : ndarray of int
    n_components, alpha, inner_folds, seed
        Readout size, ridge penalty and the cross-fitting folds of the training stimuli.

    Returns
    -------
    ndarray of shape (n_kept, n_stimuli, n_stimuli)
        One RDM per label with at least 3 members and 3 non-members among the training stimuli.
    """
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or len(labels) != len(x):
        raise ValueError(f"labels have shape {labels.shape}; expected ({len(x)}, n_labels) for {len(x)} stimuli")
    if not 2 <= inner_folds <= len(train) // 3:
        raise ValueError(f"inner_folds must be in 2..{len(train) // 3} for {len(train)} training stimuli, "
                         f"got {inner_folds}")
    members = labels[train].sum(0)
    keep = np.flatnonzero((members >= 3) & (len(train) - members >= 3))
    if not len(keep):
        raise ValueError("no label has >= 3 members and >= 3 non-members among the training stimuli")

    def decisions(fit: np.ndarray, apply: np.ndarray) -> np.ndarray:
        mean, axes = _components(x, fit)
        axes = axes[:n_components]
        scores = (x[fit] - mean) @ axes.T
        scale = scores.std(0)
        a = scores / scale
        y = labels[np.ix_(fit, keep)]
        w = np.linalg.solve(a.T @ a + alpha * len(fit) * np.eye(len(axes)), a.T @ (y - y.mean(0)))
        return ((x[apply] - mean) @ axes.T / scale) @ w

    values = np.empty((len(x), len(keep)))
    rest = np.setdiff1d(np.arange(len(x)), train)
    if len(rest):
        values[rest] = decisions(train, rest)
    for fold in np.array_split(np.random.default_rng(seed).permutation(train), inner_folds):
        values[fold] = decisions(np.setdiff1d(train, fold), fold)
    return np.stack([compute_rdm(values[:, k:k + 1], "euclidean") for k in range(len(keep))])


def mixed_rsa_features(layer_features: Sequence, reference, method: str = "tau_a",
                       groups: Sequence[int] | None = (1,) * 16, labels=None, metric: str = "correlation",
                       n_splits: int = 20, test_fraction: float = 0.5, seed: int = 0) -> dict[str, np.ndarray]:
    """Mixed RSA over layers and, within each layer, principal-component groups and category readouts.

    In every split (the same splits as :func:`mixed_rsa` for the same ``seed``, ``n_splits`` and
    ``test_fraction``), the candidate RDMs of each layer are its whole RDM (``metric``), the RDMs of its
    component groups fitted on the training stimuli (:func:`component_group_rdms`, unless ``groups`` is None)
    and, with ``labels``, the RDMs of its category readouts trained on the training stimuli's labels
    (:func:`readout_rdms`); :func:`mixed_split` then fits their non-negative weights on the training pairs
    and scores the weighted RDM on the test pairs. Nothing of the test stimuli but their features enters.

    Parameters
    ----------
    layer_features : sequence of array-like, each of shape (n_stimuli, ...)
        One array of features per layer, same stimuli.
    reference : array-like of shape (n_subjects, n, n)
    method : {"tau_a", "spearman", "pearson"}
    groups : sequence of int or None
        Component group sizes (:func:`component_group_rdms`); None: no component RDMs.
    labels : array-like of shape (n_stimuli, n_labels), optional
        Category memberships for readouts; None: no readout RDMs.
    metric : {"correlation", "cosine", "euclidean"}
        Distance of the whole-layer RDMs.
    n_splits, test_fraction, seed
        Random stimulus splits (``seed`` also seeds the readouts' cross-fitting).

    Returns
    -------
    dict of str to ndarray
        ``mixed``, ``best_single``, ``ceiling_low``, ``ceiling_high`` (n_splits,) as :func:`mixed_rsa`, and
        ``n_rdms`` (n_splits,) and ``nonzero_weights`` (n_splits,): the candidate RDMs and those weighted.
    """
    if not len(layer_features):
        raise ValueError("layer_features must hold at least one layer's features")
    whole = np.stack([compute_rdm(f, metric) for f in layer_features])
    reference = _check_mixed(whole, np.asarray(reference, dtype=np.float64))
    results = []
    for train, test in stimulus_splits(whole.shape[1], n_splits, test_fraction, seed):
        rdms = [whole]
        for f in layer_features:
            if groups is not None:
                rdms.append(component_group_rdms(f, train, groups))
            if labels is not None:
                rdms.append(readout_rdms(f, labels, train, seed=seed))
        result = mixed_split(np.concatenate(rdms), reference, train, test, method)
        weights = result.pop("weights")
        results.append({**result, "n_rdms": len(weights), "nonzero_weights": int((weights > 0).sum())})
    return _stack_splits(results)
