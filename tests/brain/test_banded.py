"""BandedRidgeCV and variance partitioning: equality with himalaya and with a plain per-target grid search,
analytic cases, known band contributions, and errors on bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from cogvision.brain import BandedRidgeCV, RidgeCV, variance_partition
from cogvision.brain.banded import dirichlet_candidates

ALPHAS = np.logspace(-2, 4, 7)


def _data(n=70, sizes=(7, 9), t=8, seed=0):
    """Two bands (unequal sizes so transposed axes fail) whose share of the signal differs per target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, sum(sizes)))
    x[:, : sizes[0]] *= 2.0
    share = np.linspace(0, 1, t)
    y = (x[:, : sizes[0]] @ rng.normal(size=(sizes[0], t)) * np.sqrt(share)
         + x[:, sizes[0]:] @ rng.normal(size=(sizes[1], t)) * np.sqrt(1 - share) + 3 * rng.normal(size=(n, t)))
    bands = [np.arange(sizes[0]), np.arange(sizes[0], sum(sizes))]
    return x + 1.5, y + 10.0, bands


def synthetic_partition(n=800, t=40, parts=(0.2, 0.3, 0.15), seed=0):
    """Two bands that share 3 latent sources (fraction ``parts[0]`` of each target's variance) and each have
    5 sources of their own (``parts[1]``, ``parts[2]``); the rest is noise. X_B sees the shared sources
    through a mixing matrix, so each band predicts them equally well."""
    rng = np.random.default_rng(seed)
    s, a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 5)), rng.normal(size=(n, 5))
    x = np.hstack([s, a, s @ rng.normal(size=(3, 3)), b])

    def unit(k):
        v = rng.normal(size=(k, t))
        return v / np.linalg.norm(v, axis=0)

    y = sum(src @ unit(src.shape[1]) * np.sqrt(f) for src, f in zip((s, a, b), parts))
    y = y + rng.normal(size=(n, t)) * np.sqrt(1 - sum(parts))
    return x, y, [np.arange(8), np.arange(8, 16)]


@pytest.mark.parametrize("solver, sizes", [("primal", (7, 9)), ("kernel", (7, 9)), ("auto", (40, 45))])
@pytest.mark.parametrize("scoring", ["neg_mse", "r2"])
def test_equals_himalaya_random_search(solver, sizes, scoring):
    himalaya = pytest.importorskip("himalaya")  # noqa: F841  (in the "test" extras)
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import solve_multiple_kernel_ridge_random_search
    from himalaya.scoring import l2_neg_loss, r2_score

    set_backend("numpy")
    x, y, bands = _data(sizes=sizes)
    ours = BandedRidgeCV(bands=bands, alphas=ALPHAS, n_iter=9, cv=KFold(4), scoring=scoring, solver=solver,
                         device="cpu", dtype="float64", random_state=3).fit(x, y)
    ks = np.stack([x[:, b] @ x[:, b].T for b in bands])
    deltas, dual, cv_scores, best_alphas, intercept = solve_multiple_kernel_ridge_random_search(
        ks, y, n_iter=9, alphas=ALPHAS, score_func=l2_neg_loss if scoring == "neg_mse" else r2_score,
        cv=KFold(4), fit_intercept=True, return_weights="dual", random_state=3, progress_bar=False,
        return_alphas=True)
    x_new = np.random.default_rng(1).normal(size=(11, x.shape[1]))
    k_new = np.stack([x_new[:, b] @ x[:, b].T for b in bands])
    expected = (np.exp(deltas)[:, None, :] * (k_new @ dual)).sum(0) + intercept
    np.testing.assert_allclose(ours.cv_scores_, cv_scores, atol=1e-5)
    np.testing.assert_allclose(ours.best_alphas_, best_alphas)
    np.testing.assert_allclose(ours.deltas_, deltas)
    np.testing.assert_allclose(ours.predict(x_new), expected, atol=1e-5)


