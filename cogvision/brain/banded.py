# 468 lines: one estimator (search, refinement, refit, split predictions); its solver is in banded_solver.py.
"""Banded ridge regression: several feature spaces ("bands") in one encoding model, in torch (CPU or GPU).

Each band ``b`` of columns gets its own penalty. Written with band weights ``gamma`` on the simplex
(``sum_b gamma_b = 1``) and one overall penalty ``alpha``, the model is ridge regression on the features
``sqrt(gamma_b) X_b`` with penalty ``alpha``, i.e. band ``b`` is penalised by ``alpha / gamma_b``:

``w = argmin ||Y - sum_b X_b w_b||^2 + sum_b (alpha / gamma_b) ||w_b||^2``.

Every target chooses its own ``(gamma, alpha)`` by cross-validation. ``gamma`` is searched over a list
of candidates (random Dirichlet draws, the first one equal weights, as in himalaya's
``solve_multiple_kernel_ridge_random_search``); for each candidate and fold, one eigendecomposition of
the scaled training Gram matrix (``p x p``, the *primal* form, when there are fewer features than
training samples) or of the training kernel ``sum_b gamma_b X_b X_b^T`` (``n x n``, the *kernel* form,
otherwise) scores every ``alpha`` for every target at once:

``Y_hat(alpha) = T V diag(1 / (lambda + alpha)) V^T C``

with ``S = V diag(lambda) V^T`` the decomposed matrix. In the primal form ``S = D G D`` (``G`` the
centred training Gram, ``D = diag(sqrt(gamma))`` per column), ``T = X_test D`` and ``C = D X_train^T
Y_train``; ``X_train^T Y_train`` is formed once per fold for all candidates (the full ``X^T Y`` minus
the test rows'). In the kernel form ``S`` and ``T`` are the centred training and test kernels and
``C = Y_train``. The products are ordered so that each extra ``alpha`` costs one
``(n_test x m) @ (m x batch)`` product (``m`` = number of features or training samples).

Example
-------
>>> import numpy as np
>>> from cogvision.brain.banded import BandedRidgeCV
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(80, 6)); Y = X[:, :3] @ rng.normal(size=(3, 4)) + 0.1 * rng.normal(size=(80, 4))
>>> model = BandedRidgeCV(bands=[[0, 1, 2], [3, 4, 5]], n_iter=5, cv=3, device="cpu", random_state=0).fit(X, Y)
>>> model.predict(X, split=True).shape, model.band_weights_.shape
((2, 80, 4), (2, 4))
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from cogvision.brain.banded_solver import SOLVERS, _Problem, _spd_solve, check_inputs, dirichlet_candidates
from cogvision.brain.ridge import (
    _BATCH_ELEMENTS,
    DEFAULT_ALPHAS,
    SCORINGS,
    TargetScoreMixin,
    _torch_dtype,
    gram_eigh,
    make_splits,
    score_fold_predictions,
)
from cogvision.device import resolve_device


class BandedRidgeCV(TargetScoreMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ridge regression with one penalty per band of features, chosen per target by cross-validation.

    Parameters
    ----------
    bands : list of column-index lists, optional
        ``[columns of band 0, columns of band 1, ...]``: every column of ``X`` in exactly one band
        (ints, boolean masks or slices). ``None``: one band of all columns (plain ridge).
    alphas : sequence of float
        Candidate overall penalties (all > 0); band ``b`` is penalised by ``alpha / gamma_b``.
    n_iter : int or array-like of shape (n_candidates, n_bands)
        Number of band-weight candidates ``gamma`` drawn on the simplex (see :func:`dirichlet_candidates`),
        or the candidates themselves (rows of non-negative weights; they are used as given).
    concentration : float or sequence of float
        Dirichlet concentrations that the draws cycle through.
    cv : int, "logo", splitter or iterable of (train, test)
        Cross-validation scheme (see :func:`cogvision.brain.ridge.make_splits`).
    groups : array-like of shape (n_samples,), optional
        Group of each sample for group-aware CV; ``fit(..., groups=...)`` overrides it.
    fit_intercept : bool
        Centre features and targets by their training means.
    scoring : {"r2", "neg_mse", "pearson"}
        Held-out score, averaged over folds, that chooses ``(gamma, alpha)``. ``"neg_mse"`` is himalaya's
        default (``l2_neg_loss``).
    solver : {"auto", "primal", "kernel"}
        Decompose the ``p x p`` scaled Gram matrix (primal) or the ``n_train x n_train`` kernel; ``"auto"``
        picks the smaller. Both give the same model.
    device : str
        ``"auto"`` (cuda, mps, cpu), ``"cpu"``, ``"cuda"``...
    n_targets_batch : int, optional
        Targets per batch; ``None`` keeps one batch's held-out predictions under about 1 GiB.
    dtype : {"auto", "float32", "float64"}
        Computation precision; ``"auto"`` is float64 on CPU and float32 on GPU.
    random_state : int, RandomState or None
        Seed of the band-weight draws.
    refine : int
        Number of gradient steps that refine each target's hyperparameters after the random search
        (0, the default: no refinement). The log band scalings ``deltas = log(gamma / alpha)`` (one per
        band, which covers both ``gamma`` and ``alpha``) start from the random-search choice and follow
        Adam on the same mean held-out score (``scoring``) over the same folds, differentiated through
        one Cholesky solve per target and fold (``(G + diag(exp(-deltas))) w = X^T y`` in the primal
        form, ``(sum_b exp(deltas_b) K_b + I) dual = y`` in the kernel form). Each target keeps the
        best point of the path, and only when it beats its random-search score: refinement never
        lowers a target's CV score. The penalties ``exp(-deltas_b)`` stay within
        ``[min(alphas) / 100, max(alphas) * 1e6]``. Costs ``refine x n_folds`` batched solves of
        ``m x m`` systems per target (``m`` = features or training samples, whichever is smaller).
    refine_lr : float
        Adam step size of the refinement, in units of log penalty (> 0).

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features) or (n_features,)
        Weights on the columns of ``X`` in their original order.
    intercept_ : ndarray of shape (n_targets,) or float
    candidates_ : ndarray of shape (n_candidates, n_bands)
        Band weights tried.
    cv_scores_ : ndarray of shape (n_candidates, n_targets)
        Mean held-out score of each candidate with its best alpha (as himalaya's ``cv_scores``).
    best_candidate_ : ndarray of shape (n_targets,)
        Index of the chosen candidate of each target.
    band_weights_ : ndarray of shape (n_bands, n_targets)
        Chosen ``gamma`` of each target.
    best_alphas_ : ndarray of shape (n_targets,)
        Chosen ``alpha`` of each target.
    deltas_ : ndarray of shape (n_bands, n_targets)
        ``log(gamma / alpha)``, himalaya's log band scalings; band ``b``'s penalty is ``exp(-deltas_[b])``.
        With ``refine``, ``band_weights_``, ``best_alphas_`` and ``deltas_`` hold the refined values
        (``gamma = exp(deltas) / sum(exp(deltas))``, ``alpha = 1 / sum(exp(deltas))``), while
        ``best_candidate_`` and ``cv_scores_`` stay those of the random search.
    best_scores_ : ndarray of shape (n_targets,)
        Mean held-out score of the chosen hyperparameters (random search, or refined).
    refined_ : ndarray of shape (n_targets,), bool
        Targets whose refined hyperparameters beat the random search (all False without ``refine``).
    bands_ : list of ndarray
        Checked column indices of each band.
    x_mean_ : ndarray of shape (n_features,)
        Training mean of the features (zeros without intercept).
    y_mean_ : ndarray of shape (n_targets,)
        Training mean of the targets (zeros without intercept).
    n_splits_ : int
    n_features_in_ : int
    """

    def __init__(
        self,
        bands=None,
        alphas: Iterable[float] = DEFAULT_ALPHAS,
        n_iter=20,
        concentration=(0.1, 1.0),
        cv=5,
        groups=None,
        fit_intercept: bool = True,
        scoring: str = "r2",
        solver: str = "auto",
        device: str = "auto",
        n_targets_batch: int | None = None,
        dtype: str = "auto",
        random_state=None,
        refine: int = 0,
        refine_lr: float = 0.1,
    ):
        self.bands = bands
        self.alphas = alphas
        self.n_iter = n_iter
        self.concentration = concentration
        self.cv = cv
        self.groups = groups
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.solver = solver
        self.device = device
        self.n_targets_batch = n_targets_batch
        self.dtype = dtype
        self.random_state = random_state
        self.refine = refine
        self.refine_lr = refine_lr

    def _candidates(self, n_bands: int) -> np.ndarray:
        if isinstance(self.n_iter, (int, np.integer)):
            if self.n_iter < 1:
                raise ValueError(f"n_iter must be >= 1, got {self.n_iter}")
            return dirichlet_candidates(int(self.n_iter), n_bands, self.concentration, self.random_state)
        cand = np.asarray(self.n_iter, dtype=np.float64)
        if cand.ndim != 2 or cand.shape[1] != n_bands or len(cand) == 0:
            raise ValueError(f"n_iter as candidates must have shape (n_candidates, {n_bands}), got {cand.shape}")
        if not np.all(np.isfinite(cand)) or np.any(cand < 0) or np.any(cand.sum(1) <= 0):
            raise ValueError("n_iter candidates must be finite, >= 0, with at least one weight > 0 per row")
        return cand

    def _check_params(self) -> np.ndarray:
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(f"alphas must be a non-empty list of finite values > 0, got {self.alphas!r}")
        if self.n_targets_batch is not None and int(self.n_targets_batch) < 1:
            raise ValueError(f"n_targets_batch must be >= 1, got {self.n_targets_batch}")
        if isinstance(self.refine, (bool, np.bool_)) or not isinstance(self.refine, (int, np.integer)) \
                or self.refine < 0:
            raise ValueError(f"refine must be a number of gradient steps (an int >= 0; 0 turns it off), "
                             f"got {self.refine!r}")
        if isinstance(self.refine_lr, (bool, np.bool_)) or not isinstance(self.refine_lr, (int, float, np.number)) \
                or not np.isfinite(self.refine_lr) or self.refine_lr <= 0:
            raise ValueError(f"refine_lr must be a finite step size > 0, got {self.refine_lr!r}")
        return alphas

    def fit(self, X, Y, groups=None) -> "BandedRidgeCV":  # 88 lines: one CV search loop, kept whole to read
        """Choose band weights and alpha per target by cross-validation, then refit on all samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite, no constant column; every column in exactly one band.
        Y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Finite.
        groups : array-like of shape (n_samples,), optional
            Overrides the ``groups`` given at construction.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For bad bands (overlapping, empty, out of range, columns in no band), NaN/inf or constant
            columns in ``X``, NaN/inf in ``Y``, or ``Y`` with a different number of rows than ``X``.
        """
        alphas = self._check_params()
        X, Y, band_cols = check_inputs(X, Y, self.bands)
        X, Y = validate_data(self, X, Y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        device = resolve_device(self.device)
        dtype = _torch_dtype(self.dtype, device)
        self._y_1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        candidates = self._candidates(len(band_cols))
        splits = make_splits(X.shape[0], self.cv, groups if groups is not None else self.groups)
        problem = _Problem(X, band_cols, splits, dtype, device, self.fit_intercept, self.solver)
        n_targets, n_alphas = Y.shape[1], len(alphas)
        alphas_t = torch.as_tensor(alphas, dtype=dtype, device=device)
        gammas_t = torch.as_tensor(candidates, dtype=torch.float64, device=device)
        tie_break = 1e-10 * torch.log(torch.as_tensor(alphas, dtype=torch.float64, device=device))[:, None]
        eps = float(np.finfo(np.float64 if dtype == torch.float64 else np.float32).eps)
        cv_scores = torch.zeros(len(candidates), n_targets, dtype=torch.float64, device=device)
        best_candidate = torch.zeros(n_targets, dtype=torch.long, device=device)
        best_alpha = torch.zeros(n_targets, dtype=torch.long, device=device)
        best_score = torch.zeros(n_targets, dtype=torch.float64, device=device)
        n_test = max(len(te) for _, te in splits)
        m = X.shape[1] if problem.primal else max(len(tr) for tr, _ in splits)
        batch = self._batch_size(n_targets, n_alphas * n_test + len(splits) * m)
        for cols in [slice(s, s + batch) for s in range(0, n_targets, batch)]:
            y, _ = self._responses(Y, cols, dtype, device)
            xty = problem.x.T @ y if problem.primal else None
            rhs = [problem.rhs(fold, y, xty) for fold in problem.folds]
            del xty
            current = torch.full((y.shape[1],), -math.inf, dtype=torch.float64, device=device)
            for c, gamma in enumerate(gammas_t):
                scores = torch.zeros(n_alphas, y.shape[1], dtype=torch.float64, device=device)
                for fold, (c_fold, y_test) in zip(problem.folds, rhs):
                    xte_v, v_scaled, evals = problem.basis(fold, gamma)
                    shrink = 1.0 / (evals + alphas_t[:, None])  # (n_alphas, k)
                    weighted = (xte_v * shrink[:, None, :]).reshape(n_alphas * xte_v.shape[0], -1)
                    if weighted.shape[0] < y.shape[1]:  # cheaper to bring the eigenbasis back first
                        predictions = c_fold.T @ (weighted @ v_scaled.T).T
                    else:
                        predictions = (v_scaled.T @ c_fold).T @ weighted.T
                    predictions = predictions.view(y.shape[1], n_alphas, -1)
                    scores += score_fold_predictions(predictions, y_test, self.scoring)
                    del predictions, weighted
                scores = scores / len(splits) + tie_break
                best_a = scores.argmax(0)
                best = scores.gather(0, best_a[None])[0]
                cv_scores[c, cols] = best
                better = best > current + eps  # a later candidate must beat the best so far (as himalaya)
                current = torch.where(better, best, current)
                best_candidate[cols] = torch.where(better, c, best_candidate[cols])
                best_alpha[cols] = torch.where(better, best_a, best_alpha[cols])
            best_score[cols] = current - tie_break[best_alpha[cols], 0]
            del rhs, y
        self.candidates_ = candidates
        self.cv_scores_ = cv_scores.cpu().numpy()
        self.best_candidate_ = best_candidate.cpu().numpy()
        self.best_alphas_ = alphas[best_alpha.cpu().numpy()]
        self.band_weights_ = candidates[self.best_candidate_].T
        with np.errstate(divide="ignore"):
            self.deltas_ = np.log(self.band_weights_ / self.best_alphas_[None])
        self.bands_ = band_cols
        self.n_splits_ = len(splits)
        self.best_scores_ = best_score.cpu().numpy()
        self.refined_ = np.zeros(n_targets, dtype=bool)
        if self.refine > 0:
            self._refine(problem, Y, alphas, batch)
        self._refit(problem, Y, alphas_t, best_alpha, batch)
        return self

    def _refine(self, problem: _Problem, Y: np.ndarray, alphas: np.ndarray, batch: int) -> None:
        """Gradient refinement of each target's log band scalings from its random-search choice.

        Adam (step ``refine_lr``) ascends the mean held-out score over the CV folds, a function of the
        ``n_bands`` log scalings ``deltas = log(gamma / alpha)`` of each target; the gradient is autograd
        through one Cholesky solve per target and fold (see :meth:`_Problem.refine_predictions`).
        Targets are independent (Adam acts elementwise and the summed score separates), so a batch
        refines many at once. Each target keeps the best point of its path if it beats its
        random-search score (``best_scores_``); ``deltas_``, ``band_weights_``, ``best_alphas_``,
        ``best_scores_`` and ``refined_`` are updated in place.
        """
        device, dtype = problem.device, problem.dtype
        lo, hi = -math.log(float(alphas.max()) * 1e6), -math.log(float(alphas.min()) / 100)
        m = sum(problem.sizes) if problem.primal else max(f.n_train for f in problem.folds)
        batch = max(1, min(batch, _BATCH_ELEMENTS // (4 * m * m)))
        n_folds = len(problem.folds)
        tol = 10 * float(torch.finfo(dtype).eps)
        with np.errstate(invalid="ignore"):
            start = np.clip(self.deltas_, lo, hi)  # a zero band weight (delta -inf) starts at the bound
        for cols in [slice(s, s + batch) for s in range(0, Y.shape[1], batch)]:
            y, _ = self._responses(Y, cols, dtype, device)
            xty = problem.x.T @ y if problem.primal else None
            rhs = [problem.rhs(fold, y, xty) for fold in problem.folds]
            del xty
            deltas = torch.tensor(start[:, cols].T, dtype=dtype, device=device, requires_grad=True)
            optimizer = torch.optim.Adam([deltas], lr=float(self.refine_lr))
            best = torch.full((y.shape[1],), -math.inf, dtype=torch.float64, device=device)
            best_deltas = deltas.detach().clone()
            for step in range(self.refine + 1):
                last = step == self.refine
                optimizer.zero_grad()
                score = torch.zeros_like(best)
                failed = torch.zeros(y.shape[1], dtype=torch.bool, device=device)
                for fold, (c_fold, y_test) in zip(problem.folds, rhs):
                    with torch.set_grad_enabled(not last):
                        predictions, bad = problem.refine_predictions(fold, deltas, c_fold)
                        fold_score = score_fold_predictions(predictions[:, None, :], y_test, self.scoring)[0]
                        if not last:  # one backward per fold frees its graph (the gradient sums over folds)
                            (-fold_score.sum() / n_folds).backward()
                    score += fold_score.detach() / n_folds
                    failed |= bad
                score = torch.where(failed | ~torch.isfinite(score), -math.inf, score)
                better = score > best
                best = torch.where(better, score, best)
                best_deltas[better] = deltas.detach()[better]
                if not last:
                    deltas.grad = torch.nan_to_num(deltas.grad, nan=0.0, posinf=0.0, neginf=0.0)
                    optimizer.step()
                    with torch.no_grad():
                        deltas.clamp_(lo, hi)
            best, best_deltas = best.cpu().numpy(), best_deltas.to(torch.float64).cpu().numpy()
            before = self.best_scores_[cols]
            improved = best > before + tol * np.maximum(1.0, np.abs(before))
            idx = np.arange(Y.shape[1])[cols][improved]
            d = best_deltas[improved].T  # (n_bands, n_improved)
            log_total = np.logaddexp.reduce(d, axis=0)
            self.deltas_[:, idx] = d
            self.band_weights_[:, idx] = np.exp(d - log_total)
            self.best_alphas_[idx] = np.exp(-log_total)
            self.best_scores_[idx] = best[improved]
            self.refined_[idx] = True
            del rhs, y

    def _batch_size(self, n_targets: int, per_target: int) -> int:
        if self.n_targets_batch is not None:
            return int(self.n_targets_batch)
        return max(1, min(n_targets, _BATCH_ELEMENTS // max(1, per_target)))

    def _responses(self, Y: np.ndarray, cols: slice, dtype: torch.dtype,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """One target batch (n_samples, batch) on the device, centred on its mean when fitting an intercept."""
        y = torch.as_tensor(np.require(Y[:, cols], requirements="W")).to(device=device, dtype=dtype)
        if not self.fit_intercept:
            return y, torch.zeros(y.shape[1], dtype=dtype, device=device)
        mean = y.mean(0)
        return y - mean, mean

    def _refit(self, problem: _Problem, Y: np.ndarray, alphas_t: torch.Tensor, best_alpha: torch.Tensor,
               batch: int) -> None:
        """Weights on all samples, one eigendecomposition per chosen candidate."""
        x, dtype, device = problem.x, problem.dtype, problem.device
        x64 = x.to(torch.float64)
        gram = x64.T @ x64 if problem.primal else None
        coef = np.zeros((Y.shape[1], x.shape[1]), dtype=np.float64 if dtype == torch.float64 else np.float32)
        y_mean = np.zeros(Y.shape[1], dtype=coef.dtype)
        for c in np.unique(self.best_candidate_):
            targets = np.flatnonzero(self.best_candidate_ == c)
            gamma = torch.as_tensor(self.candidates_[c], dtype=torch.float64, device=device)
            d = problem.column_scale(gamma)
            if problem.primal:
                evals, vecs = gram_eigh(gram * torch.outer(d, d), dtype=dtype)
                v_scaled = vecs * d.to(dtype)[:, None]
            else:
                evals, vecs = gram_eigh(torch.einsum("b,bij->ij", gamma, problem.kernels), dtype=dtype)
            for start in range(0, len(targets), batch):
                idx = targets[start:start + batch]
                y, mean = self._responses(Y[:, idx], slice(None), dtype, device)
                alpha = alphas_t[best_alpha[torch.as_tensor(idx, device=device)]]
                if problem.primal:  # coef = D V diag(1 / (lambda + alpha)) V^T D X^T y
                    w = v_scaled @ ((v_scaled.T @ (x.T @ y)) / (evals[:, None] + alpha[None]))
                else:  # dual = V diag(1 / (lambda + alpha)) V^T y; coef = D^2 X^T dual
                    dual = vecs @ ((vecs.T @ y) / (evals[:, None] + alpha[None]))
                    w = (d**2).to(dtype)[:, None] * (x.T @ dual)
                coef[idx] = w.T.cpu().numpy()
                y_mean[idx] = mean.cpu().numpy()
        self._refit_refined(problem, Y, gram, coef)
        inverse = np.empty_like(problem.order)
        inverse[problem.order] = np.arange(len(problem.order))
        coef = coef[:, inverse]  # back to X's column order
        x_mean = problem.x_mean.cpu().numpy()[inverse]
        intercept = y_mean - coef @ x_mean
        self.x_mean_, self.y_mean_ = x_mean, y_mean
        self.coef_ = coef[0] if self._y_1d else coef
        self.intercept_ = float(intercept[0]) if self._y_1d else intercept

    def _refit_refined(self, problem: _Problem, Y: np.ndarray, gram: torch.Tensor | None, coef: np.ndarray) -> None:
        """Weights (in ``coef``, (n_targets, n_features) in the problem's column order) of the refined
        targets, one Cholesky solve each with its own band penalties ``exp(-deltas_)``."""
        refined = np.flatnonzero(self.refined_)
        if refined.size == 0:
            return
        x, dtype, device = problem.x, problem.dtype, problem.device
        sizes = torch.as_tensor(problem.sizes, device=device)
        m = x.shape[1] if problem.primal else x.shape[0]
        batch = max(1, _BATCH_ELEMENTS // (2 * m * m))
        for start in range(0, refined.size, batch):
            idx = refined[start:start + batch]
            y, _ = self._responses(Y[:, idx], slice(None), dtype, device)
            deltas = torch.as_tensor(self.deltas_[:, idx].T, dtype=dtype, device=device)  # (batch, n_bands)
            if problem.primal:  # (X^T X + diag(exp(-deltas))) w = X^T y
                a = gram.to(dtype)[None] + torch.diag_embed(torch.repeat_interleave((-deltas).exp(), sizes, dim=1))
                w, failed = _spd_solve(a, (x.T @ y).T[:, :, None])
                w = w[..., 0]
            else:  # (sum_b exp(deltas_b) K_b + I) dual = y;  w_b = exp(deltas_b) X_b^T dual
                eye = torch.eye(m, dtype=dtype, device=device)
                a = torch.einsum("tb,bij->tij", deltas.exp(), problem.kernels.to(dtype)) + eye
                dual, failed = _spd_solve(a, y.T[:, :, None])
                w = (dual[..., 0] @ x) * torch.repeat_interleave(deltas.exp(), sizes, dim=1)
            if failed.any():  # cannot happen in float64 (penalties > 0); in float32 fall back to LU
                w = torch.linalg.solve(a, (x.T @ y).T if problem.primal else y.T)
                if not problem.primal:
                    w = (w @ x) * torch.repeat_interleave(deltas.exp(), sizes, dim=1)
            coef[idx] = w.cpu().numpy()

    def predict(self, X, split: bool = False) -> np.ndarray:
        """Predictions of the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        split : bool
            Return each band's contribution, ``(X_b - x_mean_b) @ coef_b``, separately. The parts sum to
            ``predict(X) - y_mean_`` (to ``predict(X)`` without an intercept).

        Returns
        -------
        ndarray of shape (n_samples, n_targets), or (n_bands, n_samples, n_targets) with ``split``
            (the target axis is dropped for a 1-D ``y``).
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        device = resolve_device(self.device)
        coef = torch.as_tensor(np.atleast_2d(self.coef_), device=device)
        Xt = torch.tensor(X, dtype=coef.dtype, device=device)
        if split:
            xc = Xt - torch.as_tensor(self.x_mean_, dtype=coef.dtype, device=device)
            out = torch.stack([xc[:, cols] @ coef[:, cols].T for cols in
                               (torch.as_tensor(c, device=device) for c in self.bands_)]).cpu().numpy()
            return out[..., 0] if self._y_1d else out
        out = (Xt @ coef.T + torch.as_tensor(np.atleast_1d(self.intercept_), device=device)).cpu().numpy()
        return out[:, 0] if self._y_1d else out
