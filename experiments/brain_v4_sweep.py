"""All V4 sessions x {ImageNet-trained, untrained} MobileNetV2 through ``cogvision fit-encoder``'s layer sweep.

    python experiments/brain_v4_sweep.py --out results/v4 [--sessions 190925 210305]
        [--encoders ridge factorized transformer]
        [--scale rms] [--layers features.7 features.11 features.14] [--networks trained]

Each (session, network) gets its own result folder made by :func:`cogvision.jobs.fit_encoder.run_fit` from
``experiments/configs/v4_mobilenet.yaml`` (only ``data.session``, ``model.weights``, ``model.layers`` and the
encoders change); features are cached in ``OUT/cache`` and finished folds are reused (``--resume``).
``OUT/summary.csv`` stacks every folder's ``summary.csv`` with a ``network`` column; ``OUT/best_layers.csv`` keeps
its best layer (by median R^2) per session, network and encoder.
With both networks, ``OUT/trained_vs_untrained.csv`` compares, per session and encoder, each network's best
layer (by median R^2) neuron by neuron (``cogvision.brain.layer_sweep.network_differences``).
With several encoders, ``OUT/encoder_differences.csv`` compares, per session and network, each encoder at its
best layer with ridge at its best layer, neuron by neuron (``cogvision.brain.layer_sweep.encoder_differences``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
import yaml

from cogvision.brain.layer_sweep import encoder_differences, network_differences
from cogvision.jobs.fit_encoder import run_fit
from data_loaders.cowley_v4 import default_root, list_sessions

ENCODERS = {"ridge": {"type": "ridge", "alphas": [1, 10, 100, 1000, 10000, 100000, 1000000]},
            "factorized": {"type": "factorized", "epochs": 30},
            "transformer": {"type": "transformer", "queries": "vertex", "epochs": 30}}
NETWORKS = ("trained", "untrained")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sessions", nargs="*", default=None)
    parser.add_argument("--encoders", nargs="*", default=["ridge"], choices=sorted(ENCODERS))
    parser.add_argument("--layers", nargs="*", default=None, help="default: the config's layers")
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=NETWORKS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", default="none", choices=["none", "rms"],
                        help="rms: divide each layer's features by their RMS (see layer_sweep.rms_scaled)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = yaml.safe_load((Path(__file__).parent / "configs" / "v4_mobilenet.yaml").read_text())
    weights = str((Path(__file__).parent / "configs" / base["model"]["weights"]).resolve())
    tables, differences = [], []
    for session in args.sessions or list_sessions():
        for network in args.networks:
            config = {**base, "data": {**base["data"], "session": session, "path": str(default_root())},
                      "model": {**base["model"], "weights": weights if network == "trained" else None,
                                "scale": args.scale, **({"layers": args.layers} if args.layers else {})},
                      "encoders": [ENCODERS[e] for e in args.encoders], "cache_dir": str(args.out / "cache")}
            folder = args.out / f"{network}_{session}"
            if not (folder / "summary.json").is_file():
                run_fit(config, folder, resume=folder.exists(), device=args.device, progress=False)
            table = pd.read_csv(folder / "summary.csv", dtype={"session": str})
            tables.append(table.assign(network=network))
            print(session, network, table[["layer", "encoder", "median_r2"]].to_string(index=False), flush=True)
            if len(args.encoders) > 1 and "ridge" in args.encoders:
                scores = pd.read_csv(folder / "scores.csv", dtype={"session": str})
                differences.append(encoder_differences(scores).assign(session=session, network=network))
    summary = pd.concat(tables, ignore_index=True)
    summary.to_csv(args.out / "summary.csv", index=False)
    best = summary.loc[summary.groupby(["session", "network", "encoder"], sort=False)["median_r2"].idxmax()]
    best.to_csv(args.out / "best_layers.csv", index=False)
    if differences:
        table = pd.concat(differences, ignore_index=True)
        table.to_csv(args.out / "encoder_differences.csv", index=False)
        print(table.round(3).to_string(index=False))
    if set(args.networks) == set(NETWORKS):
        versus = network_differences(args.out)
        versus.to_csv(args.out / "trained_vs_untrained.csv", index=False)
        print(versus.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
