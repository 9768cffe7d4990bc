"""Variance partitioning on real data: V4 neurons with two MobileNetV2 layers as two bands, and Haxby voxels.

    python experiments/banded_partition.py v4 --session 190925 --out experiments/results
    python experiments/banded_partition.py haxby --out experiments/results

``v4``: ImageNet MobileNetV2 (the shared weights), layers ``features.7`` and ``features.14`` (or
``--layers``), images at their native 112 px, 4x4-pooled (as ``experiments/configs/v4_mobilenet.yaml``),
5-fold outer CV over images (shuffled, seed 0), 5-fold inner CV. ``haxby``: the category regressors
(HRF-convolved) split into two bands, faces and houses against the six other categories; leave-one-run-
out outer and inner CV. Both run :func:`cogvision.brain.variance_partition` (20 band-weight candidates)
and write ``OUT/banded_<name>.json`` (medians over targets of the joint, single-band, unique and shared
held-out R^2, each with a 95% bootstrap interval over targets) and ``OUT/banded_<name>.png`` (the
partition figure).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

ALPHAS = np.logspace(-1, 6, 8)


def median_interval(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """Median over targets and its 95% bootstrap interval (resampling targets)."""
    rng = np.random.default_rng(seed)
    boots = np.median(values[rng.integers(0, len(values), (n_boot, len(values)))], axis=1)
    return [float(np.median(values)), *map(float, np.percentile(boots, [2.5, 97.5]))]


def v4_data(session: str, layers: list[str], cache: Path):
    import torch

    from cogvision.brain.features import pooled_layer_features
    from data_loaders.cowley_v4 import load_v4_session
    from data_loaders.shared import shared_path

    ds = load_v4_session(session)
    images = torch.from_numpy(ds["images"].values).permute(0, 3, 1, 2).float() / 255.0
    weights = shared_path("models", "mobilenet_v2_imagenet", "mobilenet_v2-b0353104.pth")
    feats = pooled_layer_features("torchvision:mobilenet_v2", images, layers, cache, weights=str(weights), pool=4,
                                  size=112, device="cpu")
    x = np.hstack([feats[layer].reshape(len(images), -1) for layer in layers]).astype(np.float64)
    x = x[:, x.std(0) > 0]  # ReLU maps can be constant (0) over all images: such columns carry nothing
    sizes = [feats[layer].reshape(len(images), -1).shape[1] for layer in layers]
    keep = [np.flatnonzero(feats[layer].reshape(len(images), -1).std(0) > 0) for layer in layers]
    edges = np.cumsum([0] + [len(k) for k in keep])
    bands = [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]
    meta = {"session": session, "layers": layers, "features_per_layer": sizes,
            "nonconstant_features": [len(k) for k in keep], "n_images": int(len(images))}
    return (x, ds["responses"].values.astype(np.float64), bands, layers, KFold(5, shuffle=True, random_state=0), 5,
            None, meta)


def haxby_data():
    from cogvision.brain.nilearn_io import mask_responses
    from data_loaders.haxby import category_design, load_haxby

    haxby = load_haxby()
    runs = haxby.attributes["run"].to_numpy()
    y, _ = mask_responses(haxby.bold, haxby.mask, standardize_runs=runs)
    design = category_design(haxby.attributes, haxby.tr, kind="hrf")
    columns = [str(c) for c in design.columns]
    a = [i for i, c in enumerate(columns) if c in ("face", "house")]
    b = [i for i, c in enumerate(columns) if c not in ("face", "house")]
    meta = {"bands": {"face_house": [columns[i] for i in a], "other_categories": [columns[i] for i in b]},
            "n_volumes": int(len(y)), "n_voxels": int(y.shape[1])}
    x = design.to_numpy(np.float64)
    return x, np.asarray(y, dtype=np.float64), [a, b], ["face_house", "other_categories"], "logo", "logo", runs, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["v4", "haxby"])
    parser.add_argument("--session", default="190925")
    parser.add_argument("--layers", nargs=2, default=["features.7", "features.14"])
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("experiments/results"))
    parser.add_argument("--cache", type=Path, default=Path("experiments/results/cache"))
    args = parser.parse_args()
    import torch

    from cogvision.brain import variance_partition
    from cogvision.viz.partition import plot_partition

    torch.set_num_threads(1)
    if args.dataset == "v4":
        x, y, bands, names, cv, inner, groups, meta = v4_data(args.session, args.layers, args.cache)
        name = f"v4_{args.session}"
    else:
        x, y, bands, names, cv, inner, groups, meta = haxby_data()
        name = "haxby"
    ds = variance_partition(x, y, bands, cv=cv, inner_cv=inner, groups=groups, band_names=names, alphas=ALPHAS,
                            n_iter=args.n_iter, device="cpu", random_state=0)
    result = {"dataset": args.dataset, **meta, "n_targets": int(y.shape[1]), "n_iter": args.n_iter,
              "alphas": ALPHAS.tolist(), "correction": ds.attrs["correction"],
              "n_clipped_unique": ds.attrs["n_clipped_unique"], "n_clipped_shared": ds.attrs["n_clipped_shared"],
              "median_and_95ci": {"joint": median_interval(ds["joint"].values),
                                  "shared": median_interval(ds["shared"].values),
                                  **{f"single_{b}": median_interval(ds["single"].sel(band=b).values) for b in names},
                                  **{f"unique_{b}": median_interval(ds["unique"].sel(band=b).values) for b in names}},
              "mean": {"joint": float(ds["joint"].mean()), "shared": float(ds["shared"].mean()),
                       **{f"unique_{b}": float(ds["unique"].sel(band=b).mean()) for b in names}}}
    responsive = ds["joint"].values >= 0.05  # targets the joint model predicts at all
    sub = ds.isel(target=np.flatnonzero(responsive))
    result["responsive_targets"] = {
        "rule": "joint held-out R^2 >= 0.05", "count": int(responsive.sum()),
        "mean": {"joint": float(sub["joint"].mean()), "shared": float(sub["shared"].mean()),
                 **{f"unique_{b}": float(sub["unique"].sel(band=b).mean()) for b in names}}}
    args.out.mkdir(parents=True, exist_ok=True)
    result["command"] = "python experiments/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    path = args.out / f"banded_{name}.json"
    path.with_suffix(".tmp").write_text(json.dumps(result, indent=2))
    path.with_suffix(".tmp").replace(path)
    fig = plot_partition(ds, title=f"{name}: held-out variance partition")
    fig.savefig(args.out / f"banded_{name}.png", dpi=100)
    print(json.dumps(result["median_and_95ci"], indent=1))


if __name__ == "__main__":
    main()
