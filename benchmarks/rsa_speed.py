"""cogvision RSA against rsatoolbox, side by side: RDMs of 10 layers for 1,000 stimuli and their tau_a to a reference.

Same random features (one array per layer, ``--features`` columns each), correlation-distance RDMs,
Kendall tau_a of each layer's RDM with one reference RDM over the upper triangle (499,500 pairs for 1,000
stimuli). rsatoolbox: ``calc_rdm(Dataset(x), method="correlation")`` per layer, then
``compare(rdms, ref, method="tau-a")``; cogvision: :func:`cogvision.brain.rsa.compute_rdm` per layer,
then :func:`cogvision.brain.rsa.compare_rdms`. Both are timed on the same CPU (threads as set by
``--threads``), after a small warm-up; the largest difference of the RDMs and of the tau_a values is recorded.

    .venv/bin/python benchmarks/rsa_speed.py                 # 1,000 stimuli x 10 layers x 2,000 features
    .venv/bin/python benchmarks/rsa_speed.py --small         # 200 stimuli x 3 layers x 300 features

Writes benchmarks/results/rsa_speed.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from cogvision.brain.rsa import compare_rdms, compute_rdm, upper
from results_file import write_result


def ours(layers: list[np.ndarray], ref: np.ndarray, device: str) -> tuple[np.ndarray, np.ndarray]:
    rdms = np.stack([compute_rdm(x, "correlation", device=device) for x in layers])
    return rdms, compare_rdms(rdms, ref[None], "tau_a")[:, 0]


def theirs(layers: list[np.ndarray], ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method="correlation") for x in layers]
    stacked = rsatoolbox.rdm.concat(rdms)
    tau = rsatoolbox.rdm.compare(stacked, rsatoolbox.rdm.RDMs(upper(ref)[None]), method="tau-a")[:, 0]
    return stacked.get_matrices(), tau


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stimuli", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--features", type=int, default=2000)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rsa_speed.json")
    args = parser.parse_args()
    if args.small:
        args.stimuli, args.layers, args.features = 200, 3, 300
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(args.stimuli, 50))
    layers = [latent @ rng.normal(size=(50, args.features)) + rng.normal(size=(args.stimuli, args.features)) * (k + 1)
              for k in range(args.layers)]
    ref = compute_rdm(latent + rng.normal(size=latent.shape), "correlation")
    small = [x[:50, :100] for x in layers[:2]]
    ours(small, ref[:50, :50], args.device)
    theirs(small, ref[:50, :50])
    timings = {"cogvision": [], "rsatoolbox": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        our_rdms, our_tau = ours(layers, ref, args.device)
        timings["cogvision"].append(time.perf_counter() - start)
        start = time.perf_counter()
        their_rdms, their_tau = theirs(layers, ref)
        timings["rsatoolbox"].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in timings.items()}
    result = {
        "task": f"{args.layers} correlation RDMs of {args.stimuli} stimuli x {args.features} features + tau_a to one reference",
        "stimuli": args.stimuli, "layers": args.layers, "features": args.features, "threads": args.threads,
        "device": args.device, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "seconds_best_of": args.repeats, "cogvision_s": best["cogvision"], "rsatoolbox_s": best["rsatoolbox"],
        "speedup": best["rsatoolbox"] / best["cogvision"],
        "max_rdm_difference": float(np.abs(our_rdms - their_rdms).max()),
        "max_tau_a_difference": float(np.abs(our_tau - their_tau).max()), "all_timings": timings,
    }
    write_result(args.out, result)
    print({k: v for k, v in result.items() if k != "all_timings"})


if __name__ == "__main__":
    main()
