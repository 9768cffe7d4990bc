"""Representational similarity analysis: RDMs from features, comparisons, noise ceilings, bootstrap.

Conventions follow rsatoolbox (Nili et al. 2014), and the values are tested equal to it
(``tests/brain/test_rsa.py``):

- ``"correlation"`` distance ``1 - r`` between stimulus patterns; ``"cosine"`` ``1 - cos``;
  ``"euclidean"`` the *squared* Euclidean distance divided by the number of features (rsatoolbox's
  ``calc_rdm(method="euclidean")``).
- RDMs are compared over the upper triangle (diagonal excluded) by Kendall's tau_a, Spearman's rho or
  Pearson's r.
- The noise-ceiling band of several subjects' RDMs: lower bound = mean over subjects of the
  comparison of each subject with the pooled RDM of the others; upper bound = with the pooled RDM of
  all. For rank-based comparisons the RDMs are rank-transformed before pooling; for Pearson they are
  z-scored (rsatoolbox's ``pool_rdm``).
- Bootstrap over stimuli: stimuli are drawn with replacement, pairs of a stimulus with itself dropped.

RDMs are computed in row blocks (float64 by default), so thousands of stimuli fit in bounded memory:
with torch on an accelerator; on the CPU with numpy, whose ``a @ a.T`` calls BLAS ``syrk`` (half the
products of a general matrix product) when one block holds every stimulus.

Kendall's tau_a is counted exactly, ties included: ``tau_a = (C - D) / n0`` with ``n0 = n (n - 1) / 2``
and ``C - D = n0 - T_x - T_y + T_xy - 2 D`` (``T``: pairs tied in x, in y, in both; ``D``: discordant
pairs). Every vector is sorted once (one ``argsort``), however many vectors it is compared with: the
references' dense ranks are computed once, each model vector is sorted once, and a comparison only gathers
the reference's ranks in the model's order and counts discordant pairs there with scipy's compiled
Fenwick-tree counter (``scipy.stats._stats._kendall_dis``, the one ``scipy.stats.kendalltau`` uses; it is
private, so a scipy without it falls back to the public tau-b, converted with the tie counts).

Examples
--------
>>> import numpy as np
>>> from cogvision.brain.rsa import compute_rdm, compare_rdms
>>> x = np.random.default_rng(0).normal(size=(6, 20))
>>> rdm = compute_rdm(x, "correlation")
>>> rdm.shape
(6, 6)
>>> float(compare_rdms(rdm, rdm, "tau_a")[0, 0])
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from scipy import stats
from scipy.optimize import nnls

from cogvision.device import resolve_device

try:  # scipy's compiled O(n log n) count of discordant pairs (private; scipy.stats.kendalltau calls it)
    from scipy.stats._stats import _kendall_dis
except ImportError:  # a scipy without it: _tau_a falls back to the public tau-b
    _kendall_dis = None

METRICS = ("correlation", "cosine", "euclidean")
METHODS = ("tau_a", "spearman", "pearson")


def compute_rdm(features, metric: str = "correlation", *, device: str = "cpu", batch_size: int = 2048,
                dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Representational dissimilarity matrix of stimulus patterns.

    Parameters
    ----------
    features : array-like or torch.Tensor of shape (n_stimuli, ...)
        One pattern per stimulus; trailing axes are flattened.
    metric : {"correlation", "cosine", "euclidean"}
        See the module docstring (``euclidean`` is squared and divided by the number of features).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...; the products run there.
    batch_size : int
        Rows of the RDM computed at once.
    dtype : torch.dtype
        Precision of the computation.

    Returns
    -------
    ndarray of shape (n_stimuli, n_stimuli)
        Symmetric, float64, zero diagonal.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    dev = resolve_device(device)
    x = features if isinstance(features, torch.Tensor) else torch.from_numpy(np.asarray(features))
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"features have shape {tuple(x.shape)}; expected (n_stimuli >= 2, n_features...)")
    x = x.detach().reshape(x.shape[0], -1).to(device=dev, dtype=dtype)
    if metric == "correlation":
        x = x - x.mean(1, keepdim=True)
    sq = (x * x).sum(1)
    if not torch.isfinite(sq).all():  # one NaN or Inf in a pattern makes its sum of squares NaN or Inf
        raise ValueError("features hold NaN or Inf (or values too large to square); an RDM needs finite patterns")
    if metric in ("correlation", "cosine"):
        if (sq == 0).any():
            bad = torch.nonzero(sq == 0)[:5, 0].tolist()
            raise ValueError(f"stimuli {bad} have constant (or zero) patterns; {metric} distance is undefined")
        x = x / sq.sqrt()[:, None]
        sq = torch.ones_like(sq)
    n, n_features = x.shape
    if dev.type == "cpu" and n <= batch_size:
        a = x.numpy()
        rdm = _from_gram(a @ a.T, sq.numpy(), sq.numpy(), metric, n_features)  # numpy: BLAS syrk, exactly symmetric
    else:
        out = torch.empty(n, n, dtype=dtype, device=dev)
        for start in range(0, n, batch_size):
            block = x[start:start + batch_size]
            rows = slice(start, start + len(block))
            out[rows] = _from_gram(block @ x.T, sq[rows], sq, metric, n_features)
        rdm = out.cpu().numpy()
        rdm = (rdm + rdm.T) / 2
    rdm = rdm.astype(np.float64, copy=False)
    np.fill_diagonal(rdm, 0.0)
    return rdm


def _from_gram(gram, sq_rows, sq, metric: str, n_features: int):
    """Dissimilarities of rows (squared norms ``sq_rows``) from their inner products ``gram`` with all patterns.

    Works on numpy arrays and torch tensors alike; the patterns are unit-norm for correlation and cosine.
    """
    if metric == "euclidean":
        return (sq_rows[:, None] + sq[None] - 2 * gram) / n_features
    return 1 - gram


def upper(rdms) -> np.ndarray:
    """Upper-triangle vectors (diagonal excluded, row-major as scipy's ``squareform``) of (..., n, n) RDMs.

    Returns
    -------
    ndarray of shape (..., n * (n - 1) / 2)
    """
    rdms = np.asarray(rdms, dtype=np.float64)
    if rdms.ndim < 2 or rdms.shape[-1] != rdms.shape[-2]:
        raise ValueError(f"RDMs have shape {rdms.shape}; expected (..., n_stimuli, n_stimuli)")
    n = rdms.shape[-1]
    return np.take(rdms.reshape(*rdms.shape[:-2], n * n), _upper_flat(n), axis=-1)


@lru_cache(maxsize=8)
def _upper_flat(n: int) -> np.ndarray:
    """Flat indices (read-only) of the upper triangle of an n x n matrix, row-major."""
    index = np.flatnonzero(np.triu(np.ones((n, n), dtype=bool), 1))
    index.setflags(write=False)
    return index


@dataclass(frozen=True)
class _Sorted:
    """A vector sorted once, for Kendall counts against any number of other vectors.

    Attributes
    ----------
    order : ndarray of shape (n,)
        ``argsort`` of the vector.
    dense : ndarray of shape (n,), dtype intp
        Dense ranks (1, 2, ...; equal values share one) in that order, so non-decreasing.
    tied_pairs : int
        Pairs of equal values.
    tied : ndarray
        Positions in ``order`` of values equal to another value; empty without ties.
    """

    order: np.ndarray
    dense: np.ndarray
    tied_pairs: int
    tied: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> "_Sorted":
        """Sort ``values`` (shape (n,), finite)."""
        order, ordered = _sort(values)
        new = np.empty(len(values), dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        dense = np.cumsum(new, dtype=np.intp)
        if dense[-1] == len(values):
            return cls(order, dense, 0, np.empty(0, dtype=np.intp))
        counts = np.diff(np.append(np.flatnonzero(new), len(values)))
        tied = ~(new & np.append(new[1:], True))  # not alone in its run
        return cls(order, dense, int((counts * (counts - 1) // 2).sum()), np.flatnonzero(tied))

    def ranks(self) -> np.ndarray:
        """Dense ranks at the vector's own positions, shape (n,)."""
        ranks = np.empty(len(self.order), dtype=np.intp)
        ranks[self.order] = self.dense
        return ranks


def _sort(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``argsort`` of finite float64 values (equal values in any order) and the sorted values.

    Sorting integers is faster than an ``argsort``, so each value's order-preserving bit pattern has its lowest
    ``b`` bits replaced by its index (``b`` bits hold ``n - 1``) and these keys are sorted. Values equal in
    their top ``64 - b`` bits but not below (relative differences under about ``2^(b - 52)``) can come out
    of order; the runs holding such a descent are re-sorted exactly, so the result is exact. Inputs with
    more than ``n / 64`` such descents (values packed closer than that everywhere) take ``np.argsort``.
    """
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    if bits > 24:  # keep >= 40 value bits in a key
        order = np.argsort(values)
        return order, values[order]
    values = np.ascontiguousarray(values, dtype=np.float64)
    raw = values.view(np.uint64)
    sign = np.uint64(1 << 63)
    if values.min() < 0:  # negatives: every bit flipped; the rest: the sign bit flipped
        key = raw ^ ((raw >> np.uint64(63)) * np.uint64(0x7FFFFFFFFFFFFFFF) | sign)
    else:  # setting the sign bit also maps -0.0 onto 0.0
        key = raw | sign
    low = np.uint64((1 << bits) - 1)
    key &= ~low
    key |= _indices(n)
    key.sort()
    order = (key & low).view(np.intp)
    ordered = values[order]
    descents = np.flatnonzero(ordered[1:] < ordered[:-1])
    if len(descents) > n // 64:
        order = np.argsort(values)
        return order, values[order]
    if len(descents):  # re-sort exactly the runs of equal top bits that hold a descent
        top = key >> np.uint64(bits)
        runs = np.unique(top[descents])
        starts, ends = np.searchsorted(top, runs, "left"), np.searchsorted(top, runs, "right")
        sizes = ends - starts
        positions = np.arange(sizes.sum()) + np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
        inside = order[positions]
        order[positions] = inside[np.lexsort((values[inside], np.repeat(np.arange(len(runs)), sizes)))]
        ordered[positions] = values[order[positions]]
    return order, ordered


@lru_cache(maxsize=8)
def _indices(n: int) -> np.ndarray:
    """``arange(n)`` as uint64, read-only (the low bits of :func:`_sort`'s keys)."""
    index = np.arange(n, dtype=np.uint64)
    index.setflags(write=False)
    return index


def _tau_a(model: _Sorted, reference: _Sorted, reference_ranks: np.ndarray) -> float:
    """Kendall's tau_a of a sorted model vector against a reference (``reference_ranks``: ``reference.ranks()``).

    ``C - D = n0 - T_x - T_y + T_xy - 2 D``; D is counted with the model vector as x (sorted) and the
    reference's dense ranks in the model's order as y.
    """
    n = len(model.order)
    n0 = n * (n - 1) // 2
    y = reference_ranks[model.order]
    both = 0
    if len(model.tied) and len(reference.tied):
        _, counts = np.unique(model.dense[model.tied] * (n + 1) + y[model.tied], return_counts=True)
        both = int((counts * (counts - 1) // 2).sum())
    untied = n0 - model.tied_pairs - reference.tied_pairs + both  # C + D
    if untied == 0:
        return 0.0
    if _kendall_dis is not None:
        discordant = int(_kendall_dis(model.dense, y))
    else:  # C - D from tau_b = (C - D) / sqrt((n0 - T_x)(n0 - T_y)); an integer, so rounding is exact
        tau_b = stats.kendalltau(model.dense, y, variant="b").statistic
        total = np.sqrt(float(n0 - model.tied_pairs) * float(n0 - reference.tied_pairs))
        discordant = round((untied - tau_b * total) / 2)
    return (untied - 2 * discordant) / n0


def kendall_tau_a(x, y) -> float:
    """Kendall's tau_a of two vectors: (concordant - discordant) pairs over all n (n - 1) / 2 pairs.

    Ties count as neither concordant nor discordant but stay in the denominator (unlike tau_b).
    Exact: pairs are counted in O(n log n), ties included (module docstring).

    Parameters
    ----------
    x, y : array-like of shape (n,)

    Returns
    -------
    float
        In [-1, 1]; 0 when either vector is constant.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"tau_a needs two vectors of the same length >= 2, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("tau_a needs finite vectors; got NaN or Inf")
    reference = _Sorted.of(y)
    return _tau_a(_Sorted.of(x), reference, reference.ranks())


def _as_vectors(rdms, name: str) -> np.ndarray:
    array = np.asarray(rdms, dtype=np.float64)
    if array.ndim >= 2 and array.shape[-1] == array.shape[-2] and array.shape[-1] > 1 and (
            array.ndim == 3 or (array.ndim == 2 and np.allclose(array, array.T))):
        array = upper(array)
    array = np.atleast_2d(array)
    if array.ndim != 2:
        raise ValueError(f"{name} has shape {np.shape(rdms)}; expected RDMs (n_rdms, n, n), one RDM (n, n) or "
                         "upper-triangle vectors (n_rdms, n_pairs)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or Inf")
    return array


def compare_vectors(a: np.ndarray, b: np.ndarray, method: str = "tau_a") -> np.ndarray:
    """Compare every row of ``a`` (n_a, n_pairs) with every row of ``b`` (n_b, n_pairs).

    Returns
    -------
    ndarray of shape (n_a, n_b)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"RDM vectors have {a.shape[1]} and {b.shape[1]} pairs; the RDMs must be of the same "
                         "stimuli (same size)")
    if method == "tau_a":
        references = [_Sorted.of(v) for v in b]  # each vector is sorted once, for all its comparisons
        reference_ranks = [r.ranks() for r in references]
        return np.array([[_tau_a(model, r, ranks) for r, ranks in zip(references, reference_ranks)]
                         for model in map(_Sorted.of, a)], dtype=np.float64)
    if method == "spearman":
        a, b = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    za = a - a.mean(1, keepdims=True)
    zb = b - b.mean(1, keepdims=True)
    za = za / np.maximum(np.linalg.norm(za, axis=1, keepdims=True), np.finfo(float).tiny)
    zb = zb / np.maximum(np.linalg.norm(zb, axis=1, keepdims=True), np.finfo(float).tiny)
    return za @ zb.T


def compare_rdms(model, reference, method: str = "tau_a") -> np.ndarray:
    """Compare model RDMs with reference RDMs over the upper triangle.

    Parameters
    ----------
    model, reference : array-like
        (n_rdms, n, n), one (n, n) RDM, or upper-triangle vectors (n_rdms, n_pairs); both of the
        same stimuli.
    method : {"tau_a", "spearman", "pearson"}

    Returns
    -------
    ndarray of shape (n_model, n_reference)
    """
    return compare_vectors(_as_vectors(model, "model RDM"), _as_vectors(reference, "reference RDM"), method)


def pool_vectors(vectors: np.ndarray, method: str) -> np.ndarray:
    """Pool RDM vectors (n_rdms, n_pairs) into the one best suited to ``method`` (rsatoolbox's ``pool_rdm``).

    Rank-based methods average the ranks; Pearson averages z-scored vectors.
    """
    if method in ("tau_a", "spearman"):
        return stats.rankdata(vectors, axis=1).mean(0)
    z = (vectors - vectors.mean(1, keepdims=True)) / vectors.std(1, keepdims=True)
    return z.mean(0)


def noise_ceiling(reference, method: str = "tau_a") -> tuple[float, float]:
    """Noise-ceiling band (lower, upper) of several subjects' RDMs (Nili et al. 2014).

    Parameters
    ----------
    reference : array-like
        (n_subjects >= 2, n, n) RDMs or (n_subjects, n_pairs) vectors.
    method : {"tau_a", "spearman", "pearson"}

    Returns
    -------
    (float, float)
        Lower bound (each subject against the pooled others), upper bound (against the pooled all).
    """
    vectors = _as_vectors(reference, "reference RDMs")
    if len(vectors) < 2:
        raise ValueError(f"a noise ceiling needs RDMs of at least 2 subjects, got {len(vectors)}")
    pooled_all = pool_vectors(vectors, method)[None]
    low, high = [], []
    for s in range(len(vectors)):
        others = pool_vectors(np.delete(vectors, s, 0), method)[None]
        low.append(compare_vectors(others, vectors[s:s + 1], method)[0, 0])
        high.append(compare_vectors(pooled_all, vectors[s:s + 1], method)[0, 0])
    return float(np.mean(low)), float(np.mean(high))


def bootstrap_pairs(n_stimuli: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One bootstrap sample of stimuli: the (i, j) stimulus indices of its pairs, self-pairs dropped."""
    idx = rng.integers(0, n_stimuli, n_stimuli)
    a, b = np.triu_indices(n_stimuli, k=1)
    i, j = idx[a], idx[b]
    keep = i != j
    return i[keep], j[keep]


def bootstrap_compare(model, reference, method: str = "tau_a", n_boot: int = 1000, seed: int = 0,
                      ceiling: bool = True) -> dict[str, np.ndarray]:
    """Bootstrap over stimuli of the model-reference comparison (mean over reference RDMs) and the ceiling.

    Parameters
    ----------
    model : array-like of shape (n_models, n, n)
    reference : array-like of shape (n_subjects, n, n)
    method : {"tau_a", "spearman", "pearson"}
    n_boot : int
        Bootstrap samples.
    seed : int
    ceiling : bool
        Also bootstrap the noise-ceiling band (needs >= 2 reference RDMs).

    Returns
    -------
    dict
        ``score`` (n_boot, n_models): mean over references per sample; ``ceiling_low``,
        ``ceiling_high`` (n_boot,) when ``ceiling`` (NaN with one reference RDM).
    """
    model = np.asarray(model, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if model.ndim == 2:
        model = model[None]
    if reference.ndim == 2:
        reference = reference[None]
    for name, array in (("model RDMs", model), ("reference RDMs", reference)):
        if array.ndim != 3 or array.shape[1] != array.shape[2]:
            raise ValueError(f"{name} have shape {array.shape}; expected (n_rdms, n, n)")
    if model.shape[1] != reference.shape[1]:
        raise ValueError(f"model RDMs are {model.shape[1]} x {model.shape[1]} but reference RDMs are "
                         f"{reference.shape[1]} x {reference.shape[1]}; they must be of the same stimuli")
    rng = np.random.default_rng(seed)
    n = model.shape[1]
    scores = np.empty((n_boot, len(model)))
    low = np.full(n_boot, np.nan)
    high = np.full(n_boot, np.nan)
    for k in range(n_boot):
        i, j = bootstrap_pairs(n, rng)
        ref = reference[:, i, j]
        scores[k] = compare_vectors(model[:, i, j], ref, method).mean(1)
        if ceiling and len(reference) >= 2:
            low[k], high[k] = noise_ceiling(ref, method)
    return {"score": scores, "ceiling_low": low, "ceiling_high": high}


def _scored_references(stack: np.ndarray, references: dict[str, np.ndarray], method: str, n_boot: int, seed: int,
                       ceiling: bool):
    """Yield ``(name, reference (k, n, n), point scores (n_models,), bootstrap dict)`` per reference.

    Point scores and bootstrap samples are means over the reference's subject RDMs; the ceiling is
    bootstrapped only when asked and there are >= 2 subject RDMs.
    """
    for name, ref in references.items():
        ref = np.asarray(ref, dtype=np.float64)
        ref = ref[None] if ref.ndim == 2 else ref
        point = compare_rdms(stack, ref, method).mean(1)
        boot = bootstrap_compare(stack, ref, method, n_boot=n_boot, seed=seed, ceiling=ceiling and len(ref) >= 2)
        yield name, ref, point, boot


def layer_sweep(model_rdms: dict[str, np.ndarray], references: dict[str, np.ndarray], method: str = "tau_a",
                n_boot: int = 1000, seed: int = 0, level: float = 95.0):
    """Compare each layer's RDM with each reference (mean over its subjects), with intervals and ceilings.

    Parameters
    ----------
    model_rdms : dict of str to ndarray of shape (n, n)
        Layer -> RDM, in layer order.
    references : dict of str to ndarray of shape (n_subjects, n, n)
        Reference name -> subject RDMs (one subject: no ceiling, NaN).
    method, n_boot, seed
        Comparison and bootstrap over stimuli.
    level : float
        Width of the percentile interval.

    Returns
    -------
    pandas.DataFrame
        ``layer, layer_index, reference, method, score, score_low, score_high, ceiling_low, ceiling_high,
        ceiling_low_low, ceiling_low_high`` (the last two: bootstrap interval of the lower bound).
    """
    layers = list(model_rdms)
    stack = np.stack([model_rdms[name] for name in layers])
    tails = [(100 - level) / 2, 100 - (100 - level) / 2]
    rows = []
    for ref_name, ref, point, boot in _scored_references(stack, references, method, n_boot, seed, ceiling=True):
        low, high = noise_ceiling(ref, method) if len(ref) >= 2 else (np.nan, np.nan)
        c_lo, c_hi = (np.percentile(boot["ceiling_low"], tails) if len(ref) >= 2 else (np.nan, np.nan))
        for k, name in enumerate(layers):
            s_lo, s_hi = np.percentile(boot["score"][:, k], tails)
            rows.append({"layer": name, "layer_index": k, "reference": ref_name, "method": method,
                         "score": point[k], "score_low": s_lo, "score_high": s_hi, "ceiling_low": low,
                         "ceiling_high": high, "ceiling_low_low": c_lo, "ceiling_low_high": c_hi})
    return pd.DataFrame(rows)


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


def paired_difference(model_rdms: dict[str, np.ndarray], baseline_rdms: dict[str, np.ndarray],
                      references: dict[str, np.ndarray], method: str = "tau_a", n_boot: int = 1000, seed: int = 0,
                      level: float = 95.0):
    """Paired bootstrap over stimuli of model minus baseline RSA (e.g. trained minus untrained network).

    Both networks' RDMs are compared with the references on the *same* bootstrap samples of stimuli, so
    the interval of the difference accounts for the stimuli they share (intervals of each score alone
    overlap far more than the difference's does).

    Parameters
    ----------
    model_rdms, baseline_rdms : dict of str to ndarray of shape (n, n)
        Layer -> RDM of each network, same stimuli. Layers present in both get a row each.
    references : dict of str to ndarray of shape (n_subjects, n, n)
        Reference name -> subject RDMs; scores are means over subjects.
    method : {"tau_a", "spearman", "pearson"}
    n_boot, seed
        Bootstrap samples over stimuli.
    level : float
        Width of the percentile interval.

    Returns
    -------
    pandas.DataFrame
        ``layer, reference, method, model, baseline, difference, difference_low, difference_high, p_value``,
        one row per shared layer and reference, plus ``layer="best"``: the best layer of the model minus the
        best layer of the baseline, both re-chosen in every bootstrap sample. ``p_value``: two-sided
        bootstrap p of the difference being 0 (``2 min(P(d <= 0), P(d >= 0))``, floor ``1 / n_boot``).
    """
    if not model_rdms or not baseline_rdms:
        raise ValueError("model_rdms and baseline_rdms must each hold at least one layer RDM")
    mine, base = list(model_rdms), list(baseline_rdms)
    sides = (("model", model_rdms), ("baseline", baseline_rdms))
    shapes = {f"{side} layer {k!r}": np.shape(rdms[k]) for side, rdms in sides for k in rdms}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"model and baseline RDMs must be of the same stimuli (one n x n shape); got {shapes}")
    stack = np.stack([model_rdms[k] for k in mine] + [baseline_rdms[k] for k in base])
    shared = [k for k in mine if k in baseline_rdms]
    tails = [(100 - level) / 2, 100 - (100 - level) / 2]
    rows = []
    for ref_name, _, point, boot in _scored_references(stack, references, method, n_boot, seed, ceiling=False):
        boot = boot["score"]
        m_point, b_point = point[:len(mine)], point[len(mine):]
        m_boot, b_boot = boot[:, :len(mine)], boot[:, len(mine):]
        pairs = [(k, m_point[mine.index(k)] - b_point[base.index(k)],
                  m_boot[:, mine.index(k)] - b_boot[:, base.index(k)]) for k in shared]
        pairs.append(("best", m_point.max() - b_point.max(), m_boot.max(1) - b_boot.max(1)))
        for layer, diff, samples in pairs:
            low, high = np.percentile(samples, tails)
            p = min(1.0, max(2 * min(np.mean(samples <= 0), np.mean(samples >= 0)), 1 / n_boot))
            rows.append({"layer": layer, "reference": ref_name, "method": method,
                         "model": m_point[mine.index(layer)] if layer != "best" else m_point.max(),
                         "baseline": b_point[base.index(layer)] if layer != "best" else b_point.max(),
                         "difference": diff, "difference_low": low, "difference_high": high, "p_value": p})
    return pd.DataFrame(rows)
