"""Emergent Properties of Foveated Perceptual Systems (Deza & Konkle 2020): the experiment suite.

Full size (the paper: 20 Places classes, 4,500 train and 250 test images each, 256 px, 10 runs):

    .venv/bin/python experiments/foveation_emergent_properties.py --train PLACES20/train --test PLACES20/test \
        --arch resnet18 --epochs 80 --runs 10 --size 256 --out results/emergent_resnet18

(``--arch alexnet --epochs 120`` for AlexNet). Without ``--train`` it runs the tiny wheel-photograph
version used in CI. ``--write-notebook`` (re)builds ``experiments/foveation_emergent_properties.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).with_suffix(".ipynb")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, help="ImageFolder of training images (default: toy wheel data)")
    parser.add_argument("--test", type=Path, help="ImageFolder of test images")
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "alexnet"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--scaling", type=float, default=0.4)
    parser.add_argument("--uniform-sigma-deg", type=float, default=None,
                        help="Fixed uniform blur (default: matched to the texture system's SSIM)")
    parser.add_argument("--foveated-slope", type=float, default=None,
                        help="Fixed foveated blur slope (default: matched to the texture system's SSIM)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("results/emergent"))
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--write-notebook", action="store_true")
    args = parser.parse_args(argv)
    if args.write_notebook:
        write_notebook()
        return
    from cogvision.foveation import emergent
    from cogvision.viz.foveation import plot_suite

    if args.out.exists() and not args.overwrite:
        sys.exit(f"{args.out} exists; pass --overwrite")
    if args.train is not None:
        if args.test is None:
            sys.exit("--train needs --test")
        train = emergent.load_image_folder(args.train, args.size)
        test = emergent.load_image_folder(args.test, args.size)
    else:
        train = emergent.wheel_dataset(n_per_class=4, size=args.size, seed=0)
        test = emergent.wheel_dataset(n_per_class=2, size=args.size, seed=1)
    import json

    # the blur controls are matched to the texture system in mean SSIM on training images, unless fixed
    systems, matching = emergent.matched_systems(train.tensors[0][:16], scaling=args.scaling)
    if args.uniform_sigma_deg is not None:
        systems["uniform"] = emergent.make_system("uniform", uniform_sigma_deg=args.uniform_sigma_deg)
    if args.foveated_slope is not None:
        systems["foveated_blur"] = emergent.make_system("foveated_blur", foveated_slope=args.foveated_slope)
    for record in matching:
        state = "matched" if record["feasible"] else "INFEASIBLE (strongest blur tried)"
        print(f"{record['system']}: target SSIM {record['target']:.3f}, achieved {record['achieved']:.3f} at "
              f"{record['parameter']:.4g} ({state})")
    result = emergent.run_suite(train, test, systems=systems, arch=args.arch, runs=args.runs, epochs=args.epochs,
                                batch_size=args.batch_size, device=args.device, progress=True)
    result.attrs["matching"] = json.dumps(matching)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".emergent.nc.tmp"
    result.to_netcdf(tmp)
    tmp.replace(args.out / "emergent.nc")
    plot_suite(result).savefig(args.out / "emergent.png", dpi=120)
    print(result["accuracy"].mean("run").to_series())


def write_notebook() -> None:
    import nbformat

    cells = [
        nbformat.v4.new_markdown_cell(
            "# Emergent properties of foveated perceptual systems\n\n"
            "Deza & Konkle (2020): the same CNN trained from scratch behind four front-ends (reference, "
            "foveated texture, uniform blur, foveated blur), then tested under occlusion, spatial-frequency "
            "filtering, centre/periphery cue conflict and on the other systems' images.\n\n"
            "This notebook runs the whole suite at a toy size (8 wheel photographs as classes, 64 px, one epoch) "
            "so it finishes in CI; the numbers are not the paper's. Full size:\n\n"
            "```\n.venv/bin/python experiments/foveation_emergent_properties.py --train PLACES20/train "
            "--test PLACES20/test --arch resnet18 --epochs 80 --runs 10 --size 256 --out results/emergent_resnet18\n```"),
        nbformat.v4.new_code_cell(
            "import torch\n"
            "from cogvision.foveation import emergent\n"
            "from cogvision.viz.foveation import plot_systems, plot_suite\n"
            "train = emergent.wheel_dataset(n_per_class=3, size=64, seed=0)\n"
            "test = emergent.wheel_dataset(n_per_class=1, size=64, seed=1)\n"
            "systems, matching = emergent.matched_systems(train.tensors[0][:16])  # blur matched in SSIM\n"
            "print(matching)\n"
            "with torch.no_grad():\n"
            "    plot_systems({name: system(test.tensors[0][:1])[0] for name, system in systems.items()});"),
        nbformat.v4.new_code_cell(
            "result = emergent.run_suite(train, test, systems=systems, arch='alexnet', runs=1, epochs=1, batch_size=24,\n"
            "                            device='cpu', fractions=(0.0, 0.25, 0.5, 0.75), sigmas_px=(0, 2, 8),\n"
            "                            radii=(0.25, 0.5))\n"
            "result['accuracy'].mean('run').to_series()"),
        nbformat.v4.new_code_cell("plot_suite(result);"),
        nbformat.v4.new_code_cell("result['generalisation'].mean('run').to_pandas()"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                               "language": "python"}})
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
