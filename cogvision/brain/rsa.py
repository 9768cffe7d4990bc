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

Kendall's tau_a is counted exactly, ties included, by :mod:`cogvision.brain.kendall`; reweighted ("mixed")
RSA is in :mod:`cogvision.brain.rsa_mixed`.

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

from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from scipy import stats

from cogvision.brain.kendall import SortedVector, tau_a_sorted
from cogvision.device import resolve_device

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
        references = [SortedVector.of(v) for v in b]  # each vector is sorted once, for all its comparisons
        reference_ranks = [r.ranks() for r in references]
        return np.array([[tau_a_sorted(model, r, ranks) for r, ranks in zip(references, reference_ranks)]
                         for model in map(SortedVector.of, a)], dtype=np.float64)
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
