"""Is OAT training bit-reproducible for a fixed seed? Fits the same OAT several times, each in a fresh process.

    OMP_NUM_THREADS=2 python experiments/oat_thread_reproducibility.py --threads 2 --runs 2
    OMP_NUM_THREADS=2 python experiments/oat_thread_reproducibility.py --threads 2 --runs 2 --deterministic
    OMP_NUM_THREADS=1 python experiments/oat_thread_reproducibility.py --threads 1 --runs 2

Each run trains the demo-size OAT of ``benchmarks/scanpath_speed.py`` (d=128, 2+2 layers, 6 epochs, lr 1e-3,
seed 0) on the Amazon book covers (synthetic searches without ``../shared``), greedily decodes the first 200
trials and prints the mean decoded length and a checksum of the weights. Equal lines mean equal models.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import torch

from cogvision.scanpath import OAT
from data_loaders.amazon_covers import load_amazon_covers
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths


def one_fit(threads: int, deterministic: bool) -> str:
    """Train once in this process; one line: mean decoded length and weight checksum."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    try:
        data = load_amazon_covers()
    except FileNotFoundError:
        data = make_synthetic_scanpaths(n_scenes=100, n_subjects=4, rows=6, cols=14, n_colours=16, guidance=4.0,
                                        seed=1)
    model = OAT(d_model=128, n_layers=2, ffn=256, epochs=6, lr=1e-3, batch_size=20, max_len=30, patience=None,
                pe_iterations=2000, device="cpu", seed=0).fit(data)
    scenes = [data.scenes[t] for t in data.trials][:200]
    lengths = [len(s) for s in model._decode_sequences(model.network_.eval(), scenes, 0)]
    checksum = float(sum(p.double().sum() for p in model.network_.parameters()))
    return f"mean decoded length {np.mean(lengths):.2f}, weight checksum {checksum:.10f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--deterministic", action="store_true", help="torch.use_deterministic_algorithms(True)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(one_fit(args.threads, args.deterministic))
        return
    flags = ["--threads", str(args.threads), "--child"] + (["--deterministic"] if args.deterministic else [])
    lines = [subprocess.run([sys.executable, __file__, *flags], check=True, capture_output=True,
                            text=True).stdout.strip().splitlines()[-1] for _ in range(args.runs)]
    for i, line in enumerate(lines):
        print(f"run {i}: {line}")
    print(f"threads {args.threads}, deterministic {args.deterministic}: "
          + ("identical" if len(set(lines)) == 1 else "DIFFERENT") + f" over {args.runs} runs")


if __name__ == "__main__":
    main()
