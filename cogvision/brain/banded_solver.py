"""The solver of :class:`~cogvision.brain.banded.BandedRidgeCV`: candidate band weights, input checks, and the
per-fold primal/kernel problem (the decomposition and right-hand sides described in :mod:`cogvision.brain.banded`).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from cogvision.brain.ridge import _row_runs, gram_eigh

SOLVERS = ("auto", "primal", "kernel")


def dirichlet_candidates(n_iter: int, n_bands: int, concentration: float | Sequence[float] = (0.1, 1.0),
                         random_state=None) -> np.ndarray:
    """Band-weight candidates (n_iter, n_bands) on the simplex; the first one gives equal weights.

    Draws cycle through the ``concentration`` values (Dirichlet with all parameters equal to it; a small
    value favours one dominant band, 1 is uniform on the simplex, ``inf`` gives equal weights). With the
    same ``random_state`` (an int seeds ``numpy.random.RandomState``) and concentrations, these are the
    candidates of himalaya's random search.
    """
    if n_bands == 1:
        return np.ones((1, 1))
    rng = check_random_state(random_state)
    conc = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    if conc.size == 0 or np.any(conc <= 0):
        raise ValueError(f"concentration must be values > 0, got {concentration!r}")
    per = math.ceil(n_iter / conc.size)
    draws = [np.full((per, n_bands), 1.0 / n_bands) if np.isinf(c) else rng.dirichlet([c] * n_bands, per)
             for c in conc]
    candidates = np.stack(draws, axis=1).reshape(-1, n_bands)[:n_iter]  # alternate the concentrations
    candidates[0] = 1.0 / n_bands
    return candidates


def check_bands(bands, n_features: int) -> list[np.ndarray]:
    """Column indices of each band, checked: ints in range, no band empty, no column in two bands or in none.

    ``None`` means one band of all columns. A band may be a sequence of ints, a boolean mask or a slice.

    Raises
    ------
    ValueError
        Naming the band and the columns at fault.
    """
    if bands is None:
        return [np.arange(n_features)]
    if isinstance(bands, (str, bytes)) or not isinstance(bands, Iterable):
        raise ValueError(f"bands must be a list of column-index lists, one per band, got {bands!r}")
    out = []
    for b, band in enumerate(bands):
        if isinstance(band, slice):
            cols = np.arange(n_features)[band]
        else:
            cols = np.asarray(band)
            if cols.dtype == bool:
                if cols.shape != (n_features,):
                    raise ValueError(f"bands[{b}] is a boolean mask of shape {cols.shape}; expected ({n_features},)")
                cols = np.flatnonzero(cols)
            elif cols.size and not np.issubdtype(cols.dtype, np.integer):
                raise ValueError(f"bands[{b}] must hold integer column indices, got dtype {cols.dtype}")
            cols = cols.astype(np.int64).ravel()
        if cols.size == 0:
            raise ValueError(f"bands[{b}] is empty; every band needs at least one column")
        bad = cols[(cols < 0) | (cols >= n_features)]
        if bad.size:
            raise ValueError(f"bands[{b}] has columns {bad[:5].tolist()} outside X's {n_features} columns")
        uniq, counts = np.unique(cols, return_counts=True)
        dup = uniq[counts > 1]
        if dup.size:
            raise ValueError(f"bands[{b}] lists columns {dup[:5].tolist()} more than once")
        out.append(cols)
    if not out:
        raise ValueError("bands is empty; give at least one band of columns")
    owner = np.full(n_features, -1)
    for b, cols in enumerate(out):
        taken = cols[owner[cols] >= 0]
        if taken.size:
            raise ValueError(f"bands {int(owner[taken[0]])} and {b} overlap: both contain columns {taken[:5].tolist()}")
        owner[cols] = b
    orphans = np.flatnonzero(owner < 0)
    if orphans.size:
        raise ValueError(f"columns {orphans[:10].tolist()} of X are in no band ({orphans.size} in all); "
                         "give every column a band or drop it from X")
    return out


def check_inputs(X, Y, bands) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """X (n, p) and Y (n, t) as finite float arrays and the checked bands; a ``ValueError`` names the fault."""
    if Y is None:
        raise ValueError("BandedRidgeCV requires y to be passed, but the target y is None")
    floats = [np.float64, np.float32]
    X = check_array(X, dtype=floats, ensure_all_finite=False, input_name="X")  # types, sparse, complex
    Y = check_array(Y, dtype=floats, ensure_all_finite=False, ensure_2d=False, input_name="Y")
    if Y.ndim not in (1, 2):
        raise ValueError(f"Y must be 1-D or 2-D (n_samples, n_targets), got shape {Y.shape}")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Y.shape[0]} rows but X has {X.shape[0]}; give one row of Y per row (sample) of X")
    band_cols = check_bands(bands, X.shape[1])
    bad = np.flatnonzero(~np.isfinite(X).all(0))
    if bad.size:
        raise ValueError(f"X has NaN or infinite values in columns {bad[:10].tolist()}")
    if X.shape[0] > 1:
        const = np.flatnonzero(np.ptp(X, axis=0) == 0)
        if const.size:
            owner = {int(c): b for b, cols in enumerate(band_cols) for c in cols}
            raise ValueError(f"X has constant columns {const[:10].tolist()} (band {owner[int(const[0])]}); "
                             "they carry no information: drop them")
    bad = np.flatnonzero(~np.isfinite(Y.reshape(len(Y), -1)).all(0))
    if bad.size:
        raise ValueError(f"Y has NaN or infinite values in targets {bad[:10].tolist()}")
    return X, Y, band_cols


def _spd_solve(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched solve of symmetric positive definite systems ``a x = b`` by Cholesky (differentiable).

    Parameters
    ----------
    a : Tensor of shape (batch, m, m)
    b : Tensor of shape (batch, m, k)

    Returns
    -------
    x : Tensor of shape (batch, m, k)
    failed : Tensor of shape (batch,), bool
        Systems whose factorisation failed (not positive definite in this precision); their ``x`` is
        ``b`` (solved against the identity) and must not be used.
    """
    chol, info = torch.linalg.cholesky_ex(a)
    failed = info != 0
    if failed.any():
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        chol = torch.linalg.cholesky(torch.where(failed[:, None, None], eye, a))
    return torch.cholesky_solve(b, chol), failed


