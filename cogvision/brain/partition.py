"""Variance partitioning: how much held-out variance each band of features explains uniquely, and jointly.

Models are fitted on subsets of the bands (each a :class:`~cogvision.brain.banded.BandedRidgeCV` with
its own cross-validated band weights and penalty per target) and scored by the held-out R^2 of their
out-of-fold predictions (outer cross-validation; the hyperparameters are chosen by an inner
cross-validation on each outer training set). With ``R2(S)`` the held-out R^2 of the model on the bands
in ``S`` and ``A`` all bands (the joint model):

- ``unique[b] = R2(A) - R2(A without b)``: variance that only band ``b`` explains;
- ``shared = R2(A) - sum_b unique[b]``: variance that more than one band explains. For two bands this is
  the classic ``R2(a) + R2(b) - R2(a, b)``.

Pairs of bands (three or more bands)
------------------------------------
In the Venn diagram of the bands, the variance that bands ``b`` and ``c`` explain and no other band does
(the region of exactly ``{b, c}``) is

- ``pair_shared[b, c] = R2(A without b) + R2(A without c) - R2(A without b and c) - R2(A)``

(``R2(A without b)`` misses the regions inside ``{b}``, ``R2(A without b and c)`` those inside ``{b, c}``;
the difference leaves the ``{b, c}`` region). The rest of ``shared`` is explained by three or more bands:

- ``shared_higher = shared - sum_{b<c} pair_shared[b, c]``.

For three bands ``a, b, c`` the model without two bands is the third band alone, so no extra model is
fitted: ``pair_shared[a, b] = R2(a, c) + R2(b, c) - R2(c) - R2(a, b, c)`` and ``shared_higher`` is the
inclusion-exclusion ``R2(a) + R2(b) + R2(c) - R2(a, b) - R2(a, c) - R2(b, c) + R2(a, b, c)``. With four
or more bands it needs the ``k (k - 1) / 2`` models without each pair (``pairs=True``).

Negative estimates
------------------
With finite data these set-theoretic estimates can be negative: a held-out R^2 is below 0 when a model
predicts worse than the mean, and ``R2(A)`` can fall below ``R2(A without b)`` when the extra band adds
more estimation noise than signal (or the joint model's hyperparameter search is noisier). A negative
unique or shared variance has no meaning as a size. ``correction="clip"`` (default) applies the
usual corrections (e.g. Lescroart et al. 2015; de Heer et al. 2017 discuss the bias): (1) each model's
R^2 is clipped at 0 before the set arithmetic (a model worse than the mean explains nothing); (2) each
``unique`` and the ``shared`` estimate is clipped at 0; likewise each ``pair_shared`` (from the clipped
model R^2), and ``shared_higher`` is computed from the clipped ``shared`` and pair terms, then clipped at 0.
After (2) the parts may no longer sum to ``R2(A)`` (nor the pair and higher terms to ``shared``); the
numbers of clipped values are kept in the attributes ``n_clipped_unique``, ``n_clipped_shared``,
``n_clipped_pair`` and ``n_clipped_higher``. ``correction="none"`` returns the raw estimates, which
add up exactly.

Example
-------
>>> import numpy as np
>>> from cogvision.brain.partition import variance_partition
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(120, 4)); Y = X @ rng.normal(size=(4, 3)) + rng.normal(size=(120, 3))
>>> ds = variance_partition(X, Y, [[0, 1], [2, 3]], cv=3, n_iter=3, inner_cv=3, device="cpu")
>>> ds["unique"].dims, ds["shared"].dims
(('band', 'target'), ('target',))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

from cogvision.brain.banded import BandedRidgeCV, check_inputs
from cogvision.brain.metrics import r2_per_target
from cogvision.brain.ridge import DEFAULT_ALPHAS, make_splits

CORRECTIONS = ("clip", "none")


def model_subsets(n_bands: int, pairs: bool = False) -> dict[str, list[int]]:
    """The band subsets a partition needs: ``joint`` (all bands), ``single/b`` and, for three or more
    bands, ``without/b`` (all bands but ``b``; with two bands it is the other band's ``single``). With
    ``pairs`` and four or more bands, also ``without/b-c`` (all bands but ``b`` and ``c``, for the
    pair-specific shared variance; with three bands it is the third band's ``single``)."""
    subsets = {"joint": list(range(n_bands))}
    subsets.update({f"single/{b}": [b] for b in range(n_bands)})
    if n_bands > 2:
        subsets.update({f"without/{b}": [c for c in range(n_bands) if c != b] for b in range(n_bands)})
    if pairs and n_bands > 3:
        subsets.update({f"without/{b}-{c}": [d for d in range(n_bands) if d not in (b, c)]
                        for b in range(n_bands) for c in range(b + 1, n_bands)})
    return subsets


def _without_pair(r2: dict[str, np.ndarray], b: int, c: int, k: int) -> np.ndarray | None:
    """Held-out R^2 of the model on all bands but ``b`` and ``c`` (``None`` when it was not fitted)."""
    if k == 3:
        return np.asarray(r2[f"single/{3 - b - c}"], dtype=np.float64)
    return None if f"without/{b}-{c}" not in r2 else np.asarray(r2[f"without/{b}-{c}"], dtype=np.float64)


def subset_predictions(X: np.ndarray, Y: np.ndarray, bands: list[np.ndarray], train: np.ndarray,
                       test: np.ndarray, groups=None, **params) -> BandedRidgeCV:
    """A :class:`BandedRidgeCV` fitted on the rows ``train`` and the columns of ``bands`` only, and its
    predictions (n_test, n_targets) of the rows ``test``; ``params`` go to the estimator."""
    cols = np.concatenate(bands)
    local = np.split(np.arange(len(cols)), np.cumsum([len(b) for b in bands])[:-1])
    model = BandedRidgeCV(bands=local, **params)
    model.fit(X[train][:, cols], Y[train], groups=None if groups is None else np.asarray(groups)[train])
    return model, model.predict(X[test][:, cols]).reshape(len(test), -1)


def partition_r2(r2: dict[str, np.ndarray], band_names: Sequence[str], correction: str = "clip",
                 pairs: bool = True) -> xr.Dataset:
    """Unique and shared variance from the held-out R^2 (n_targets,) of each model of :func:`model_subsets`.

    Parameters
    ----------
    r2 : dict of str to ndarray of shape (n_targets,)
        Held-out R^2 of each model, keyed as in :func:`model_subsets`.
    band_names : sequence of str
        One name per band.
    correction : {"clip", "none"}
        Correction of negative estimates.
    pairs : bool
        Add the pair-specific terms when the models they need are in ``r2``.

    Returns
    -------
    xarray.Dataset
        See :func:`variance_partition`; ``pair_shared`` (pair, target), ``without_pair`` (pair, target)
        and ``shared_higher`` (target) only with three or more bands, when the models without each pair
        are known (always with three bands; ``without/b-c`` entries of ``r2`` with more).

    See the module description for the definitions and the corrections of negative estimates.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    k = len(band_names)
    clip = (lambda a: np.maximum(a, 0)) if correction == "clip" else (lambda a: a)
    raw_joint = joint = np.asarray(r2["joint"], dtype=np.float64)
    single = np.stack([r2[f"single/{b}"] for b in range(k)])
    without = single[::-1].copy() if k == 2 else np.stack([r2[f"without/{b}"] for b in range(k)])
    joint, single, without = (clip(a) for a in (joint, single, without))
    unique = joint[None] - without
    n_clipped_unique = int((unique < 0).sum())
    unique = clip(unique)
    shared = joint - unique.sum(0)
    n_clipped_shared = int((shared < 0).sum())
    shared = clip(shared)
    data = {"unique": (("band", "target"), unique), "shared": ("target", shared), "joint": ("target", joint),
            "single": (("band", "target"), single), "without": (("band", "target"), without),
            "joint_raw": ("target", raw_joint)}
    names = [str(n) for n in band_names]
    coords = {"band": names, "target": np.arange(len(joint))}
    attrs = {"correction": correction, "n_clipped_unique": n_clipped_unique, "n_clipped_shared": n_clipped_shared,
             "description": "held-out R^2 from out-of-fold predictions; unique = R2(all) - R2(all but band), "
                            "shared = R2(all) - sum of unique"}
    with_pairs, pairs = pairs, [(b, c) for b in range(k) for c in range(b + 1, k)]
    pair_r2 = [_without_pair(r2, b, c, k) for b, c in pairs] if k > 2 and with_pairs else [None]
    if all(r is not None for r in pair_r2):
        without_pair = clip(np.stack(pair_r2))
        pair_shared = np.stack([without[b] + without[c] - without_pair[i] - joint for i, (b, c) in enumerate(pairs)])
        attrs["n_clipped_pair"] = int((pair_shared < 0).sum())
        pair_shared = clip(pair_shared)
        higher = shared - pair_shared.sum(0)
        attrs["n_clipped_higher"] = int((higher < 0).sum())
        data.update({"pair_shared": (("pair", "target"), pair_shared), "shared_higher": ("target", clip(higher)),
                     "without_pair": (("pair", "target"), without_pair)})
        coords["pair"] = [f"{names[b]}&{names[c]}" for b, c in pairs]
        attrs["description"] += ("; pair_shared[b&c] = R2(all but b) + R2(all but c) - R2(all but b, c) - R2(all), "
                                 "shared_higher = shared - sum of pair_shared")
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _check_partition(X, Y, bands, band_names, correction: str, pairs) -> tuple:
    """Checked inputs of :func:`variance_partition`: X, Y (2-D float64), band columns and band names."""
    if not (isinstance(pairs, bool) or pairs == "auto"):
        raise ValueError(f"pairs must be 'auto', True or False, got {pairs!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    X, Y, band_cols = check_inputs(X, Y, bands)
    Y = Y.reshape(len(Y), -1).astype(np.float64)
    k = len(band_cols)
    if k < 2:
        raise ValueError(f"bands must hold at least two bands to partition variance, got {k}")
    names = [f"band{b}" for b in range(k)] if band_names is None else [str(n) for n in band_names]
    if len(names) != k:
        raise ValueError(f"band_names has {len(names)} names for {k} bands")
    return X, Y, band_cols, names


def variance_partition(
    X,
    Y,
    bands,
    cv=5,
    *,
    band_names: Sequence[str] | None = None,
    groups=None,
    alphas=DEFAULT_ALPHAS,
    n_iter: int = 20,
    inner_cv=5,
    correction: str = "clip",
    pairs: bool | str = "auto",
    refine: int = 0,
    device: str = "auto",
    random_state=0,
) -> xr.Dataset:
    """Unique and shared held-out variance (R^2) of each band of features, per target.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples, n_targets)
    bands : list of column-index lists
        As for :class:`~cogvision.brain.banded.BandedRidgeCV`; at least two bands.
    cv : int, "logo", splitter or iterable of (train, test)
        Outer cross-validation that gives the held-out predictions (see
        :func:`~cogvision.brain.ridge.make_splits`).
    band_names : sequence of str, optional
        Names of the bands (default ``band0``, ``band1``...).
    groups : array-like of shape (n_samples,), optional
        Group of each sample (run, session), for both the outer and the inner CV.
    alphas, n_iter, refine, random_state, device
        Passed to each :class:`~cogvision.brain.banded.BandedRidgeCV`.
    inner_cv : int, "logo" or splitter
        CV inside each outer training set that chooses band weights and penalties.
    correction : {"clip", "none"}
        Correction of negative estimates (see the module description).
    pairs : {"auto", True, False}
        Pair-specific shared variance with three or more bands. ``"auto"``: when it needs no extra model
        (three bands); ``True``: also with four or more bands, fitting the ``k (k - 1) / 2`` models without
        each pair; ``False``: never.

    Returns
    -------
    xarray.Dataset
        ``unique`` (band, target), ``shared`` (target), ``joint`` (target: R^2 of the model on all bands),
        ``single`` (band, target: R^2 of the model on that band alone) and ``without`` (band, target:
        R^2 of the model on all bands but that one). With pairs (see ``pairs``): ``pair_shared`` (pair,
        target: explained by exactly those two bands), ``shared_higher`` (target: by three or more) and
        ``without_pair`` (pair, target: R^2 of the model without both); the ``pair`` labels are
        ``"name_b&name_c"``. All held-out R^2; the attributes record the correction and how many values
        it clipped.

    Raises
    ------
    ValueError
        For bad bands, inputs (see :func:`~cogvision.brain.banded.check_inputs`), fewer than two bands,
        an unknown correction or ``pairs``, or band names of the wrong length.
    """
    X, Y, band_cols, names = _check_partition(X, Y, bands, band_names, correction, pairs)
    k = len(band_cols)
    splits = make_splits(X.shape[0], cv, groups)
    params = dict(alphas=alphas, n_iter=n_iter, cv=inner_cv, device=device, random_state=random_state,
                  refine=refine)

    subsets = model_subsets(k, pairs=pairs is True)
    predictions = {name: np.zeros_like(Y) for name in subsets}
    for train, test in splits:
        for name, subset in subsets.items():
            _, predictions[name][test] = subset_predictions(X, Y, [band_cols[b] for b in subset], train, test,
                                                            groups, **params)
    r2 = {name: r2_per_target(Y, pred) for name, pred in predictions.items()}
    ds = partition_r2(r2, names, correction, pairs=pairs is not False)
    ds.attrs["n_outer_splits"] = len(splits)
    return ds