def test_equals_plain_per_target_grid_search():
    x, y, bands = _data(n=50, t=5)
    cand = np.array([[0.5, 0.5], [0.9, 0.1], [0.05, 0.95]])
    folds = list(KFold(3).split(x))
    ours = BandedRidgeCV(bands=bands, alphas=ALPHAS, n_iter=cand, cv=folds, device="cpu").fit(x, y)
    scores = np.zeros((len(cand), len(ALPHAS), y.shape[1]))
    for c, gamma in enumerate(cand):
        scale = np.concatenate([np.full(len(b), np.sqrt(g)) for b, g in zip(bands, gamma)])
        for a, alpha in enumerate(ALPHAS):
            for train, test in folds:
                pred = Ridge(alpha=alpha).fit(x[train] * scale, y[train]).predict(x[test] * scale)
                yt = y[test]
                scores[c, a] += (1 - ((yt - pred) ** 2).sum(0) / ((yt - yt.mean(0)) ** 2).sum(0)) / len(folds)
    np.testing.assert_allclose(ours.cv_scores_, scores.max(1), atol=1e-8)
    best = scores.reshape(-1, y.shape[1]).argmax(0)  # first maximum over (candidate, alpha): distinct here
    np.testing.assert_array_equal(ours.best_candidate_, best // len(ALPHAS))
    np.testing.assert_allclose(ours.best_alphas_, ALPHAS[best % len(ALPHAS)])
    for j in range(y.shape[1]):
        gamma = cand[ours.best_candidate_[j]]
        scale = np.concatenate([np.full(len(b), np.sqrt(g)) for b, g in zip(bands, gamma)])
        ref = Ridge(alpha=ours.best_alphas_[j]).fit(x * scale, y[:, j])
        np.testing.assert_allclose(ours.predict(x)[:, j], ref.predict(x * scale), atol=1e-8)


def test_one_band_is_ridgecv():
    x, y, _ = _data(t=6)
    ours = BandedRidgeCV(alphas=ALPHAS, cv=4, device="cpu").fit(x, y)
    ref = RidgeCV(alphas=ALPHAS, cv=4, device="cpu").fit(x, y)
    assert ours.candidates_.shape == (1, 1)
    np.testing.assert_allclose(ours.best_alphas_, ref.best_alphas_)
    np.testing.assert_allclose(ours.cv_scores_[0], ref.cv_scores_.max(0), atol=1e-8)
    np.testing.assert_allclose(ours.predict(x), ref.predict(x), atol=1e-8)


def test_primal_kernel_batches_and_column_order_agree():
    x, y, bands = _data(t=7)
    perm = np.random.default_rng(2).permutation(x.shape[1])  # bands need not be contiguous
    inv = np.argsort(perm)
    xp, bands_p = x[:, perm], [inv[b] for b in bands]
    base = dict(alphas=ALPHAS, n_iter=6, cv=3, device="cpu", random_state=0)
    ref = BandedRidgeCV(bands=bands, **base).fit(x, y)
    for model in (BandedRidgeCV(bands=bands_p, solver="kernel", **base),
                  BandedRidgeCV(bands=bands_p, solver="primal", n_targets_batch=3, **base)):
        model.fit(xp, y)
        np.testing.assert_allclose(model.cv_scores_, ref.cv_scores_, atol=1e-9)
        np.testing.assert_allclose(model.predict(xp), ref.predict(x), atol=1e-8)
        np.testing.assert_allclose(model.coef_[:, inv], ref.coef_, atol=1e-8)


def test_split_predictions_sum_and_a_zero_weight_band_is_off():
    x, y, bands = _data(t=4)
    model = BandedRidgeCV(bands=bands, alphas=ALPHAS, n_iter=np.array([[1.0, 0.0]]), cv=3, device="cpu").fit(x, y)
    split = model.predict(x, split=True)
    assert split.shape == (2, len(x), 4)
    np.testing.assert_allclose(split.sum(0) + model.y_mean_, model.predict(x), atol=1e-9)
    np.testing.assert_array_equal(split[1], 0)
    np.testing.assert_array_equal(model.coef_[:, bands[1]], 0)
    # band 0 alone is then plain ridge on band 0
    ref = Ridge(alpha=model.best_alphas_[0]).fit(x[:, bands[0]], y[:, 0])
    np.testing.assert_allclose(model.predict(x)[:, 0], ref.predict(x[:, bands[0]]), atol=1e-8)


def test_candidates_and_sklearn_conventions():
    cand = dirichlet_candidates(7, 3, (0.1, 1.0, np.inf), random_state=0)
    assert cand.shape == (7, 3)
    np.testing.assert_allclose(cand.sum(1), 1)
    np.testing.assert_allclose(cand[0], 1 / 3)
    np.testing.assert_allclose(cand[2], 1 / 3)  # the third draw is from concentration inf
    x, y, bands = _data(t=1)
    model = BandedRidgeCV(bands=bands, n_iter=3, cv=3, device="cpu", random_state=0)
    assert model.fit(x, y[:, 0]) is model and not hasattr(clone(model), "coef_")
    assert model.predict(x).shape == (len(x),) and model.predict(x, split=True).shape == (2, len(x))
    assert np.isscalar(model.score(x, y[:, 0]))


def test_group_cv_runs_with_leave_one_group_out():
    x, y, bands = _data(n=60, t=3)
    groups = np.repeat(np.arange(4), 15)
    model = BandedRidgeCV(bands=bands, n_iter=4, cv="logo", device="cpu", random_state=0).fit(x, y, groups=groups)
    assert model.n_splits_ == 4 and np.all(np.isfinite(model.cv_scores_))


@pytest.mark.parametrize("bands, X_edit, Y_rows, match", [
    ([[0, 1, 2, 3], [3, 4]], None, None, r"bands 0 and 1 overlap.*\[3\]"),
    ([[0, 1, 2], [3, 4]], None, None, r"columns \[5, 6\] of X are in no band"),
    ([[0, 1, 2, 3, 4, 5, 6], []], None, None, r"bands\[1\] is empty"),
    ([[0, 1, 2, 3], [4, 5, 6, 7]], None, None, r"bands\[1\] has columns \[7\] outside"),
    ([[0, 1, 2, 3], [4, 5, 6]], "nan", None, r"X has NaN or infinite values in columns \[5\]"),
    ([[0, 1, 2, 3], [4, 5, 6]], "constant", None, r"X has constant columns \[2\] \(band 0\)"),
    ([[0, 1, 2, 3], [4, 5, 6]], None, 19, r"Y has 19 rows but X has 20"),
    ([[0, 1, 2, 3], [4, 5, 6]], "nan_y", None, r"Y has NaN"),
])
def test_bad_input_names_the_fault(bands, X_edit, Y_rows, match):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 7)), rng.normal(size=(Y_rows or 20, 2))
    if X_edit == "nan":
        x[3, 5] = np.nan
    elif X_edit == "constant":
        x[:, 2] = 4.0
    elif X_edit == "nan_y":
        y[0, 1] = np.nan
    with pytest.raises(ValueError, match=match):
        BandedRidgeCV(bands=bands, n_iter=2, cv=3, device="cpu").fit(x, y)
    with pytest.raises(ValueError, match=match):
        variance_partition(x, y, bands, cv=3, n_iter=2, inner_cv=3, device="cpu")


