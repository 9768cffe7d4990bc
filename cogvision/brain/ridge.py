# 467 lines: one estimator with its fold solver and save/load; the solver is its only user.
"""Cross-validated ridge regression for many targets at once, in torch (CPU or GPU).

For each cross-validation fold one thin SVD (from the eigendecomposition of the smaller Gram matrix) of the
centred training features, ``X_tr = U S V^T``, gives the held-out predictions of every ridge penalty ``alpha``
for every target:

``Y_hat(alpha) = (X_te V) diag(s / (s^2 + alpha)) (U^T Y_tr)``.

``X_te V`` is computed once per fold and ``U^T Y_tr`` once per target batch, so each extra alpha costs
one (n_test x k) @ (k x n_targets) product. Each target keeps the alpha with the best mean score over
folds (``alpha_per_target=True``), then one SVD of all the data refits every target with its own alpha.
Targets are processed in batches (``n_targets_batch``) and only one batch of responses sits on the
device at a time, so 100k+ voxels fit in bounded memory.

Example
-------
>>> import numpy as np
>>> from cogvision.brain.ridge import RidgeCV
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 8)); Y = X @ rng.normal(size=(8, 3)) + 0.1 * rng.normal(size=(60, 3))
>>> model = RidgeCV(alphas=[0.1, 1.0, 10.0], cv=3, device="cpu").fit(X, Y)
>>> model.best_alphas_.shape, model.cv_scores_.shape
((3,), (3, 3))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut
from sklearn.utils.validation import check_is_fitted, validate_data

from cogvision.brain.metrics import pearson_r, score_predictions
from cogvision.brain.persist import json_params, read_encoder, write_encoder
from cogvision.device import resolve_device

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 9))
SCORINGS = ("r2", "neg_mse", "pearson")
# responses of one target batch on the device: n_alphas x n_test x batch floats at most (about 1 GiB in float64)
_BATCH_ELEMENTS = 2**27


def _torch_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype == "auto":
        return torch.float64 if device.type == "cpu" else torch.float32
    if dtype in ("float32", "float64"):
        return getattr(torch, dtype)
    raise ValueError(f"dtype must be 'auto', 'float32' or 'float64', got {dtype!r}")


def make_splits(n_samples: int, cv, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs for ``cv`` (int, ``"logo"``, a scikit-learn splitter or an iterable of pairs).

    With ``groups``, an int ``cv`` means ``GroupKFold(cv)`` and ``"logo"`` means ``LeaveOneGroupOut``:
    no group ever sits on both sides of a split. Without groups, an int means ``KFold(cv)`` (no shuffle).

    Raises
    ------
    ValueError
        When ``"logo"`` is asked without groups, ``groups`` has the wrong length, or a split is empty.
    """
    dummy = np.zeros((n_samples, 1))
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n_samples,):
            raise ValueError(f"groups has shape {groups.shape}; expected ({n_samples},), one label per sample")
    if isinstance(cv, str):
        if cv != "logo":
            raise ValueError(f"cv={cv!r} is not known; expected an int, 'logo', a splitter or (train, test) pairs")
        if groups is None:
            raise ValueError("cv='logo' (leave one group out) needs groups, e.g. the run of each sample")
        splitter = LeaveOneGroupOut()
    elif isinstance(cv, (int, np.integer)):
        splitter = GroupKFold(int(cv)) if groups is not None else KFold(int(cv))
    else:
        splitter = cv
    pairs = splitter.split(dummy, None, groups) if hasattr(splitter, "split") else splitter
    splits = [(np.asarray(train), np.asarray(test)) for train, test in pairs]
    if not splits or any(len(tr) == 0 or len(te) == 0 for tr, te in splits):
        raise ValueError("cross-validation gave no split or an empty train/test side")
    return splits


