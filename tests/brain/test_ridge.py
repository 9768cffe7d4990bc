"""RidgeCV: scikit-learn contract, equality with scikit-learn, per-target alphas, group CV."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.linear_model import RidgeCV as SkRidgeCV
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import check_estimator

from cogvision.brain.ridge import RidgeCV, make_splits

ALPHAS = np.logspace(-2, 4, 7)


def _data(n=90, p=13, t=7, noise=3.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    return x, x @ rng.normal(size=(p, t)) + noise * rng.normal(size=(n, t))


def test_passes_sklearn_estimator_checks():
    check_estimator(RidgeCV(device="cpu"))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_shared_alpha_equals_sklearn_ridgecv(fit_intercept):
    x, y = _data()
    ours = RidgeCV(alphas=ALPHAS, cv=5, alpha_per_target=False, fit_intercept=fit_intercept, device="cpu",
                   dtype="float64").fit(x, y)
    ref = SkRidgeCV(alphas=ALPHAS, cv=KFold(5), fit_intercept=fit_intercept).fit(x, y)
    assert ours.best_alphas_[0] == ref.alpha_
    np.testing.assert_allclose(ours.predict(x), ref.predict(x), atol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


def test_per_target_predictions_equal_sklearn_ridge_with_chosen_alphas():
    x, y = _data(p=30, t=9)
    ours = RidgeCV(alphas=ALPHAS, cv=4, device="cpu", dtype="float64", n_targets_batch=2).fit(x, y)
    ref = np.stack([Ridge(alpha=a).fit(x, y[:, j]).predict(x) for j, a in enumerate(ours.best_alphas_)], 1)
    np.testing.assert_allclose(ours.predict(x), ref, atol=1e-6)


@pytest.mark.parametrize("p, shuffle, fit_intercept", [(13, False, True), (13, True, False), (150, True, True)])
def test_cv_scores_equal_explicit_fold_loop(p, shuffle, fit_intercept):
    # contiguous and scattered training rows, tall and wide features, offset features and responses
    x, y = _data(p=p, t=4)
    x, y = x + 3.0, y + 50.0
    cv = KFold(3, shuffle=shuffle, random_state=0 if shuffle else None)
    ours = RidgeCV(alphas=ALPHAS, cv=cv, fit_intercept=fit_intercept, device="cpu").fit(x, y)
    expected = np.zeros((len(ALPHAS), 4))
    for train, test in cv.split(x):
        for i, alpha in enumerate(ALPHAS):
            pred = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(x[train], y[train]).predict(x[test])
            sse = ((y[test] - pred) ** 2).sum(0)
            expected[i] += 1 - sse / ((y[test] - y[test].mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(ours.cv_scores_, expected / 3, atol=1e-8)


def test_targets_that_need_different_alphas_get_them():
    # a dense, clean target needs a small alpha; a target that is pure noise needs the largest one
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 40))
    clean = x @ rng.normal(size=40)
    noise = rng.normal(size=120)
    y = np.stack([clean + 0.01 * rng.normal(size=120), noise], 1)
    model = RidgeCV(alphas=ALPHAS, cv=5, device="cpu").fit(x, y)
    assert model.best_alphas_[0] <= 1.0
    assert model.best_alphas_[1] == ALPHAS.max()


@pytest.mark.parametrize("mixing", [False, True])
def test_float32_close_to_float64(mixing):
    """Float32 fits (their CV bases decomposed in float32) score alphas and predict as float64 ones do, also
    with correlated features (condition number of the features about 1e3)."""
    x, y = _data()
    if mixing:
        rng = np.random.default_rng(1)
        x = x @ (rng.normal(size=(13, 13)) * np.logspace(0, -3, 13)[:, None])
        y = x @ rng.normal(size=(13, 7)) + 0.5 * rng.normal(size=y.shape)
    a = RidgeCV(alphas=ALPHAS, device="cpu", dtype="float64").fit(x, y)
    b = RidgeCV(alphas=ALPHAS, device="cpu", dtype="float32").fit(x.astype(np.float32), y.astype(np.float32))
    np.testing.assert_allclose(b.cv_scores_, a.cv_scores_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(b.best_alphas_, a.best_alphas_)
    np.testing.assert_allclose(a.predict(x), b.predict(x.astype(np.float32)), atol=1e-3)


def test_group_cv_never_mixes_groups():
    groups = np.repeat(np.arange(6), 7)[np.random.default_rng(0).permutation(42)]
    for cv in ("logo", 3):
        splits = make_splits(42, cv, groups)
        for train, test in splits:
            assert not set(groups[train]) & set(groups[test])
        assert sorted(np.concatenate([te for _, te in splits]).tolist()) == list(range(42))
    assert len(make_splits(42, "logo", groups)) == 6


def test_group_fit_uses_leave_one_group_out():
    x, y = _data(n=60)
    groups = np.repeat(np.arange(5), 12)
    model = RidgeCV(alphas=ALPHAS, cv="logo", device="cpu").fit(x, y, groups=groups)
    assert model.n_splits_ == 5
    with pytest.raises(ValueError, match="needs groups"):
        RidgeCV(cv="logo", device="cpu").fit(x, y)
    with pytest.raises(ValueError, match="groups has shape"):
        RidgeCV(cv="logo", device="cpu").fit(x, y, groups=groups[:-1])


def test_score_per_target_pearson_and_r2():
    x, y = _data(t=3)
    model = RidgeCV(alphas=ALPHAS, device="cpu").fit(x[:60], y[:60])
    r = model.score(x[60:], y[60:], metric="pearson", per_target=True)
    assert r.shape == (3,) and np.all(r > 0.3)
    pred = model.predict(x[60:])
    np.testing.assert_allclose(r, [np.corrcoef(pred[:, j], y[60:, j])[0, 1] for j in range(3)], atol=1e-10)
    assert isinstance(model.score(x[60:], y[60:]), float)


def test_bad_inputs_give_clear_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RidgeCV(device="cpu").fit(x, y[:-1])
    y_nan = y.copy()
    y_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RidgeCV(device="cpu").fit(x, y_nan)
    with pytest.raises(ValueError, match="alphas"):
        RidgeCV(alphas=[0.0, 1.0], device="cpu").fit(x, y)
    with pytest.raises(ValueError, match="scoring"):
        RidgeCV(scoring="auc", device="cpu").fit(x, y)