def test_variance_partition_recovers_known_contributions():
    x, y, bands = synthetic_partition()
    ds = variance_partition(x, y, bands, cv=5, band_names=["A", "B"], n_iter=5, inner_cv=3, alphas=ALPHAS,
                            device="cpu")
    assert ds["unique"].dims == ("band", "target") and ds["shared"].dims == ("target",)
    unique = ds["unique"].mean("target")
    assert abs(float(unique.sel(band="A")) - 0.30) < 0.02
    assert abs(float(unique.sel(band="B")) - 0.15) < 0.02
    assert abs(float(ds["shared"].mean()) - 0.20) < 0.02
    np.testing.assert_allclose(ds["unique"].sum("band") + ds["shared"], ds["joint"], atol=1e-12)


def test_variance_partition_corrections_of_negative_estimates():
    # pure noise: raw estimates scatter around 0 (some negative); clipped ones are all >= 0
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 6)), rng.normal(size=(60, 30))
    kw = dict(cv=3, n_iter=3, inner_cv=3, device="cpu")
    raw = variance_partition(x, y, [[0, 1, 2], [3, 4, 5]], correction="none", **kw)
    clipped = variance_partition(x, y, [[0, 1, 2], [3, 4, 5]], **kw)
    assert (raw["joint"] < 0).any() and (raw["unique"] < 0).any()
    assert (clipped["unique"] >= 0).all() and (clipped["shared"] >= 0).all() and (clipped["joint"] >= 0).all()
    assert clipped.attrs["n_clipped_unique"] > 0
    with pytest.raises(ValueError, match="correction"):
        variance_partition(x, y, [[0, 1, 2], [3, 4, 5]], correction="abs", **kw)
    with pytest.raises(ValueError, match="at least two bands"):
        variance_partition(x, y, [[0, 1, 2, 3, 4, 5]], **kw)


