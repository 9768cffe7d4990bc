"""Peak memory of BandedRidgeCV against one RidgeCV fit of the same size, side by side (goal: within 2x).

Each fit runs in its own fresh Python process (``--one ridge|banded``), which reports its peak resident set
size above the data it was given (``ru_maxrss`` after building X and Y, subtracted from the peak after the
fit); the driver runs both and writes ``benchmarks/results/banded_memory.json``. Problem: the issue's
(n=2000, two bands of 500 features, 5,000 targets, 10 alphas, 5 folds; 20 candidates for the banded fit),
float64 on the CPU.

Usage: ``python benchmarks/banded_memory.py [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

from results_file import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "banded_memory.json"


def one(kind: str, threads: int) -> dict:
    """Fit one estimator in this process; return its peak memory in MiB."""
    import numpy as np
    import torch

    from cogvision.brain import BandedRidgeCV, RidgeCV

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    n, p, t = 2000, 1000, 5000
    x = rng.standard_normal((n, p))
    y = x[:, :50] @ rng.standard_normal((50, t)) + rng.standard_normal((n, t))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    alphas = np.logspace(-2, 5, 10)
    if kind == "ridge":
        RidgeCV(alphas=alphas, cv=5, device="cpu", dtype="float64").fit(x, y)
    else:
        BandedRidgeCV(bands=[np.arange(500), np.arange(500, 1000)], alphas=alphas, n_iter=20, cv=5, device="cpu",
                      random_state=0).fit(x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"fit": kind, "peak_mib": peak / 1024, "above_data_mib": (peak - base) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", choices=["ridge", "banded"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.threads)))
        return
    rows = []
    for kind in ("ridge", "banded"):
        done = subprocess.run([sys.executable, __file__, "--one", kind, "--threads", str(args.threads)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    ratio = rows[1]["above_data_mib"] / rows[0]["above_data_mib"]
    result = {"problem": "n=2000, bands 500+500, 5000 targets, 10 alphas, 5 folds, 20 candidates, float64, CPU",
              "threads": args.threads, "rows": rows, "banded_over_ridge_above_data": ratio, "goal_ratio": 2.0}
    write_result(args.out, result)
    for r in rows:
        print(f"{r['fit']:<8} peak {r['peak_mib']:8.0f} MiB, above the data {r['above_data_mib']:8.0f} MiB")
    print(f"banded / ridge (above the data): {ratio:.2f} (goal <= 2); wrote {args.out}")


if __name__ == "__main__":
    main()
