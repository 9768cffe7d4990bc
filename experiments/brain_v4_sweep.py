"""All V4 sessions x {ImageNet-trained, untrained} MobileNetV2 through ``cogvision fit-encoder``'s layer sweep.

    python experiments/brain_v4_sweep.py --out results/v4 [--sessions 190925 210305] [--encoders ridge factorized transformer]
        [--scale rms]

Each (session, network) gets its own result folder made by :func:`cogvision.brain.fitting.run_fit` from
``experiments/configs/v4_mobilenet.yaml`` (only ``data.session``, ``model.weights`` and the encoders change);
features are cached in ``OUT/cache`` and finished folds are reused (``--resume``). ``OUT/summary.csv`` stacks
every folder's ``summary.csv`` with a ``network`` column; ``OUT/trained_vs_untrained.csv`` compares, per session
and encoder, each network's best layer (by median R^2) neuron by neuron (``cogvision.brain.layer_sweep.network_differences``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

ENCODERS = {"ridge": {"type": "ridge", "alphas": [1, 10, 100, 1000, 10000, 100000, 1000000]},
            "factorized": {"type": "factorized", "epochs": 30},
            "transformer": {"type": "transformer", "queries": "vertex", "epochs": 30}}


def main() -> None:
    import torch

    from cogvision.brain.fitting import run_fit
    from cogvision.brain.layer_sweep import network_differences
    from data_loaders.cowley_v4 import default_root, list_sessions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sessions", nargs="*", default=None)
    parser.add_argument("--encoders", nargs="*", default=["ridge"], choices=sorted(ENCODERS))
    parser.add_argument("--layers", nargs="*", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", default="none", choices=["none", "rms"],
                        help="rms: divide each layer's features by their RMS (see layer_sweep.rms_scaled)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = yaml.safe_load((Path(__file__).parent / "configs" / "v4_mobilenet.yaml").read_text())
    weights = str((Path(__file__).parent / "configs" / base["model"]["weights"]).resolve())
    tables = []
    for session in args.sessions or list_sessions():
        for network, w in (("trained", weights), ("untrained", None)):
            config = {**base, "data": {**base["data"], "session": session, "path": str(default_root())},
                      "model": {**base["model"], "weights": w, "scale": args.scale,
                                **({"layers": args.layers} if args.layers else {})},
                      "encoders": [ENCODERS[e] for e in args.encoders], "cache_dir": str(args.out / "cache")}
            folder = args.out / f"{network}_{session}"
            done = (folder / "summary.json").is_file()
            if not done:
                run_fit(config, folder, resume=folder.exists(), device=args.device, progress=False)
            table = pd.read_csv(folder / "summary.csv", dtype={"session": str})
            tables.append(table.assign(network=network))
            print(session, network, table[["layer", "encoder", "median_r2"]].to_string(index=False), flush=True)
    pd.concat(tables).to_csv(args.out / "summary.csv", index=False)
    differences = network_differences(args.out)
    differences.to_csv(args.out / "trained_vs_untrained.csv", index=False)
    print(differences.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