def test_passes_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(BandedRidgeCV(n_iter=3, device="cpu"))


def test_three_bands_partition_uses_leave_one_band_out_models():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 9))
    y = x[:, :3].sum(1, keepdims=True) * np.array([[1.0, 0.0]]) + x[:, 3:6].sum(1, keepdims=True) * 0.7
    y = y + rng.normal(size=(300, 2))
    ds = variance_partition(x, y, [[0, 1, 2], [3, 4, 5], [6, 7, 8]], cv=3, n_iter=4, inner_cv=3, alphas=ALPHAS,
                            correction="none", device="cpu")
    np.testing.assert_allclose(ds["unique"], ds["joint"].values[None] - ds["without"].values, atol=1e-12)
    # band 2 is noise: it explains nothing uniquely; band 0 carries target 0's extra signal only
    assert np.all(np.abs(ds["unique"].sel(band="band2").values) < 0.02)
    assert float(ds["unique"].sel(band="band0", target=0)) > 0.3 > abs(float(ds["unique"].sel(band="band0", target=1)))


def _ridge_cv_score(x, y, bands, deltas, folds, scoring="r2", fit_intercept=True):
    """Mean held-out score per target of sklearn ``Ridge`` with band penalties ``exp(-deltas)`` (n_bands, t)."""
    out = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        scale = np.concatenate([np.full(len(b), np.exp(d / 2)) for b, d in zip(bands, deltas[:, j])])
        for train, test in folds:
            ridge = Ridge(alpha=1.0, fit_intercept=fit_intercept).fit(x[train] * scale, y[train, j])
            err, yt = y[test, j] - ridge.predict(x[test] * scale), y[test, j]
            out[j] += (-(err**2).mean() if scoring == "neg_mse"
                       else 1 - (err**2).sum() / ((yt - yt.mean()) ** 2).sum()) / len(folds)
    return out


COARSE = dict(alphas=[1.0, 1e3], n_iter=np.array([[0.5, 0.5], [0.95, 0.05]]), device="cpu", dtype="float64")


@pytest.mark.parametrize("solver, scoring", [("primal", "r2"), ("kernel", "neg_mse")])
def test_gradient_refinement_improves_the_cv_score_and_matches_a_direct_solve(solver, scoring):
    x, y, bands = _data(n=80, t=12)
    folds = list(KFold(4).split(x))
    base = BandedRidgeCV(bands=bands, cv=folds, solver=solver, scoring=scoring, **COARSE).fit(x, y)
    model = BandedRidgeCV(bands=bands, cv=folds, solver=solver, scoring=scoring, refine=30, refine_lr=0.2,
                          **COARSE).fit(x, y)
    before = _ridge_cv_score(x, y, bands, base.deltas_, folds, scoring)
    after = _ridge_cv_score(x, y, bands, model.deltas_, folds, scoring)
    np.testing.assert_allclose(base.best_scores_, before, atol=1e-8)  # the random search's own score
    np.testing.assert_allclose(model.best_scores_, after, atol=1e-8)  # the refined score is a true CV score
    assert np.all(after >= before - 1e-10)  # never worse (the better of before/after is kept)
    assert np.mean(after > before + 1e-4) >= 0.9 and model.refined_.mean() >= 0.9
    np.testing.assert_array_equal(model.cv_scores_, base.cv_scores_)  # the random search is untouched
    # the stored hyperparameters are consistent, and the fit is ridge with them on all samples
    np.testing.assert_allclose(model.band_weights_.sum(0), 1)
    np.testing.assert_allclose(np.log(model.band_weights_ / model.best_alphas_), model.deltas_, atol=1e-12)
    x_new = np.random.default_rng(5).normal(size=(9, x.shape[1]))
    for j in range(y.shape[1]):
        scale = np.concatenate([np.full(len(b), np.sqrt(g)) for b, g in zip(bands, model.band_weights_[:, j])])
        ref = Ridge(alpha=model.best_alphas_[j]).fit(x * scale, y[:, j])
        np.testing.assert_allclose(model.predict(x_new)[:, j], ref.predict(x_new * scale), atol=1e-8)
    split = model.predict(x_new, split=True)
    np.testing.assert_allclose(split.sum(0) + model.y_mean_, model.predict(x_new), atol=1e-9)


