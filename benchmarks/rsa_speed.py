"""cogvision RSA against rsatoolbox, side by side: RDMs of 10 layers for 1,000 stimuli and their tau_a to a reference.

Same random features (one array per layer, ``--features`` columns each), correlation-distance RDMs,
Kendall tau_a of each layer's RDM with one reference RDM over the upper triangle (499,500 pairs for 1,000
stimuli). rsatoolbox: ``calc_rdm(Dataset(x), method="correlation")`` per layer, then
``compare(rdms, ref, method="tau-a")``; cogvision: :func:`cogvision.brain.rsa.compute_rdm` per layer,
then :func:`cogvision.brain.rsa.compare_rdms`. Both are timed on the same CPU (threads as set by
``--threads``), interleaved, after a small warm-up, in wall-clock and in process CPU time (the latter is
not inflated when other jobs share the CPU; with one thread the two agree on an idle machine). Recorded:
the largest difference of the RDMs and of the tau_a values, and where cogvision's time goes
(``cogvision_rdm_s``: the RDMs; ``cogvision_compare_s``: their tau_a; for scale, ``cogvision_sort_s``: one
plain ``np.argsort`` of each layer vector and of the reference, as an exact O(n log n) tau_a must sort each
vector once); best of the repeats each.

    .venv/bin/python benchmarks/rsa_speed.py                 # 1,000 stimuli x 10 layers x 2,000 features
    .venv/bin/python benchmarks/rsa_speed.py --small         # 200 stimuli x 3 layers x 300 features

Writes benchmarks/results/rsa_speed.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import rsatoolbox
import scipy
import torch
from results_file import write_result

from cogvision.brain.rsa import compare_rdms, compute_rdm, upper


def ours(layers: list[np.ndarray], ref: np.ndarray, device: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    start = time.perf_counter()
    rdms = np.stack([compute_rdm(x, "correlation", device=device) for x in layers])
    middle = time.perf_counter()
    tau = compare_rdms(rdms, ref[None], "tau_a")[:, 0]
    end = time.perf_counter()
    return rdms, tau, {"rdm": middle - start, "compare": end - middle}


def sort_time(rdms: np.ndarray, ref: np.ndarray) -> float:
    """Seconds to argsort the upper triangles of the layer RDMs and of the reference (the sorts tau_a needs)."""
    vectors = upper(np.concatenate([rdms, ref[None]]))
    start = time.perf_counter()
    for vector in vectors:
        np.argsort(vector)
    return time.perf_counter() - start


def theirs(layers: list[np.ndarray], ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    timings = {key: [] for key in ("cogvision", "rsatoolbox", "cogvision_cpu", "rsatoolbox_cpu", "cogvision_rdm",
                                   "cogvision_compare", "cogvision_sort")}
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        our_rdms, our_tau, parts = ours(layers, ref, args.device)
        timings["cogvision"].append(time.perf_counter() - start)
        timings["cogvision_cpu"].append(time.process_time() - cpu)
        timings["cogvision_rdm"].append(parts["rdm"])
        timings["cogvision_compare"].append(parts["compare"])
        timings["cogvision_sort"].append(sort_time(our_rdms, ref))
        start, cpu = time.perf_counter(), time.process_time()
        their_rdms, their_tau = theirs(layers, ref)
        timings["rsatoolbox"].append(time.perf_counter() - start)
        timings["rsatoolbox_cpu"].append(time.process_time() - cpu)
    best = {k: min(v) for k, v in timings.items()}
    result = {
        "task": (f"{args.layers} correlation RDMs of {args.stimuli} stimuli x {args.features} features + tau_a to one "
                 "reference"),
        "stimuli": args.stimuli, "layers": args.layers, "features": args.features, "threads": args.threads,
        "device": args.device, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "seconds_best_of": args.repeats, "cogvision_s": best["cogvision"], "rsatoolbox_s": best["rsatoolbox"],
        "speedup": best["rsatoolbox"] / best["cogvision"], "cogvision_cpu_s": best["cogvision_cpu"],
        "rsatoolbox_cpu_s": best["rsatoolbox_cpu"], "speedup_cpu_time": best["rsatoolbox_cpu"] / best["cogvision_cpu"],
        "load_average_1min": os.getloadavg()[0], "cogvision_rdm_s": best["cogvision_rdm"],
        "cogvision_compare_s": best["cogvision_compare"], "cogvision_sort_s": best["cogvision_sort"],
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__,
                     "rsatoolbox": metadata.version("rsatoolbox")},
        "max_rdm_difference": float(np.abs(our_rdms - their_rdms).max()),
        "max_tau_a_difference": float(np.abs(our_tau - their_tau).max()), "all_timings": timings,
    }
    write_result(args.out, result)
    print({k: v for k, v in result.items() if k != "all_timings"})


if __name__ == "__main__":
    main()