class _Fold:
    """One CV fold: train/test rows and what every band-weight candidate reuses (training Gram or kernel rows)."""

    def __init__(self, train: np.ndarray, test: np.ndarray, device: torch.device):
        self.train, self.test = (torch.as_tensor(i, device=device) for i in (train, test))
        test_run = _row_runs(test, max_runs=1)
        self.test_rows = test_run[0][1] if test_run else self.test
        self.n_train = len(train)


class _Problem:
    """The centred features of one fit, permuted so each band is a block of columns, and the per-candidate bases.

    ``basis(fold, gamma)`` returns ``(T V, V_scaled, lambda)`` so that held-out predictions are
    ``(T V) diag(1 / (lambda + alpha)) V_scaled^T C`` with ``C`` from ``rhs(fold, y)``.
    """

    def __init__(self, X: np.ndarray, band_cols: list[np.ndarray], splits, dtype: torch.dtype,
                 device: torch.device, fit_intercept: bool, solver: str):
        self.order = np.concatenate(band_cols)
        self.sizes = [len(c) for c in band_cols]
        self.fit_intercept = fit_intercept
        Xt = torch.tensor(X[:, self.order], dtype=dtype, device=device)
        self.x_mean = Xt.mean(0) if fit_intercept else torch.zeros(Xt.shape[1], dtype=dtype, device=device)
        self.x = Xt - self.x_mean  # centred on all samples; each fold re-centres on its training rows
        n, p = self.x.shape
        max_train = max(len(tr) for tr, _ in splits)
        self.primal = solver == "primal" or (solver == "auto" and p <= max_train)
        self.folds = [_Fold(tr, te, device) for tr, te in splits]
        x64 = self.x.to(torch.float64)
        if self.primal:
            gram = x64.T @ x64
            for fold in self.folds:
                x_test = self.x[fold.test]
                if fit_intercept:
                    x_mean = (self.x.sum(0) - x_test.sum(0)) / fold.n_train
                else:
                    x_mean = torch.zeros_like(self.x_mean)
                t64, m64 = x_test.to(torch.float64), x_mean.to(torch.float64)
                fold.gram = gram - t64.T @ t64 - fold.n_train * torch.outer(m64, m64)
                fold.x_mean, fold.x_test = x_mean, x_test - x_mean
        else:  # one kernel per band on all samples; a candidate's kernel is their weighted sum
            self.kernels = torch.stack([x64[:, s] @ x64[:, s].T for s in self.slices()])
        self.dtype, self.device = dtype, device

    def slices(self) -> list[slice]:
        edges = np.r_[0, np.cumsum(self.sizes)]
        return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def column_scale(self, gamma: torch.Tensor) -> torch.Tensor:
        """``sqrt(gamma_b)`` for each column of band ``b`` (p,)."""
        return torch.repeat_interleave(gamma.sqrt(), torch.as_tensor(self.sizes, device=gamma.device))

    def basis(self, fold: _Fold, gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.primal:
            d = self.column_scale(gamma.to(torch.float64))
            evals, vecs = gram_eigh(fold.gram * torch.outer(d, d), dtype=self.dtype)
            v_scaled = vecs * d.to(self.dtype)[:, None]  # D V: maps the unscaled features into the eigenbasis
            return fold.x_test @ v_scaled, v_scaled, evals
        kernel = torch.einsum("b,bij->ij", gamma.to(torch.float64), self.kernels)
        k_train = kernel[fold.train][:, fold.train]
        k_test = kernel[fold.test][:, fold.train]
        if self.fit_intercept:  # centre both on the training features' mean (in feature space)
            col_mean = k_train.mean(0)
            k_test = k_test - k_test.mean(1, keepdim=True) - col_mean + col_mean.mean()
            k_train = k_train - k_train.mean(1, keepdim=True) - col_mean + col_mean.mean()
        evals, vecs = gram_eigh(k_train, dtype=self.dtype)
        return k_test.to(self.dtype) @ vecs, vecs, evals

    def band_kernels(self, fold: _Fold) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-band centred training (n_bands, n_train, n_train) and test (n_bands, n_test, n_train) kernels
        of one fold (kernel form), computed once and kept on the fold."""
        if getattr(fold, "band_kernels", None) is None:
            k_train = self.kernels[:, fold.train][:, :, fold.train]
            k_test = self.kernels[:, fold.test][:, :, fold.train]
            if self.fit_intercept:  # as in basis(): centre on the training features' mean, band by band
                col_mean = k_train.mean(1, keepdim=True)
                grand = col_mean.mean(2, keepdim=True)
                k_test = k_test - k_test.mean(2, keepdim=True) - col_mean + grand
                k_train = k_train - k_train.mean(2, keepdim=True) - col_mean + grand
            fold.band_kernels = (k_train.to(self.dtype), k_test.to(self.dtype))
        return fold.band_kernels

    def refine_predictions(self, fold: _Fold, deltas: torch.Tensor,
                           c_fold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out predictions (batch, n_test) of one fold with per-target log band scalings ``deltas``
        (batch, n_bands), differentiable in ``deltas``, and the targets whose solve failed (batch,).

        Primal: ``w = (G + diag(exp(-deltas)))^-1 C``, predictions ``X_test w``. Kernel: ``dual = (sum_b
        exp(deltas_b) K_b + I)^-1 Y_train``, predictions ``sum_b exp(deltas_b) K_test,b dual``. ``C`` and
        ``Y_train`` are ``c_fold`` (m, batch) from :meth:`rhs`.
        """
        if self.primal:
            penalty = torch.repeat_interleave((-deltas).exp(), torch.as_tensor(self.sizes, device=deltas.device), dim=1)
            a = fold.gram.to(deltas.dtype)[None] + torch.diag_embed(penalty)
            w, failed = _spd_solve(a, c_fold.T[:, :, None])
            return w[..., 0] @ fold.x_test.T, failed
        k_train, k_test = self.band_kernels(fold)
        scale = deltas.exp()
        eye = torch.eye(k_train.shape[1], dtype=deltas.dtype, device=deltas.device)
        dual, failed = _spd_solve(torch.einsum("tb,bij->tij", scale, k_train) + eye, c_fold.T[:, :, None])
        return torch.einsum("tb,bij,tj->ti", scale, k_test, dual[..., 0]), failed

    def rhs(self, fold: _Fold, y: torch.Tensor, xty: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``C`` (m, batch) of one fold and the test responses centred on the training mean (n_test, batch)."""
        y_test = y[fold.test_rows]
        train_sum = y.sum(0) - y_test.sum(0)
        train_mean = train_sum / fold.n_train if self.fit_intercept else torch.zeros_like(train_sum)
        if self.primal:  # X_train,c^T y_train = X^T y - X_test^T y_test - x_mean_train * sum(y_train)
            x_test_raw = fold.x_test + fold.x_mean
            c = xty - x_test_raw.T @ y_test
            if self.fit_intercept:
                c = c - torch.outer(fold.x_mean, train_sum)
            return c, y_test - train_mean
        return y[fold.train] - train_mean, y_test - train_mean