def test_gradient_refinement_forms_agree_and_keep_a_better_random_search():
    x, y, bands = _data(n=60, t=5)
    kw = dict(bands=bands, cv=3, refine=10, **COARSE)
    primal = BandedRidgeCV(solver="primal", n_targets_batch=2, **kw).fit(x, y)
    kernel = BandedRidgeCV(solver="kernel", **kw).fit(x, y)
    np.testing.assert_allclose(primal.best_scores_, kernel.best_scores_, atol=1e-8)
    np.testing.assert_allclose(primal.predict(x), kernel.predict(x), atol=1e-6)
    # steps too large to help (log penalties jump by 50): most targets keep the random search exactly
    kept = BandedRidgeCV(solver="primal", **{**kw, "refine": 2, "refine_lr": 50.0}).fit(x, y)
    base = BandedRidgeCV(solver="primal", **{**kw, "refine": 0}).fit(x, y)
    assert not base.refined_.any() and (~kept.refined_).sum() >= 3
    same = ~kept.refined_
    np.testing.assert_array_equal(kept.deltas_[:, same], base.deltas_[:, same])
    np.testing.assert_array_equal(kept.best_scores_[same], base.best_scores_[same])
    np.testing.assert_allclose(kept.predict(x)[:, same], base.predict(x)[:, same], atol=1e-12)
    assert np.all(kept.best_scores_[~same] > base.best_scores_[~same])


def test_gradient_refinement_is_at_least_as_good_as_himalaya_hyper_gradient():
    """Not equal (different optimisers and stopping): on a tiny problem without intercept (himalaya's
    hyper-gradient solver has none), from the same start, our refined CV loss is no worse than
    himalaya's after 50 of its iterations, target by target (within 1%)."""
    pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import solve_multiple_kernel_ridge_hyper_gradient
    from himalaya.scoring import l2_neg_loss

    set_backend("numpy")
    x, y, bands = _data(n=80, t=6)
    x, y = x - x.mean(0), y - y.mean(0)
    folds = list(KFold(4).split(x))
    kw = dict(bands=bands, alphas=[1.0], n_iter=np.array([[0.5, 0.5]]), cv=folds, scoring="neg_mse",
              fit_intercept=False, device="cpu", dtype="float64")
    start = BandedRidgeCV(**kw).fit(x, y)
    ours = BandedRidgeCV(refine=60, refine_lr=0.1, **kw).fit(x, y)
    ks = np.stack([x[:, b] @ x[:, b].T for b in bands])
    deltas = solve_multiple_kernel_ridge_hyper_gradient(
        ks, y, score_func=l2_neg_loss, cv=folds, fit_intercept=False, initial_deltas=np.log(0.5), max_iter=50,
        tol=None, kernel_ridge_method="conjugate_gradient", max_iter_inner_dual=20, progress_bar=False)[0]
    loss = {name: -_ridge_cv_score(x, y, bands, d, folds, "neg_mse", fit_intercept=False)
            for name, d in [("start", start.deltas_), ("ours", ours.deltas_), ("himalaya", np.asarray(deltas))]}
    assert np.all(loss["himalaya"] <= loss["start"] + 1e-9)  # the comparison is meaningful: it improved too
    assert np.all(loss["ours"] <= loss["himalaya"] * 1.01)


@pytest.mark.parametrize("params, match", [
    ({"refine": -1}, "refine must be a number of gradient steps"),
    ({"refine": 2.5}, "refine must be a number of gradient steps"),
    ({"refine": True}, "refine must be a number of gradient steps"),
    ({"refine": 5, "refine_lr": 0.0}, "refine_lr must be a finite step size > 0"),
    ({"refine": 5, "refine_lr": float("nan")}, "refine_lr must be a finite step size > 0"),
])
def test_bad_refinement_parameters(params, match):
    x, y, bands = _data(n=30, t=2)
    with pytest.raises(ValueError, match=match):
        BandedRidgeCV(bands=bands, n_iter=2, cv=3, device="cpu", **params).fit(x, y)


