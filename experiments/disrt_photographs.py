"""DiSRT on >= 40 real photographs: ImageNet MobileNetV2 against the same network untrained, with the controls.

Images: the eight built-in photographs (scikit-image, matplotlib), and from ``../shared``: the ten OSIE
stimuli, the three video frames of the Chong demo, the GazeFollow test image and the first Interiors
scenes (grayscale indoor photographs), 42 in all by default. Networks: torchvision MobileNetV2 with the
shared ImageNet weights, the same architecture randomly initialised (seed 0), and the
permutation-invariant control (a 1x1 convolution and a global average: a bag of local features, the
structure-blind validation row). Protocol: shuffle and rotate at grids 2, 4, 8, the layout-keeping
``local`` nuisance matched in pixel MSE, ``--trials`` distortion seeds per image and cell, mean pooling,
cosine similarity.

Full run (about 10 minutes on one CPU thread; the numbers in docs/gestalt.md)::

    OMP_NUM_THREADS=1 python experiments/disrt_photographs.py --out experiments/results/disrt_photographs

``--compare-shift`` adds the old half-image shift nuisance on the same images (2x2 and 4x4 shuffles, as
in the sketch of ``../shared/PAPERS.md`` section 5). Writes ``summary.json`` (every number) and
``report.md`` (the tables) into ``--out``; skips with a message when ``../shared`` is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cogvision.gestalt import PIXELS, DisrtProtocol, run_disrt, summary
from cogvision.gestalt.report import markdown_table, matching_table
from cogvision.gestalt.scoring import degenerate_cells
from cogvision.io import atomic_write
from cogvision.models import load_model
from cogvision.stats import bootstrap_interval
from cogvision.training import seed_everything
from data_loaders.images import builtin_images, read_image, square_resize
from data_loaders.shared import shared_dir

LAYERS = ["features.4", "features.9", "features.14", "features.18"]
WEIGHTS = "models/mobilenet_v2_imagenet/mobilenet_v2-b0353104.pth"


def photographs(shared: Path, n_interiors: int, size: int = 256) -> tuple[torch.Tensor, list[str]]:
    """The built-in photographs plus real photographs from the shared folder, (B, 3, size, size)."""
    images, names = builtin_images(size=size)
    data = shared / "data"
    paths = sorted((data / "eyetracking/osie/stimuli_sample").glob("*.jpg"))
    paths += sorted((data / "gaze_following/chong_demo_frames").glob("*.jpg"))
    paths += sorted((data / "gaze_following/gazefollow_test2").glob("*.jpg"))
    paths += sorted((data / "eyetracking/interiors/images").glob("*.jpg"))[:n_interiors]
    extra = [square_resize(read_image(p), size) for p in paths]
    return torch.cat([images, torch.stack(extra)]), names + [p.name for p in paths]


def per_layer_rows(ds, label: str, n_boot: int) -> list[dict]:
    """Accuracy and graded index per layer over the included cells, with bootstrap intervals over images."""
    excluded = {(c["distortion"], c["strength"]) for c in degenerate_cells(ds)}
    keep = [(d, g) for d in ds["distortion"].values for g in ds["strength"].values if (str(d), int(g)) not in excluded]
    rows = []
    for layer in ds["layer"].values:
        acc = np.mean([ds["correct"].sel(layer=layer, k=1.0, distortion=d, strength=g).mean("trial").values
                       for d, g in keep], axis=0)  # (image,)
        idx = np.mean([ds["index"].sel(layer=layer, k=1.0, distortion=d, strength=g).mean("trial").values
                       for d, g in keep], axis=0)
        a_lo, a_hi = bootstrap_interval(acc, n_boot)
        i_lo, i_hi = bootstrap_interval(idx, n_boot)
        rows.append({"network": label, "layer": str(layer), "accuracy": float(acc.mean()),
                     "accuracy_low": float(a_lo), "accuracy_high": float(a_hi), "index": float(idx.mean()),
                     "index_low": float(i_lo), "index_high": float(i_hi), "per_image_accuracy": acc.tolist(),
                     "per_image_index": idx.tolist()})
    return rows


def paired_difference(a: dict, b: dict, n_boot: int) -> dict:
    """Trained minus untrained, per layer: mean difference and a paired bootstrap interval over images."""
    out = {}
    for measure in ("accuracy", "index"):
        diff = np.asarray(a[f"per_image_{measure}"]) - np.asarray(b[f"per_image_{measure}"])
        lo, hi = bootstrap_interval(diff, n_boot)
        out[measure] = {"difference": float(diff.mean()), "low": float(lo), "high": float(hi)}
    return out


def fmt(row: dict, measure: str) -> str:
    return f"{row[measure]:.2f} [{row[f'{measure}_low']:.2f}, {row[f'{measure}_high']:.2f}]"


def results_table(rows: dict[str, list[dict]]) -> str:
    """Accuracy and graded index per network and layer, below the two null rows and the pixel observer."""
    lines = ["| network | layer | accuracy [95% CI] | graded index [95% CI] |", "|---|---|---|---|",
             "| null: structure-blind observer | | 0.00 | 0.00 |", "| null: pixel observer (matched) | | 0.50 | 0.50 |"]
    pixel = rows["ImageNet"][0]
    lines.append(f"| pixel observer (measured) | {PIXELS} | {fmt(pixel, 'accuracy')} | {fmt(pixel, 'index')} |")
    for label, network_rows in rows.items():
        for r in network_rows:
            if r["layer"] != PIXELS:
                lines.append(f"| {label} | {r['layer']} | {fmt(r, 'accuracy')} | {fmt(r, 'index')} |")
    return "\n".join(lines)


def differences_table(differences: dict[str, dict]) -> str:
    """Trained minus untrained per layer, paired over images."""
    lines = ["| layer | accuracy: trained - untrained [95% CI] | index: trained - untrained [95% CI] |",
             "|---|---|---|"]
    for layer, d in differences.items():
        lines.append(f"| {layer} | {d['accuracy']['difference']:+.2f} [{d['accuracy']['low']:+.2f}, "
                     f"{d['accuracy']['high']:+.2f}] | {d['index']['difference']:+.3f} "
                     f"[{d['index']['low']:+.3f}, {d['index']['high']:+.3f}] |")
    return "\n".join(lines)


def compare_shift(nets: dict, images: torch.Tensor, names: list[str], n_boot: int) -> tuple[dict, list[str]]:
    """The old half-image shift nuisance on 2x2 and 4x4 shuffles (one trial): record and report parts."""
    shift = DisrtProtocol(distortions=("shuffle",), grids=(2, 4), nuisance="shift", trials=1, n_boot=n_boot)
    record, parts = {}, []
    for label in ("ImageNet", "untrained"):
        net, layers = nets[label]
        ds = run_disrt(net, images, shift, layers=layers, image_names=names, progress=True)
        s = summary(ds)
        record[label] = {"per_layer_all_cells": {str(layer): float(ds["accuracy"].sel(layer=layer, k=1.0).mean())
                                                 for layer in ds["layer"].values},
                         "nuisance_matched_fraction": s["nuisance_matched_fraction"], "matching": s["matching"],
                         "excluded_cells": s["excluded_cells"]}
        parts += [f"## {label}, half-image shift nuisance (shuffle 2x2, 4x4; one trial)", markdown_table(ds),
                  matching_table(s)]
    return record, parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--interiors", type=int, default=20, help="Interiors scenes added (default 20: 42 images).")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--grids", default="2,4,8")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--compare-shift", action="store_true")
    args = parser.parse_args(argv)
    shared = shared_dir()
    if shared is None or not (shared / WEIGHTS).is_file():
        print("skipped: no ../shared folder with the MobileNetV2 weights (set COGVISION_SHARED)")
        return 0
    torch.set_num_threads(1)
    images, names = photographs(shared, args.interiors)
    grids = tuple(int(g) for g in args.grids.split(","))
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=grids, trials=args.trials, n_boot=args.n_boot)
    seed_everything(0)
    nets = {"ImageNet": (load_model("torchvision:mobilenet_v2", weights=shared / WEIGHTS, device="cpu"), LAYERS),
            "untrained": (load_model("torchvision:mobilenet_v2", device="cpu"), LAYERS),
            "permutation-invariant control": (load_model("builtin:permutation_invariant", device="cpu"), ["relu"])}
    results, rows, timing = {}, {}, {}
    for label, (net, layers) in nets.items():
        start = time.perf_counter()
        results[label] = run_disrt(net, images, protocol, layers=layers, image_names=names, progress=True)
        timing[label] = time.perf_counter() - start
        rows[label] = per_layer_rows(results[label], label, args.n_boot)
    by_layer, untrained = ({r["layer"]: r for r in rows[k]} for k in ("ImageNet", "untrained"))
    differences = {layer: paired_difference(by_layer[layer], untrained[layer], args.n_boot) for layer in LAYERS}
    info = {label: summary(ds) for label, ds in results.items()}
    record = {"command": "python " + " ".join(sys.argv), "images": names, "n_images": len(names),
              "protocol": json.loads(protocol.to_json()), "summaries": info,
              "per_layer": {k: [{key: v for key, v in r.items() if not key.startswith("per_image")} for r in rs]
                            for k, rs in rows.items()},
              "trained_minus_untrained": differences, "seconds": timing}
    parts = [f"# DiSRT on {len(names)} photographs", f"```\n{record['command']}\n```", results_table(rows),
             "Paired over images:", differences_table(differences), "Nuisance matching (ImageNet run):",
             matching_table(info["ImageNet"])]
    for label, ds in results.items():
        parts += [f"## {label}: accuracy per cell", markdown_table(ds), f"## {label}: graded index per cell",
                  markdown_table(ds, measure="index")]
    if args.compare_shift:
        record["shift_nuisance"], shift_parts = compare_shift(nets, images, names, args.n_boot)
        parts += shift_parts
    atomic_write(args.out / "summary.json", json.dumps(record, indent=2))
    atomic_write(args.out / "report.md", "\n\n".join(parts) + "\n")
    print("\n\n".join(parts[:5]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
