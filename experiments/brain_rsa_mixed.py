"""Mixed RSA on the 92 images: layer RDMs alone, and with principal-component groups and category readouts.

    python experiments/brain_rsa_mixed.py --out experiments/brain_rsa_mixed_results/trained [--splits 20] [--seed 1]
    python experiments/brain_rsa_mixed.py --out experiments/brain_rsa_mixed_results/untrained --untrained

ImageNet MobileNetV2 (the shared weights; ``--untrained``: the seed-0 initialisation) on the 92 images at their
native 175 px, 9 layers. For each of ``--splits`` random 46/46 splits of the stimuli (the same splits for every
variant), non-negative weights of the candidate RDMs are fitted on the pairs among the 46 training stimuli to the
mean subject RDM and scored (tau_a, mean over subjects) on the pairs among the 46 test stimuli, beside the noise
ceiling of those pairs (:func:`cogvision.brain.rsa_mixed.mixed_split`). Candidates, per variant:

- ``layers``: the 9 whole-layer correlation RDMs (:func:`cogvision.brain.rsa_mixed.mixed_rsa`);
- ``+components``: also, per layer, the squared-Euclidean RDMs of its first 16 principal components one by
  one, the components fitted on the training stimuli's features
  (:func:`cogvision.brain.rsa_mixed.component_group_rdms`);
- ``+readouts``: also, per layer, the RDMs of 12 ridge category readouts (animate, face, body, ...) trained
  on the training stimuli's category labels, cross-fitted within them (:func:`cogvision.brain.rsa_mixed.readout_rdms`);
- ``+components+readouts``: both.

Nothing about the test stimuli but their network features enters a fit (no test RDM pairs, no test labels).
The readouts bring category labels in: run ``--untrained`` to see how much of their gain the labels carry
without trained features. Writes ``per_split.csv`` (one row per split, reference and variant) and
``summary.csv`` (means over splits with their sd, the paired difference from ``layers`` on the same splits with
its sd and the fraction of splits where it is positive, and the fraction of the lower ceiling bound reached).
Random half splits share stimuli, so their scores are not independent: the sd over splits describes the
spread, not a confidence interval.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cogvision.brain.rsa import compute_rdm
from cogvision.brain.rsa_mixed import mixed_rsa, mixed_rsa_features
from cogvision.io import write_table
from cogvision.models import extract_features, load_model
from data_loaders.images import to_tensor
from data_loaders.kriegeskorte92 import load_92images, reference_rdms
from data_loaders.shared import shared_path

LAYERS = ["features.2", "features.4", "features.7", "features.9", "features.11", "features.14", "features.16",
          "features.18", "classifier.1"]
WEIGHTS = ("models", "mobilenet_v2_imagenet", "mobilenet_v2-b0353104.pth")
VARIANTS = {"+components": {"groups": (1,) * 16}, "+readouts": {"groups": None, "labels": True},
            "+components+readouts": {"groups": (1,) * 16, "labels": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--untrained", action="store_true")
    parser.add_argument("--seed", type=int, default=1, help="stimulus splits (the variants were chosen on seed 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ds = load_92images(shared_path("data", "fmri", "kriegeskorte2008_92images"))
    images = torch.stack([to_tensor(img) for img in ds["images"].values])
    model = load_model("torchvision:mobilenet_v2", weights=None if args.untrained else str(shared_path(*WEIGHTS)),
                       device="cpu")
    feats = extract_features(model, images, LAYERS, batch_size=16)
    layer_features = [feats[name].values.reshape(len(images), -1) for name in LAYERS]
    layer_rdms = np.stack([compute_rdm(f, "correlation") for f in layer_features])
    labels = ds["categories"].values
    rows = []
    for reference, ref in reference_rdms(ds).items():
        res = mixed_rsa(layer_rdms, ref, "tau_a", n_splits=args.splits, seed=args.seed)
        results = {"layers": {**res, "n_rdms": np.full(args.splits, len(LAYERS)),
                              "nonzero_weights": (res["weights"] > 0).sum(1)}}
        for variant, options in VARIANTS.items():
            results[variant] = mixed_rsa_features(layer_features, ref, "tau_a", groups=options["groups"],
                                                  labels=labels if options.get("labels") else None,
                                                  n_splits=args.splits, seed=args.seed)
            print(reference, variant, round(float(results[variant]["mixed"].mean()), 3), flush=True)
        for variant, res in results.items():
            for split in range(args.splits):
                rows.append({"reference": reference, "variant": variant, "split": split,
                             **{key: res[key][split] for key in ("mixed", "best_single", "ceiling_low", "ceiling_high",
                                                                 "n_rdms", "nonzero_weights")}})
    per_split = pd.DataFrame(rows)
    summary = summarize(per_split)
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(per_split, args.out / "per_split.csv", parquet=False)
    write_table(summary, args.out / "summary.csv", parquet=False)
    print(summary.round(3).to_string(index=False))


def summarize(per_split: pd.DataFrame) -> pd.DataFrame:
    """Means over splits (sd), the fraction of the lower ceiling bound reached, the paired difference from layers."""
    rows = []
    for reference, part in per_split.groupby("reference", sort=False):
        base = part[part["variant"] == "layers"].set_index("split")["mixed"]
        for variant, group in part.groupby("variant", sort=False):
            group = group.set_index("split")
            diff = (group["mixed"] - base).to_numpy()
            rows.append({"reference": reference, "variant": variant, "n_rdms": group["n_rdms"].mean(),
                         "nonzero_weights": group["nonzero_weights"].mean(), "mixed": group["mixed"].mean(),
                         "mixed_sd": group["mixed"].std(ddof=1), "best_single": group["best_single"].mean(),
                         "ceiling_low": group["ceiling_low"].mean(), "ceiling_high": group["ceiling_high"].mean(),
                         "fraction_of_ceiling_low": group["mixed"].mean() / group["ceiling_low"].mean(),
                         "minus_layers": diff.mean(), "minus_layers_sd": diff.std(ddof=1),
                         "fraction_splits_better": float(np.mean(diff > 0))})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
