"""Kendall's tau_a, counted exactly in O(n log n) with ties, for one reference against many vectors.

Kendall's tau_a is counted exactly, ties included: ``tau_a = (C - D) / n0`` with ``n0 = n (n - 1) / 2``
and ``C - D = n0 - T_x - T_y + T_xy - 2 D`` (``T``: pairs tied in x, in y, in both; ``D``: discordant
pairs). Every vector is sorted once (one ``argsort``), however many vectors it is compared with: the
references' dense ranks are computed once, each model vector is sorted once, and a comparison only gathers
the reference's ranks in the model's order and counts discordant pairs there with scipy's compiled
Fenwick-tree counter (``scipy.stats._stats._kendall_dis``, the one ``scipy.stats.kendalltau`` uses; it is
private, so a scipy without it falls back to the public tau-b, converted with the tie counts).

Examples
--------
>>> kendall_tau_a([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

try:  # scipy's compiled O(n log n) count of discordant pairs (private; scipy.stats.kendalltau calls it)
    from scipy.stats._stats import _kendall_dis
except ImportError:  # a scipy without it: tau_a_sorted falls back to the public tau-b
    _kendall_dis = None


@dataclass(frozen=True)
class SortedVector:
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
    def of(cls, values: np.ndarray) -> SortedVector:
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


def tau_a_sorted(model: SortedVector, reference: SortedVector, reference_ranks: np.ndarray) -> float:
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
    reference = SortedVector.of(y)
    return tau_a_sorted(SortedVector.of(x), reference, reference.ranks())
