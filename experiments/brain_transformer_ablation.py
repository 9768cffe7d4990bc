"""The transformer encoder's claim on the synthetic brain, ablated over 5 seeds (cogvision.jobs.brain_ablation).

    OMP_NUM_THREADS=1 python experiments/brain_transformer_ablation.py \
        --out experiments/brain_transformer_ablation_results

Full size by default (600 stimuli, 32 retinotopic + 16 category voxels, noise ceiling 0.8, factorised 30 epochs,
transformer d_model 64 / 4 heads / FFN 128 / 40 epochs: the settings of docs/brain.md's synthetic table);
about 75 s per seed on one CPU thread. Writes ``OUT/per_seed.csv`` (every fit) and ``OUT/summary.csv`` (means
over seeds with 95% t intervals and paired differences from ridge and from the ROI-query transformer).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from cogvision.brain.ablation import summarize
from cogvision.jobs.brain_ablation import ablation_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-stimuli", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one line per fit
    args.out.mkdir(parents=True, exist_ok=True)
    table = ablation_study(args.seeds, n_stimuli=args.n_stimuli, n_retinotopic=32, n_category=16, noise_ceiling=0.8,
                           factorized={"epochs": 30},
                           transformer={"d_model": 64, "n_heads": 4, "dim_feedforward": 128, "epochs": args.epochs},
                           device=args.device)
    table.to_csv(args.out / "per_seed.csv", index=False)
    summary = summarize(table)
    summary.to_csv(args.out / "summary.csv", index=False)
    print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
