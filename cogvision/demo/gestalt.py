"""The DiSRT part of ``cogvision demo``: trained vs untrained MobileNetV2 on built-in photographs, Top-K.

With the shared folder's ImageNet weights of MobileNetV2 the trained network is compared with the same
architecture randomly initialised and swept with Top-K; without them, the random network is compared with
the permutation-invariant control (a 1x1 conv and a global average), which cannot see layout at all. Sized
to take about half a minute on one CPU thread (four photographs, two trials per cell, one Top-K fraction).
"""

from __future__ import annotations

import pathlib

import xarray as xr

from cogvision.demo.section import Section
from cogvision.gestalt.distortions import distort
from cogvision.gestalt.nuisance import matched_nuisance, pixel_mse
from cogvision.gestalt.protocol import run_disrt
from cogvision.gestalt.report import markdown_table
from cogvision.gestalt.scoring import summary
from cogvision.gestalt.settings import DisrtProtocol
from cogvision.io import save_figure
from cogvision.models import load_model, preprocessing_for
from cogvision.training import seed_everything
from cogvision.viz.gestalt import plot_accuracy, plot_topk, plot_trials
from data_loaders.images import builtin_images

LAYERS = ["features.4", "features.14", "features.18"]
GRIDS = (2, 4, 8)
IMAGES: list[str] | None = ["astronaut", "chelsea", "coffee", "rocket"]  # built-in photographs (None: all eight)
TRIALS = 2
N_BOOT = 500
TOPK = (0.1,)
TOPK_LAYERS = ["features.4", "features.9", "features.14"]
WEIGHTS = "models/mobilenet_v2_imagenet/mobilenet_v2-b0353104.pth"


def _models(shared: pathlib.Path | None, device: str) -> tuple[str, object, list[str], tuple, object]:
    """``(first label, first model, its layers, its Top-K fractions, random MobileNetV2)``."""
    seed_everything(0)
    random_net = load_model("torchvision:mobilenet_v2", device=device)
    weights = pathlib.Path(shared) / WEIGHTS if shared is not None else None
    if weights is not None and weights.is_file():
        trained = load_model("torchvision:mobilenet_v2", weights=weights, device=device)
        return "MobileNetV2 ImageNet", trained, LAYERS, TOPK, random_net
    control = load_model("builtin:permutation_invariant", device=device)
    return "permutation-invariant control", control, ["relu"], (), random_net


def _figures(results: dict[str, xr.Dataset], first: str, topk: tuple, images, random_net, nuisance: str,
             out_dir: pathlib.Path) -> dict[str, str]:
    figures = {}
    for i, (label, ds) in enumerate(results.items()):
        figures[f"accuracy: {label}"] = save_figure(plot_accuracy(ds, title=f"DiSRT: {label}"),
                                                    out_dir / f"disrt_accuracy_{i}.png", dpi=90).name
    if topk:
        figures["Top-K sweep"] = save_figure(plot_topk(results[first], title=f"{first}: Top-K at "
                                                       f"{', '.join(TOPK_LAYERS)}"), out_dir / "disrt_topk.png",
                                             dpi=90).name
    crop = preprocessing_for(random_net).resize_crop(images[:1])
    rows = []
    for dist, grid in (("shuffle", min(GRIDS)), ("shuffle", max(GRIDS)), ("rotate", min(GRIDS))):
        distorted = distort(dist, crop, grid, 0)
        nuis, _, _ = matched_nuisance(nuisance, crop, pixel_mse(distorted, crop))
        rows.append((f"{dist} {grid}x{grid}", crop[0], nuis[0], distorted[0]))
    figures["example trials"] = save_figure(plot_trials(rows), out_dir / "disrt_trials.png", dpi=90).name
    return figures


