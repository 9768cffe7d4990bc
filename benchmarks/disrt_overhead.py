"""Overhead of the DiSRT core loop against bare forward passes of the same images through the same model.

Side by side in one run, alternating repeats (ratio: median of the per-repeat ratios; seconds: best):

- ``core``: :func:`cogvision.gestalt.run_disrt` (distortions, pixel-matched nuisances, hooks, pooling,
  similarities, odd-one-out, bootstrap intervals), i.e. what ``cogvision disrt`` runs between loading
  and saving;
- ``bare``: ``model(x)`` under ``torch.no_grad`` on exactly the tensors the core loop feeds the model
  (each image once per crop size, and its nuisance and distortion per trial, distortion and grid), prepared
  beforehand, in the same batches.

The ratio core / bare is the price of the protocol (goal <= 1.2). Writes
``benchmarks/results/disrt_overhead.json`` and prints a table.

Usage: ``.venv/bin/python benchmarks/disrt_overhead.py [--model torchvision:mobilenet_v2] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_file import write_result  # noqa: E402

from cogvision.gestalt import DisrtProtocol, crop_to_grid, distort, matched_nuisance, pixel_mse, run_disrt  # noqa: E402
from cogvision.gestalt.protocol import TRIAL_STRIDE  # noqa: E402
from cogvision.models import load_model, preprocessing_for  # noqa: E402
from cogvision.training import seed_everything  # noqa: E402
from data_loaders.images import builtin_images  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "disrt_overhead.json"


def model_inputs(model, images: torch.Tensor, protocol: DisrtProtocol, batch_size: int) -> list[torch.Tensor]:
    """The normalised batches the core loop forwards, in its order (built outside the timed region)."""
    prep = preprocessing_for(model)
    side = prep.crop

    def ready(x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != side:
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        return prep.normalize(x)

    batches = []
    for start in range(0, images.shape[0], batch_size):
        base = prep.resize_crop(images[start:start + batch_size])
        seen = set()
        for r in range(protocol.trials):  # every trial forwards its own nuisance and distortion (the image once)
            seed = protocol.seed + start + r * TRIAL_STRIDE
            for dist in protocol.distortions:
                for grid in protocol.grids:
                    crop = crop_to_grid(base, grid)
                    distorted = distort(dist, crop, grid, seed)
                    target = pixel_mse(distorted, crop)
                    nuis, _, _ = matched_nuisance(protocol.nuisance, crop, target, seed)
                    if crop.shape[-1] not in seen:
                        seen.add(crop.shape[-1])
                        batches.append(ready(crop))
                    batches += [ready(nuis), ready(distorted)]
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="torchvision:mobilenet_v2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--grids", default="2,4,8")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    seed_everything(0)
    model = load_model(args.model, device="cpu")
    images, names = builtin_images(size=preprocessing_for(model).resize)
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=tuple(int(g) for g in args.grids.split(",")),
                             n_boot=1000)
    inputs = model_inputs(model, images, protocol, args.batch_size)
    n_forwarded = sum(x.shape[0] for x in inputs)

    def core() -> None:
        run_disrt(model, images, protocol, batch_size=args.batch_size, image_names=names)

    @torch.no_grad()
    def bare() -> None:
        for x in inputs:
            model(x)

    core()  # warm-up: allocator, first-call costs of both paths
    bare()
    times: dict[str, list[float]] = {"core": [], "bare": []}
    for _ in range(args.repeats):
        for name, fn in (("bare", bare), ("core", core)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    # the machine is shared: each repeat times both paths back to back, and the ratio is the median of the
    # per-repeat ratios (both halves of a pair see about the same load); seconds are the best of the repeats
    core_s, bare_s = min(times["core"]), min(times["bare"])
    pair_ratios = [c / b for c, b in zip(times["core"], times["bare"])]
    ratio = statistics.median(pair_ratios)
    result = {
        "what": "cogvision.gestalt.run_disrt (the `cogvision disrt` core loop) vs bare forward passes of the "
                "same tensors through the same model; ratio = median over repeats of core/bare timed back to back",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
                   f"{torch.__version__}, {torch.get_num_threads()} threads",
        "model": args.model,
        "images": len(names),
        "image_forwards": n_forwarded,
        "distortions": list(protocol.distortions),
        "grids": list(protocol.grids),
        "trials": protocol.trials,
        "nuisance": protocol.nuisance,
        "repeats": args.repeats,
        "rows": [
            {"path": "bare forward", "seconds": bare_s, "ratio": 1.0,
             "median_seconds": statistics.median(times["bare"])},
            {"path": "DiSRT core loop", "seconds": core_s, "ratio": ratio,
             "median_seconds": statistics.median(times["core"])},
        ],
        "pair_ratios": [round(r, 3) for r in pair_ratios],
        "goal_ratio": 1.2,
    }
    write_result(args.out, result)
    print(f"{'path':<18}{'seconds':>10}{'ratio':>8}")
    for row in result["rows"]:
        print(f"{row['path']:<18}{row['seconds']:>10.2f}{row['ratio']:>8.2f}")
    print(f"{n_forwarded} image forwards of {args.model}; goal ratio <= 1.2; wrote {args.out}")


if __name__ == "__main__":
    main()