def test_partition_pair_terms_are_the_venn_regions_of_an_exact_set_function():
    """Four bands, a known value for each of the 15 Venn regions; R2(S) = sum of the regions that meet S.
    Unique, pair-specific and higher-order terms must return the regions exactly (no clipping needed)."""
    from itertools import combinations

    from cogvision.brain.partition import model_subsets, partition_r2

    rng = np.random.default_rng(0)
    regions = {frozenset(s): rng.uniform(0.01, 0.05, size=3) for r in range(1, 5) for s in combinations(range(4), r)}
    r2 = {name: sum(v for s, v in regions.items() if s & set(bands)) for name, bands in
          model_subsets(4, pairs=True).items()}
    ds = partition_r2(r2, list("abcd"), correction="none")
    for b in range(4):
        np.testing.assert_allclose(ds["unique"][b], regions[frozenset([b])], atol=1e-14)
    for i, (b, c) in enumerate(combinations(range(4), 2)):
        assert str(ds["pair"][i].values) == "abcd"[b] + "&" + "abcd"[c]
        np.testing.assert_allclose(ds["pair_shared"][i], regions[frozenset([b, c])], atol=1e-14)
    higher = sum(v for s, v in regions.items() if len(s) >= 3)
    np.testing.assert_allclose(ds["shared_higher"], higher, atol=1e-14)
    np.testing.assert_allclose(ds["shared"], ds["pair_shared"].sum("pair") + ds["shared_higher"], atol=1e-14)
    assert "pair_shared" not in partition_r2({k: v for k, v in r2.items() if "-" not in k}, list("abcd"))
    assert "pair_shared" not in partition_r2(r2, list("abcd"), pairs=False)


def synthetic_three_bands(n=900, t=30, seed=3):
    """Three bands: sources shared by all three (0.10 of each target's variance), by A and B only (0.15),
    and each band's own (A 0.15, B 0.10, C 0.10); the rest (0.40) is noise. Each band sees the shared
    sources through its own mixing matrix."""
    rng = np.random.default_rng(seed)
    src = {name: rng.normal(size=(n, 3)) for name in ("abc", "ab", "a", "b", "c")}
    parts = {"abc": 0.10, "ab": 0.15, "a": 0.15, "b": 0.10, "c": 0.10}

    def seen(name):
        return src[name] @ rng.normal(size=(3, 3))

    x = np.hstack([src["abc"], src["ab"], src["a"], seen("abc"), seen("ab"), src["b"], seen("abc"), src["c"]])
    bands = [np.arange(9), np.arange(9, 18), np.arange(18, 24)]
    y = rng.normal(size=(n, t)) * np.sqrt(0.40)
    for name, f in parts.items():
        w = rng.normal(size=(3, t))
        y += src[name] @ (w / np.linalg.norm(w, axis=0)) * np.sqrt(f)
    return x, y, bands


def test_variance_partition_recovers_known_pair_specific_shared_variance():
    x, y, bands = synthetic_three_bands()
    ds = variance_partition(x, y, bands, cv=5, band_names=["A", "B", "C"], n_iter=5, inner_cv=3, alphas=ALPHAS,
                            device="cpu")
    mean = ds.mean("target")
    expected_unique = {"A": 0.15, "B": 0.10, "C": 0.10}
    expected_pair = {"A&B": 0.15, "A&C": 0.0, "B&C": 0.0}
    for band, v in expected_unique.items():
        assert abs(float(mean["unique"].sel(band=band)) - v) < 0.02, band
    for pair, v in expected_pair.items():
        assert abs(float(mean["pair_shared"].sel(pair=pair)) - v) < 0.02, pair
    assert abs(float(mean["shared_higher"]) - 0.10) < 0.02
    with pytest.raises(ValueError, match="pairs must be"):
        variance_partition(x[:30], y[:30], bands, cv=3, pairs="yes")
