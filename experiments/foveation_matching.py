"""Which texture scalings the blur controls can match in SSIM: target, achieved, parameter, feasible.

    OMP_NUM_THREADS=1 python experiments/foveation_matching.py --size 128 \
        --out experiments/results/foveation_matching.json

Images: four wheel photographs (astronaut, chelsea, coffee, rocket); 26 deg across; texture seed 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from cogvision.foveation import FoveatedTexture
from cogvision.foveation.matching import match_system
from data_loaders.images import builtin_images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--scalings", default="0.25,0.4,0.5")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    images, _ = builtin_images(["astronaut", "chelsea", "coffee", "rocket"], size=args.size)
    rows = []
    for scaling in (float(s) for s in args.scalings.split(",")):
        texture = FoveatedTexture(scaling)
        for kind in ("uniform", "foveated_blur"):
            rows.append(match_system(kind, images, texture))
            r = rows[-1]
            print(f"s={scaling:g} {kind}: target {r['target']:.3f} achieved {r['achieved']:.3f} at "
                  f"{r['parameter']:.4g} feasible={r['feasible']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