def _numbers_and_table(results: dict[str, xr.Dataset]) -> tuple[dict[str, float], str]:
    numbers: dict[str, float] = {}
    fine, mid = max(GRIDS), sorted(GRIDS)[len(GRIDS) // 2]
    lines = [f"| model | score (readout) | 95% interval | graded index | shuffle {fine}x{fine} | rotate {mid}x{mid} "
             "| pixel baseline |", "|---|---|---|---|---|---|---|"]
    for label, ds in results.items():
        info = summary(ds)
        readout = info["readout_layer"]
        shuffle_fine = float(ds["accuracy"].sel(layer=readout, distortion="shuffle", strength=fine, k=1.0))
        rotate_mid = float(ds["accuracy"].sel(layer=readout, distortion="rotate", strength=mid, k=1.0))
        key = "trained" if "ImageNet" in label else ("random" if "random" in label else "control")
        numbers.update({f"{key}_score": info["score"], f"{key}_index": info["index"],
                        f"{key}_shuffle{fine}": shuffle_fine, f"{key}_rotate{mid}": rotate_mid,
                        f"{key}_pixel_score": info["pixel_score"]})
        for k, row in info["topk"].items():
            numbers[f"{key}_topk{k}_change"] = row["mean_change"]
        lines.append(f"| {label} (`{readout}`) | {info['score']:.3f} | [{info['score_low']:.3f}, "
                     f"{info['score_high']:.3f}] | {info['index']:.3f} | {shuffle_fine:.2f} | {rotate_mid:.2f} | "
                     f"{info['pixel_score']:.3f} |")
    return numbers, "\n".join(lines)


def _command() -> str:
    grids, layers = ",".join(map(str, GRIDS)), ",".join(LAYERS)
    return (f"cogvision disrt --model torchvision:mobilenet_v2 --weights ../shared/{WEIGHTS} --layers {layers} "
            f"--distortion shuffle,rotate --grid {grids} --trials {TRIALS} --topk {','.join(map(str, TOPK))} "
            f"--topk-layers {','.join(TOPK_LAYERS)} --n-boot {N_BOOT} --out disrt_mobilenet && cogvision disrt "
            f"--model torchvision:mobilenet_v2 --layers {layers} --distortion shuffle,rotate --grid {grids} "
            f"--trials {TRIALS} --n-boot {N_BOOT} --out disrt_random")


def run(out_dir: pathlib.Path, shared: pathlib.Path | None = None, device: str = "auto") -> dict:
    """Run DiSRT end to end on the built-in photographs and write figures into ``out_dir``.

    Returns
    -------
    dict
        ``title``, ``markdown``, ``numbers`` (every value computed here) and ``command``.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=GRIDS, trials=TRIALS, n_boot=N_BOOT)
    first, first_net, first_layers, topk, random_net = _models(shared, device)
    images, names = builtin_images(IMAGES, size=preprocessing_for(random_net).resize)
    results = {first: run_disrt(first_net, images, protocol, layers=first_layers, topk=topk,
                                topk_layers=TOPK_LAYERS if topk else None, image_names=names),
               "MobileNetV2 random init": run_disrt(random_net, images, protocol, layers=LAYERS, image_names=names)}
    figures = _figures(results, first, topk, images, random_net, protocol.nuisance, out_dir)
    numbers, table = _numbers_and_table(results)
    markdown = "\n\n".join([
        f"DiSRT odd-one-out (image, pixel-MSE-matched {protocol.nuisance} nuisance, distortion) on {len(names)} "
        f"built-in photographs, {TRIALS} trials per cell; mean-pooled features, cosine similarity, chance 1/3, "
        "pixel-space baseline beside each model. The pixel-space observer sits near 1/2, not 1/3: the nuisance is "
        "as far from the image in pixels as the distortion, so it can only choose between those two. A model "
        "blind to layout (the permutation-invariant control) sees no difference between the image and its "
        "shuffle, so it calls the nuisance the odd one and scores at or below 1/3.",
        table + ("" if IMAGES is None else f"\n\n(The photographs: {', '.join(names)}; the command below runs the "
                                           "same protocol on all eight.)"),
        f"{first}, accuracy per layer (dense):\n\n" + markdown_table(results[first]),
        *[f"![{name}]({path})" for name, path in figures.items()],
    ])
    if topk:
        changes = ", ".join(f"k={k:g}: {numbers[f'trained_topk{k:g}_change']:+.3f}" for k in topk)
        markdown += f"\n\nTop-K at {', '.join(TOPK_LAYERS)} (mean accuracy over layers, change from dense): {changes}."
    return Section(title="DiSRT: sensitivity to global spatial structure", markdown=markdown, numbers=numbers,
                   command=_command())
