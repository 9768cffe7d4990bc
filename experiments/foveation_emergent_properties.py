"""Emergent Properties of Foveated Perceptual Systems (Deza & Konkle 2020): the experiment suite.

Full size (the paper: 20 Places classes, 4,500 train and 250 test images each, 256 px, 10 runs):

    .venv/bin/python experiments/foveation_emergent_properties.py --train PLACES20/train --test PLACES20/test \
        --arch resnet18 --epochs 80 --runs 10 --size 256 --out results/emergent_resnet18

(``--arch alexnet --epochs 120`` for AlexNet). Without ``--train`` it runs the tiny wheel-photograph
version used in CI. ``--write-notebook`` (re)builds ``experiments/foveation_emergent_properties.ipynb``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from cogvision.jobs.foveation import emergent_properties
from cogvision.reporting import get_logger

NOTEBOOK = Path(__file__).with_suffix(".ipynb")
log = get_logger(__name__)


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
    result = emergent_properties(args.out, train=args.train, test=args.test, arch=args.arch, epochs=args.epochs,
                                 runs=args.runs, size=args.size, batch_size=args.batch_size, scaling=args.scaling,
                                 uniform_sigma_deg=args.uniform_sigma_deg, foveated_slope=args.foveated_slope,
                                 device=args.device, overwrite=args.overwrite)
    print(result["accuracy"].mean("run").to_series())


def write_notebook() -> None:
    cells = [
        nbformat.v4.new_markdown_cell(
            "# Emergent properties of foveated perceptual systems\n\n"
            "Deza & Konkle (2020): the same CNN trained from scratch behind four front-ends (reference, "
            "foveated texture, uniform blur, foveated blur), then tested under occlusion, spatial-frequency "
            "filtering, centre/periphery cue conflict and on the other systems' images.\n\n"
            "This notebook runs the whole suite at a toy size (8 wheel photographs as classes, 64 px, one epoch) "
            "so it finishes in CI; the numbers are not the paper's. Full size:\n\n"
            "```\n.venv/bin/python experiments/foveation_emergent_properties.py --train PLACES20/train "
            "--test PLACES20/test --arch resnet18 --epochs 80 --runs 10 --size 256 "
            "--out results/emergent_resnet18\n```"),
        nbformat.v4.new_code_cell(
            "import torch\n"
            "from cogvision.foveation import emergent\n"
            "from cogvision.viz.foveation import plot_systems, plot_suite\n"
            "from data_loaders.images import wheel_dataset\n"
            "train = wheel_dataset(n_per_class=3, size=64, seed=0)\n"
            "test = wheel_dataset(n_per_class=1, size=64, seed=1)\n"
            "systems, matching = emergent.matched_systems(train.tensors[0][:16])  # blur matched in SSIM\n"
            "print(matching)\n"
            "with torch.no_grad():\n"
            "    plot_systems({name: system(test.tensors[0][:1])[0] for name, system in systems.items()});"),
        nbformat.v4.new_code_cell(
            "result = emergent.run_suite(train, test, systems=systems, arch='alexnet', runs=1, epochs=1, "
            "batch_size=24,\n"
            "                            device='cpu', fractions=(0.0, 0.25, 0.5, 0.75), sigmas_px=(0, 2, 8),\n"
            "                            radii=(0.25, 0.5))\n"
            "result['accuracy'].mean('run').to_series()"),
        nbformat.v4.new_code_cell("plot_suite(result);"),
        nbformat.v4.new_code_cell("result['generalisation'].mean('run').to_pandas()"),
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel})
    nbformat.write(notebook, NOTEBOOK)
    log.info(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
