"""cogvision RidgeCV against himalaya's RidgeCV (torch backend) and scikit-learn's RidgeCV, side by side.

Same data, same alphas, same 5 folds (KFold, no shuffle), alpha chosen per target by held-out
squared error (``scoring="neg_mse"``, himalaya's default) for cogvision and himalaya; scikit-learn's
``RidgeCV(cv=KFold(5))`` cannot choose alpha per target with a CV splitter, so it chooses one alpha for
all targets (its own default behaviour) and is timed as the baseline that users reach for.

    .venv/bin/python benchmarks/ridge_speed.py            # n=2000, p=1000, 10,000 targets, 10 alphas
    .venv/bin/python benchmarks/ridge_speed.py --small    # n=500, p=200, 1,000 targets

Writes benchmarks/results/ridge_speed.json (or ``--out``) and prints time ratios, the share of targets
for which himalaya chose the same alpha, and the largest prediction difference to cogvision's
predictions over those targets (per dtype). Both libraries are warmed up on a small fit first.
``prediction_floor_s`` is the time of the held-out prediction products alone (every alpha, every target,
every fold), which no exact K-fold scoring can avoid; ``sklearn_over_floor`` is the largest speed-up over
scikit-learn that such a floor allows.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from results_file import write_result
from sklearn.linear_model import RidgeCV as SkRidgeCV
from sklearn.model_selection import KFold

from cogvision.brain.ridge import RidgeCV
from cogvision.device import resolve_device


def make_data(n: int, p: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    w = rng.normal(size=(p, t)) * (rng.random((p, t)) < 0.1)
    y = x @ w / np.sqrt(0.1 * p) + rng.normal(size=(n, t)) * rng.uniform(0.5, 5, t)
    return x, y


def prediction_floor(n: int, p: int, t: int, n_alphas: int, folds: int, dtype: str, device: torch.device) -> float:
    """Seconds of the products any exact K-fold scoring of every alpha for every target must do: per fold,
    the held-out predictions, ``(n_alphas * n_test) x k`` times ``k x t`` (k = min(p, n_train)), timed once
    and multiplied by ``folds``."""
    n_test = n // folds
    k = min(p, n - n_test)
    a = torch.randn(n_alphas * n_test, k, dtype=getattr(torch, dtype), device=device)
    b = torch.randn(k, t, dtype=a.dtype, device=device)
    a @ b  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return folds * (time.perf_counter() - start)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="n=500, p=200, 1,000 targets")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ridge_speed.json")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--skip-sklearn", action="store_true", help="leave scikit-learn out (slow at full size)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, p, t = (500, 200, 1000) if args.small else (2000, 1000, 10_000)
    alphas = np.logspace(-1, 6, 10)
    device = resolve_device(args.device)
    x, y = make_data(n, p, t)
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    backend = set_backend("torch_cuda" if device.type == "cuda" else "torch", on_error="raise")
    for dtype in ("float32", "float64"):  # warm-up (CUDA context, solver handles) outside the timed fits
        xs, ys = make_data(200, 50, 100)
        RidgeCV(alphas=alphas, cv=5, device=device, dtype=dtype).fit(xs.astype(dtype), ys.astype(dtype))
        HimalayaRidgeCV(alphas=alphas, cv=KFold(5)).fit(backend.asarray(xs.astype(dtype)),
                                                         backend.asarray(ys.astype(dtype)))
    rows = []
    for dtype in ("float32", "float64"):
        xd, yd = x.astype(dtype), y.astype(dtype)
        ours_s, ours = timed(lambda: RidgeCV(alphas=alphas, cv=5, scoring="neg_mse", device=device,
                                             dtype=dtype).fit(xd, yd))
        pred = ours.predict(xd)
        row = {"dtype": dtype, "cogvision_s": ours_s,
               "prediction_floor_s": prediction_floor(n, p, t, len(alphas), 5, dtype, device)}
        hx, hy = backend.asarray(xd), backend.asarray(yd)
        him_s, him = timed(lambda: HimalayaRidgeCV(alphas=alphas, cv=KFold(5), fit_intercept=True).fit(hx, hy))
        him_pred = backend.to_numpy(him.predict(hx))
        same = np.isclose(backend.to_numpy(him.best_alphas_), ours.best_alphas_, rtol=1e-4)
        # a target whose two best alphas score within float error of each other may pick either: compare
        # predictions where both chose the same alpha, and report how often that is
        row.update(himalaya_s=him_s, himalaya_same_alpha=float(same.mean()),
                   himalaya_max_abs_diff=float(np.abs(him_pred - pred)[:, same].max()))
        if not args.skip_sklearn:
            sk_s, sk = timed(lambda: SkRidgeCV(alphas=alphas, cv=KFold(5)).fit(xd, yd))
            shared = RidgeCV(alphas=alphas, cv=5, alpha_per_target=False, device=device, dtype=dtype).fit(xd, yd)
            row.update(sklearn_s=sk_s, sklearn_max_abs_diff=float(np.abs(sk.predict(xd) - shared.predict(xd)).max()),
                       sklearn_over_floor=sk_s / row["prediction_floor_s"])
        rows.append(row)
    result = {"n": n, "p": p, "targets": t, "alphas": len(alphas), "folds": 5, "device": str(device),
              "cpu_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "rows": rows}
    out = args.out
    write_result(out, result)
    print(f"n={n} p={p} targets={t} alphas={len(alphas)} folds=5 device={device}")
    print(f"{'dtype':8} {'ours s':>8} {'himalaya s':>11} {'x himalaya':>10} {'sklearn s':>10} {'x sklearn':>10} "
          f"{'same alpha':>10} {'max|d| him':>11} {'max|d| skl':>11}")
    for r in rows:
        sk = r.get("sklearn_s", float("nan"))
        print(f"{r['dtype']:8} {r['cogvision_s']:8.2f} {r['himalaya_s']:11.2f} "
              f"{r['himalaya_s'] / r['cogvision_s']:10.2f} {sk:10.2f} {sk / r['cogvision_s']:10.2f} "
              f"{r['himalaya_same_alpha']:10.4f} {r['himalaya_max_abs_diff']:11.2e} "
              f"{r.get('sklearn_max_abs_diff', float('nan')):11.2e}")


if __name__ == "__main__":
    main()
