"""cogvision BandedRidgeCV against himalaya's multiple-kernel ridge random search, side by side.

Same data, same band-weight candidates (himalaya's Dirichlet draws for the same seed and concentrations,
which cogvision reproduces), same alphas, same 5 folds (KFold, no shuffle), same score (``neg_mse``,
himalaya's ``l2_neg_loss``), both with an intercept and a refit on all samples. himalaya runs
``solve_multiple_kernel_ridge_random_search(..., return_weights="dual", fit_intercept=True)`` on the
two precomputed linear kernels (what ``MultipleKernelRidgeCV`` runs), on its torch backend; with
``--himalaya-primal`` its banded-ridge solver ``solve_group_ridge_random_search`` is timed as well.

    .venv/bin/python benchmarks/banded_speed.py --threads 2          # n=2000, bands 500+500, 5,000 targets
    .venv/bin/python benchmarks/banded_speed.py --small --threads 2  # n=500, bands 100+100, 1,000 targets

Both sizes use 20 candidates and 10 alphas. Writes benchmarks/results/banded_speed.json (or
``banded_speed_small.json``, or ``--out``) with the times, their ratio, the share of targets for which
both chose the same (candidate, alpha), and the largest differences of CV scores and predictions.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import torch
from results_file import write_result
from ridge_speed import timed
from sklearn.model_selection import KFold

from cogvision.brain.banded import BandedRidgeCV
from cogvision.device import resolve_device

N_ITER, ALPHAS, FOLDS, SEED = 20, np.logspace(-1, 6, 10), 5, 0


def make_data(n: int, p_band: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two bands with different, target-dependent shares of the signal, plus noise of varying size."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2 * p_band))
    share = rng.random(t)
    w = rng.normal(size=(2 * p_band, t)) / np.sqrt(p_band)
    w[:p_band] *= np.sqrt(share)
    w[p_band:] *= np.sqrt(1 - share)
    return x, x @ w + rng.normal(size=(n, t)) * rng.uniform(0.5, 3, t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="n=500, two bands of 100 features, 1,000 targets")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads for both (0: torch's default)")
    parser.add_argument("--himalaya-primal", action="store_true", help="also time himalaya's banded (primal) solver")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, p_band, t = (500, 100, 1000) if args.small else (2000, 500, 5000)
    device = resolve_device(args.device)
    x, y = make_data(n, p_band, t)
    x, y = x.astype(args.dtype), y.astype(args.dtype)
    bands = [np.arange(p_band), np.arange(p_band, 2 * p_band)]
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import solve_multiple_kernel_ridge_random_search
    from himalaya.ridge import solve_group_ridge_random_search

    backend = set_backend("torch_cuda" if device.type == "cuda" else "torch", on_error="raise")

    def ours_fit(xx, yy):
        bands = [np.arange(xx.shape[1] // 2), np.arange(xx.shape[1] // 2, xx.shape[1])]
        return BandedRidgeCV(bands=bands, alphas=ALPHAS, n_iter=N_ITER, cv=KFold(FOLDS), scoring="neg_mse",
                             device=device, dtype=args.dtype, random_state=SEED).fit(xx, yy)

    def himalaya_fit(xx, yy):
        bands = [np.arange(xx.shape[1] // 2), np.arange(xx.shape[1] // 2, xx.shape[1])]
        ks = backend.asarray(np.stack([xx[:, b] @ xx[:, b].T for b in bands]))  # the kernels are part of the fit
        return solve_multiple_kernel_ridge_random_search(
            ks, backend.asarray(yy), n_iter=N_ITER, alphas=backend.asarray(ALPHAS.astype(args.dtype)),
            cv=KFold(FOLDS), fit_intercept=True, return_weights="dual", random_state=SEED, progress_bar=False,
            return_alphas=True), ks

    def himalaya_primal_fit(xx, yy):
        return solve_group_ridge_random_search(
            [backend.asarray(xx[:, b]) for b in bands], backend.asarray(yy), n_iter=N_ITER,
            alphas=backend.asarray(ALPHAS.astype(args.dtype)), cv=KFold(FOLDS), fit_intercept=True,
            return_weights=True, random_state=SEED, progress_bar=False, warn=False)

    load_before = os.getloadavg()[0]  # the machine may be shared: record how busy it was
    xs, ys = make_data(100, 10, 20, seed=1)  # warm-up (solver handles, thread pools) outside the timed fits
    ours_fit(xs.astype(args.dtype), ys.astype(args.dtype))
    himalaya_fit(xs.astype(args.dtype), ys.astype(args.dtype))

    ours_s, ours = timed(lambda: ours_fit(x, y))
    him_s, ((deltas, dual, cv_scores, best_alphas, intercept), ks) = timed(lambda: himalaya_fit(x, y))
    deltas, dual, cv_scores, best_alphas, intercept = (backend.to_numpy(a) for a in
                                                       (deltas, dual, cv_scores, best_alphas, intercept))
    him_pred = (np.exp(deltas)[:, None, :] * (backend.to_numpy(ks) @ dual)).sum(0) + intercept
    pred = ours.predict(x)
    same = np.all(np.isclose(deltas, ours.deltas_, rtol=1e-6, atol=0), axis=0)
    row = {"dtype": args.dtype, "cogvision_s": ours_s, "himalaya_kernel_s": him_s,
           "himalaya_kernel_over_cogvision": him_s / ours_s, "same_choice": float(same.mean()),
           "max_abs_diff_cv_scores": float(np.abs(cv_scores - ours.cv_scores_).max()),
           "max_abs_diff_predictions": float(np.abs(him_pred - pred)[:, same].max()),
           "max_abs_prediction": float(np.abs(pred).max())}
    if args.himalaya_primal:
        primal_s, (p_deltas, p_coef, p_cv, p_intercept) = timed(lambda: himalaya_primal_fit(x, y))
        p_pred = x @ backend.to_numpy(p_coef) + backend.to_numpy(p_intercept)
        row.update(himalaya_primal_s=primal_s, himalaya_primal_over_cogvision=primal_s / ours_s,
                   himalaya_primal_max_abs_diff_predictions=float(np.abs(p_pred - pred)[:, same].max()))
    result = {"n": n, "bands": [p_band, p_band], "targets": t, "candidates": N_ITER, "alphas": len(ALPHAS),
              "folds": FOLDS, "device": str(device), "cpu_threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average_1min": [load_before, os.getloadavg()[0]],
              "solver": "primal" if 2 * p_band <= n - n // FOLDS else "kernel", "rows": [row]}
    out = args.out or Path(__file__).parent / "results" / f"banded_speed{'_small' if args.small else ''}.json"
    write_result(out, result)
    print(f"n={n} bands={p_band}+{p_band} targets={t} candidates={N_ITER} alphas={len(ALPHAS)} folds={FOLDS} "
          f"device={device} threads={torch.get_num_threads()} dtype={args.dtype}")
    for key, value in row.items():
        print(f"  {key:42} {value}")


if __name__ == "__main__":
    main()
