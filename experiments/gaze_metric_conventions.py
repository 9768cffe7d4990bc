"""How much the metric conventions move the scores: GazeFollow test2 annotations, analytic maps.

For every person of the GazeFollow test2 release (4,782 people, held-out annotations) the oracle map (a
sigma-3 Gaussian at the mean annotator point on the 64 x 64 grid) and the centre prior are scored with

- GazeFollow AUC at the map size with the uint8 quantisation of Chong's ``imresize`` (the reference
  default here) and with float maps (Gaze-LLE / ViTGaze);
- the VAT-style AUC (64 x 64, the target = the mean annotator point) with the 19 x 19 square (Chong) and
  the ViTGaze disc, each after the uint8 and the float map.

    OMP_NUM_THREADS=1 python experiments/gaze_metric_conventions.py [--every 1] [--out FILE.json]

The image sizes are not in the ``.mat`` release, so the image-size AUC (the reference) cannot be computed
for it; ``tests/gaze/test_metrics.py`` checks it on the one test image shipped with the annotations.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from cogvision.gaze.evaluate import analytic_heatmaps
from cogvision.gaze.metrics import gazefollow_auc, vat_auc
from cogvision.reporting import get_logger
from data_loaders.gazefollow import read_annotations

log = get_logger(__name__)

ANNOTATIONS = Path(__file__).resolve().parents[2] / "shared/data/gaze_following/gazefollow_test2/test2_annotations.mat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    parser.add_argument("--every", type=int, default=1, help="score every n-th person")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gaze, _ = read_annotations(args.annotations)
    gaze = gaze[::args.every]
    valid = (gaze >= 0).all(-1, keepdims=True)
    mean = (gaze * valid).sum(1) / valid.sum(1)
    rows = []
    for method in ("Gaussian at mean annotator point", "centre prior"):
        maps = analytic_heatmaps(method, gaze)
        row = {"method": method, "n": len(maps)}
        for resize in ("uint8", "bilinear"):
            row[f"gazefollow_auc_64_{resize}"] = float(np.mean([gazefollow_auc(m, g, resize=resize)
                                                                 for m, g in zip(maps, gaze)]))
            for region in ("square", "disc"):
                row[f"vat_auc_{region}_{resize}"] = float(np.mean([vat_auc(m, p, region=region, resize=resize)
                                                                    for m, p in zip(maps, mean)]))
        rows.append(row)
        log.info(json.dumps(row))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
