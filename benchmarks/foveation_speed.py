"""Images/s of FoveatedTexture (full colour steerable pyramid, s = 0.4) against a per-window loop.

The loop reference computes the same transform window by window, gathering only each window's
support (its non-zero grid cells) for the statistics and scattering its blend back to that support;
the benchmark checks that both give the same images before timing them.

    .venv/bin/python benchmarks/foveation_speed.py [--sizes 256 512] [--batch 16] [--repeats 3]

Writes benchmarks/results/foveation_speed.json and prints a table with the ratio.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from results_file import write_result

from cogvision.device import resolve_device
from cogvision.foveation import FoveatedTexture
from cogvision.texture import from_opponent, to_opponent


def loop_gather(maps: torch.Tensor, op: dict) -> torch.Tensor:
    """Weighted window means, one window at a time over its support only."""
    weights = op["mean"].t()
    out = maps.new_empty(maps.shape[0], weights.shape[0])
    for k, support in enumerate(op["support"]):
        out[:, k] = maps[:, support] @ weights[k, support]
    return out


def loop_spread(params: torch.Tensor, op: dict) -> torch.Tensor:
    """Per-window parameters back to the pixels of each window's support, one window at a time."""
    out = params.new_zeros(params.shape[0], op["spread"].shape[1])
    for k, support in enumerate(op["support"]):
        out[:, support] += params[:, k:k + 1] * op["spread"][k, support]
    return out


def loop_forward(system: FoveatedTexture, images: torch.Tensor) -> torch.Tensor:
    """``system(images)`` with every window product done window by window, gathering only its support."""
    texture, fovea = system._texture(*images.shape[-2:], images.device)
    for group in texture.pyramid(images[:1]):
        op = texture._operator(tuple(group.shape[-2:]), images.device)
        if "support" not in op:
            op["support"] = [row.nonzero().squeeze(1) for row in op["spread"]]
    noise, moments = texture.noise(images.shape, system.seed, images.device)  # cached, as in the fast path
    coeffs = texture.pyramid(to_opponent(images))
    mixed = [texture.mix(c, n, noise_moments=m, gather=loop_gather, spread=loop_spread)
             for c, n, m in zip(coeffs, noise, moments)]
    out = from_opponent(texture.pyramid.inverse(mixed)).clamp(0, 1)
    return images * fovea + out * (1 - fovea)


def rate(fn, images: torch.Tensor, repeats: int) -> float:
    with torch.no_grad():
        fn(images)  # warm-up: builds and caches the window operators
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            fn(images)
        if images.device.type == "cuda":
            torch.cuda.synchronize()
    return repeats * len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "foveation_speed.json")
    args = parser.parse_args()
    dev = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        images = torch.rand(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
        system = FoveatedTexture(0.4)
        fast = rate(system, images, args.repeats)  # its warm-up builds the window operators both paths use
        with torch.no_grad():
            start = time.perf_counter()
            looped = loop_forward(system, images)  # one timed pass: the loop is slow
            loop = len(images) / (time.perf_counter() - start)
            diff = float((system(images) - looped).abs().max())
        n_windows = system._texture(size, size, dev)[0].windows.shape[0]
        rows.append({"size": size, "batch": args.batch, "device": str(dev), "threads": torch.get_num_threads(),
                     "windows": n_windows, "matrix_img_per_s": fast, "loop_img_per_s": loop,
                     "ratio": fast / loop, "max_abs_difference": diff, "load_average_1min": os.getloadavg()[0]})
    write_result(args.out, {"benchmark": "foveation_speed", "cpu_count": os.cpu_count(), "rows": rows})
    print(f"{'size':>5} {'windows':>7} {'matrix img/s':>12} {'loop img/s':>10} {'ratio':>6} {'max diff':>9}")
    for r in rows:
        print(f"{r['size']:>5} {r['windows']:>7} {r['matrix_img_per_s']:>12.1f} {r['loop_img_per_s']:>10.2f} "
              f"{r['ratio']:>6.1f} {r['max_abs_difference']:>9.1e}")


if __name__ == "__main__":
    main()