def gram_eigh(gram: torch.Tensor, rtol: float = 1e-12,
              dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (k,) and eigenvectors (m, k) of a symmetric positive semi-definite (m, m) matrix.

    Directions whose eigenvalue is below ``rtol`` times the largest are dropped: for a Gram or kernel
    matrix they are null directions of the data, which contribute nothing to ridge predictions.
    The decomposition runs in ``dtype``.
    """
    evals, vecs = torch.linalg.eigh(gram.to(dtype))
    keep = evals > rtol * evals.max().clamp_min(torch.finfo(dtype).tiny)
    return evals[keep], vecs[:, keep]


def thin_svd(x: torch.Tensor, rtol: float = 1e-12, gram: torch.Tensor | None = None,
             dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD ``x = u diag(s) vt`` from the eigendecomposition of the smaller Gram matrix.

    Much faster than a LAPACK SVD for the tall or wide matrices of encoding models; directions whose
    squared singular value is below ``rtol`` times the largest are dropped (ridge shrinks them to ~0).
    The Gram matrix is always accumulated in float64; the eigendecomposition and the product that gives
    the other factor run in ``dtype``. The factors come back in ``x``'s dtype.

    Parameters
    ----------
    x
        (n, p) matrix.
    rtol
        Relative eigenvalue cut-off.
    gram
        The float64 Gram matrix of ``x`` when it is already known: (p, p) ``x^T x`` if ``n >= p``, else
        (n, n) ``x x^T``.
    dtype
        Precision of the eigendecomposition: float64 (default), or float32 for the cross-validation
        bases of a float32 fit (twice as fast). Its eigenvalues are then known to about 1e-7 of the
        largest, which matters only for penalties ``alpha`` that small: a direction enters ridge
        predictions as ``x_test v (s / (s^2 + alpha)) u^T y = x_test v v^T x^T y / (s^2 + alpha)``, so an
        inaccurate small ``s`` cancels unless ``alpha`` is as small as its error.
    """
    x64 = x.to(torch.float64)
    tall = x.shape[0] >= x.shape[1]
    if gram is None:
        gram = x64.T @ x64 if tall else x64 @ x64.T
    evals, vecs = gram_eigh(gram, rtol, dtype)
    s = evals.sqrt()
    xd = x.to(dtype)
    other = (xd @ vecs if tall else xd.T @ vecs) / s
    u, v = (other, vecs) if tall else (vecs, other)
    return u.to(x.dtype), s.to(x.dtype), v.T.to(x.dtype)


def _row_runs(index: np.ndarray, max_runs: int = 4) -> list[tuple[slice, slice]] | None:
    """(positions in ``index``, rows) slice pairs of the contiguous runs of an increasing ``index``.

    K-fold and leave-one-run-out training sets are one or two runs of rows: products with such views
    need no copy of the responses. ``None`` when ``index`` is unsorted or has more than ``max_runs`` runs.
    """
    steps = np.diff(index)
    if np.any(steps <= 0):
        return None
    breaks = np.flatnonzero(steps != 1) + 1
    if len(breaks) >= max_runs:
        return None
    starts, ends = np.r_[0, breaks], np.r_[breaks, len(index)]
    return [(slice(int(a), int(b)), slice(int(index[a]), int(index[b - 1]) + 1)) for a, b in zip(starts, ends)]


class _Fold:
    """One CV fold's basis: thin SVD of the centred training features and the test features in it."""

    def __init__(self, Xt: torch.Tensor, gram: torch.Tensor, train: np.ndarray, test: np.ndarray,
                 alphas_t: torch.Tensor, fit_intercept: bool):
        device = Xt.device
        self.train, self.test = (torch.as_tensor(i, device=device) for i in (train, test))
        self.runs = _row_runs(train)
        test_run = _row_runs(test, max_runs=1)
        self.test_rows = test_run[0][1] if test_run else self.test  # a slice when the test rows are one run
        x_train, x_test = Xt[self.train], Xt[self.test]
        tall = x_train.shape[0] >= x_train.shape[1]
        if tall:  # the training Gram is the full one minus the test rows' (float64, so no cancellation issue)
            x_test64 = x_test.to(torch.float64)
            gram = gram - x_test64.T @ x_test64
        else:
            gram = gram[self.train][:, self.train]
        if fit_intercept:
            x_mean = x_train.mean(0)
            x_train, x_test = x_train - x_mean, x_test - x_mean
            if tall:
                mean64 = x_mean.to(torch.float64)
                gram = gram - len(train) * torch.outer(mean64, mean64)
            else:
                gram = gram - gram.mean(0, keepdim=True)
                gram = gram - gram.mean(1, keepdim=True)
        self.u, s, vt = thin_svd(x_train, gram=gram, dtype=Xt.dtype)
        self.u_sum = self.u.sum(0)  # ~0 after centring; kept so the product with uncentred responses is exact
        self.xte_v = x_test @ vt.T
        self.shrink = s / (s**2 + alphas_t[:, None])  # (n_alphas, k)

    def project(self, y: torch.Tensor) -> torch.Tensor:
        """``u^T y[train]`` (k, batch) for responses ``y`` of all samples (n_samples, batch)."""
        if self.runs is None:
            return self.u.T @ y[self.train]
        (pos, rows), *more = self.runs
        out = self.u[pos].T @ y[rows]
        for pos, rows in more:
            out.addmm_(self.u[pos].T, y[rows])
        return out


def _fold_scores(
    projected: torch.Tensor, xte_v: torch.Tensor, shrink: torch.Tensor, y_test: torch.Tensor, scoring: str,
) -> torch.Tensor:
    """Scores (n_alphas, batch) of every alpha's predictions of one target batch on one fold.

    ``projected`` is ``U^T Y_train`` and ``y_test`` is centred by the training mean already.
    """
    n_alphas, n_test = shrink.shape[0], xte_v.shape[0]
    # One product laid out (batch, n_alphas, n_test): each prediction is contiguous, so the sums over test
    # samples below run along the fast axis (4x faster than over the middle axis of (n_alphas, n_test, batch)).
    weighted = (xte_v * shrink[:, None, :]).reshape(n_alphas * n_test, -1)  # (n_alphas * n_test, k)
    predictions = (projected.T @ weighted.T).view(-1, n_alphas, n_test)
    return score_fold_predictions(predictions, y_test, scoring)


def score_fold_predictions(predictions: torch.Tensor, y_test: torch.Tensor, scoring: str) -> torch.Tensor:
    """Scores (n_alphas, batch), in float64, of held-out predictions (batch, n_alphas, n_test) of ``y_test``
    (n_test, batch), which is centred by the training mean already."""
    if scoring == "pearson":
        return pearson_r(y_test.T[:, None, :].expand_as(predictions), predictions, dim=2).T.to(torch.float64)
    # sse = |y|^2 - 2 <y, pred> + |pred|^2 without forming (pred - y), which would write and read the
    # predictions once more. The three terms are sums in the fit's dtype, combined in float64
    # (benchmarks/ridge_speed.py checks predictions against himalaya's).
    cross = torch.bmm(predictions, y_test.T[:, :, None])[..., 0].T.to(torch.float64)  # (n_alphas, batch)
    energy = torch.linalg.vector_norm(predictions, dim=2).T.to(torch.float64) ** 2
    y_energy = torch.linalg.vector_norm(y_test, dim=0, dtype=torch.float64) ** 2
    sse = (y_energy - 2 * cross + energy).clamp_min(0)
    sse = torch.where(sse <= 1e-12 * (y_energy + energy), torch.zeros_like(sse), sse)  # exact fits stay exact
    if scoring == "neg_mse":
        return -sse / y_test.shape[0]
    sst = ((y_test - y_test.mean(0)) ** 2).sum(0, dtype=torch.float64)
    # scikit-learn's convention for a constant test fold: 1 when predicted perfectly, else 0
    return torch.where(sst > 0, 1 - sse / sst.clamp_min(torch.finfo(torch.float64).tiny),
                       (sse == 0).to(torch.float64))


class TargetScoreMixin:
    """``score`` (R^2 or Pearson r, mean or per target) and multi-output tags for the torch regressors."""

    def score(self, X, y, sample_weight=None, *, metric: str = "r2", per_target: bool = False):
        """Held-out score of the predictions of ``X`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : None
            Not supported (present for the scikit-learn signature).
        metric : {"r2", "pearson"}
            Per-target R^2 or Pearson r.
        per_target : bool
            Return one value per target (ndarray of shape (n_targets,)) instead of their mean.

        Returns
        -------
        float or ndarray
        """
        if sample_weight is not None:
            raise ValueError(f"sample_weight is not supported by cogvision {type(self).__name__}.score")
        return score_predictions(y, self.predict(X), metric, per_target)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class RidgeCV(TargetScoreMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ridge regression with cross-validated alpha per target, computed in torch.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties (all > 0).
    cv : int, "logo", splitter or iterable of (train, test)
        Cross-validation scheme (see :func:`make_splits`). Default 5 (``KFold(5)``, or ``GroupKFold(5)``
        with groups).
    groups : array-like of shape (n_samples,), optional
        Group of each sample (run, session) for group-aware CV; ``fit(..., groups=...)`` overrides it.
    alpha_per_target : bool
        Choose alpha separately for each target (True) or one alpha maximising the mean score.
    fit_intercept : bool
        Centre features and targets by their training means (per fold and for the refit).
    scoring : {"r2", "neg_mse", "pearson"}
        Held-out score averaged over folds to choose alpha. ``"r2"`` with ``alpha_per_target=False``
        reproduces scikit-learn's ``RidgeCV(cv=...)``.
    device : str
        ``"auto"`` (cuda, mps, cpu), ``"cpu"``, ``"cuda"``...
    n_targets_batch : int, optional
        Targets per batch; ``None`` picks a batch that keeps one batch's predictions under ~1 GiB.
    dtype : {"auto", "float32", "float64"} or torch.dtype
        Computation precision; ``"auto"`` is float64 on CPU and float32 on GPU.

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features) or (n_features,)
    intercept_ : ndarray of shape (n_targets,) or float
    best_alphas_ : ndarray of shape (n_targets,)
        Chosen alpha of each target.
    alpha_ : float or ndarray
        ``best_alphas_`` (a float for a 1-D ``y``), as in scikit-learn.
    cv_scores_ : ndarray of shape (n_alphas, n_targets)
        Mean held-out score of every alpha for every target.
    n_splits_ : int
        Number of CV folds used.
    n_features_in_ : int
    """

    def __init__(
        self,
        alphas: Iterable[float] = DEFAULT_ALPHAS,
        cv=5,
        groups=None,
        alpha_per_target: bool = True,
        fit_intercept: bool = True,
        scoring: str = "r2",
        device: str = "auto",
        n_targets_batch: int | None = None,
        dtype: str = "auto",
    ):
        self.alphas = alphas
        self.cv = cv
        self.groups = groups
        self.alpha_per_target = alpha_per_target
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.device = device
        self.n_targets_batch = n_targets_batch
        self.dtype = dtype

    def _setup(self) -> tuple[torch.device, torch.dtype, np.ndarray]:
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(f"alphas must be a non-empty list of finite values > 0, got {self.alphas!r}")
        device = resolve_device(self.device)
        return device, _torch_dtype(self.dtype, device), alphas

    def _batch_size(self, n_targets: int, n_alphas: int, n_rows: int) -> int:
        if self.n_targets_batch is not None:
            if int(self.n_targets_batch) < 1:
                raise ValueError(f"n_targets_batch must be >= 1, got {self.n_targets_batch}")
            return int(self.n_targets_batch)
        return max(1, min(n_targets, _BATCH_ELEMENTS // max(1, n_alphas * n_rows)))

    def fit(self, X, y, groups=None) -> "RidgeCV":
        """Choose alpha per target by cross-validation, then refit on all samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Must be finite.
        groups : array-like of shape (n_samples,), optional
            Overrides the ``groups`` given at construction.

        Returns
        -------
        self
        """
        device, dtype, alphas = self._setup()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1)
        groups = groups if groups is not None else self.groups
        splits = make_splits(X.shape[0], self.cv, groups)
        n_targets = Y.shape[1]
        batch = self._batch_size(n_targets, len(alphas), max(len(te) for _, te in splits))
        Xt = torch.tensor(X, dtype=dtype, device=device)
        alphas_t = torch.as_tensor(alphas, dtype=dtype, device=device)
        X64 = Xt.to(torch.float64)
        gram = X64.T @ X64 if Xt.shape[0] - max(len(te) for _, te in splits) >= Xt.shape[1] else X64 @ X64.T
        folds = [_Fold(Xt, gram, train, test, alphas_t, self.fit_intercept) for train, test in splits]
        del X64, gram
        scores = torch.zeros(len(alphas), n_targets, dtype=torch.float64, device=device)
        for cols in self._batches(n_targets, batch):
            y, _ = self._responses(Y, cols, dtype, device)
            total = y.sum(0)
            for fold in folds:
                y_test = y[fold.test_rows]
                if self.fit_intercept:  # centre by the training mean without copying the training rows
                    train_mean = (total - y_test.sum(0)) / (len(y) - len(y_test))
                    projected = fold.project(y).addr_(fold.u_sum, train_mean, alpha=-1)
                    y_test = y_test - train_mean
                else:
                    projected = fold.project(y)
                scores[:, cols] += _fold_scores(projected, fold.xte_v, fold.shrink, y_test, self.scoring)
        del folds
        scores /= len(splits)
        if self.alpha_per_target:
            best = scores.argmax(0)
        else:
            best = torch.full((n_targets,), int(scores.mean(1).argmax()), device=device)
        self._refit(Xt, Y, alphas_t, best, batch)
        self.cv_scores_ = scores.cpu().numpy()
        self.best_alphas_ = alphas[best.cpu().numpy()]
        self.alpha_ = float(self.best_alphas_[0]) if self._y_1d else self.best_alphas_
        self.n_splits_ = len(splits)
        return self

    @staticmethod
    def _batches(n_targets: int, batch: int) -> list[slice]:
        return [slice(start, start + batch) for start in range(0, n_targets, batch)]

    def _responses(self, Y: np.ndarray, cols: slice, dtype: torch.dtype,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """One target batch of responses (n_samples, batch) on the device, and their mean (batch,).

        With an intercept they are centred by that mean over all samples: every later centring (by a
        fold's training mean) is then a small correction, which keeps float32 sums accurate. Without
        one they are a read-only view of ``Y`` where dtype and device allow (the mean is then 0).
        """
        y = torch.as_tensor(np.require(Y[:, cols], requirements="W")).to(device=device, dtype=dtype)
        if not self.fit_intercept:
            return y, torch.zeros(y.shape[1], dtype=dtype, device=device)
        mean = y.mean(0)
        return y - mean, mean

    def _refit(self, Xt: torch.Tensor, Y: np.ndarray, alphas_t: torch.Tensor, best: torch.Tensor, batch: int) -> None:
        dtype, device = Xt.dtype, Xt.device
        x_mean = Xt.mean(0) if self.fit_intercept else torch.zeros(Xt.shape[1], dtype=dtype, device=device)
        u, s, vt = thin_svd(Xt - x_mean)
        coefs, intercepts = [], []
        for cols in self._batches(Y.shape[1], batch):
            y, y_mean = self._responses(Y, cols, dtype, device)
            shrink = s[:, None] / (s[:, None] ** 2 + alphas_t[best[cols]][None, :])  # (k, batch)
            coef = vt.T @ (shrink * (u.T @ y))  # (n_features, batch)
            coefs.append(coef.T.cpu().numpy())
            intercepts.append((y_mean - x_mean @ coef).cpu().numpy())
        coef_, intercept_ = np.concatenate(coefs), np.concatenate(intercepts)
        self.coef_ = coef_[0] if self._y_1d else coef_
        self.intercept_ = float(intercept_[0]) if self._y_1d else intercept_

    def predict(self, X) -> np.ndarray:
        """Predictions of shape (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        device = resolve_device(self.device)
        coef = torch.as_tensor(np.atleast_2d(self.coef_), device=device)
        Xt = torch.tensor(X, dtype=coef.dtype, device=device)
        out = (Xt @ coef.T + torch.as_tensor(np.atleast_1d(self.intercept_), device=device)).cpu().numpy()
        return out[:, 0] if self._y_1d else out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to a ``.safetensors`` file (coefficients, alphas, CV scores and the JSON
        parameters; a CV splitter object or ``groups`` array is not kept). :meth:`load` predicts identically."""
        check_is_fitted(self, "coef_")
        coef = np.atleast_2d(self.coef_)
        fortran = not coef.flags["C_CONTIGUOUS"]  # kept as laid out in memory: predictions stay bit-identical
        arrays = {"coef": coef.T if fortran else coef, "intercept": np.atleast_1d(self.intercept_),
                  "best_alphas": self.best_alphas_, "cv_scores": self.cv_scores_}
        settings = {"params": json_params(self.get_params()), "y_1d": bool(self._y_1d), "n_splits": self.n_splits_,
                    "n_features_in": int(self.n_features_in_), "coef_transposed": fortran}
        return write_encoder(path, type(self).__name__, arrays, settings)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> RidgeCV:
        """Rebuild a model written by :meth:`save` (no code is read from the file) to predict on ``device``."""
        tensors, settings = read_encoder(path, cls.__name__)
        model = cls(**{**settings["params"], "device": device})
        arrays = {k: v.numpy() for k, v in tensors.items()}
        model._y_1d = settings["y_1d"]
        coef = arrays["coef"].T if settings["coef_transposed"] else arrays["coef"]
        model.coef_ = coef[0] if model._y_1d else coef
        model.intercept_ = float(arrays["intercept"][0]) if model._y_1d else arrays["intercept"]
        model.best_alphas_, model.cv_scores_ = arrays["best_alphas"], arrays["cv_scores"]
        model.alpha_ = float(model.best_alphas_[0]) if model._y_1d else model.best_alphas_
        model.n_splits_, model.n_features_in_ = settings["n_splits"], settings["n_features_in"]
        return model
