"""End-to-end demo of the foveated front-ends on four built-in photographs (about 5 s on one CPU thread)."""

from __future__ import annotations

import pathlib
import time

import torch

from cogvision.demo.section import Section
from cogvision.device import resolve_device
from cogvision.foveation.geometry import pooling_windows
from cogvision.foveation.matching import match_compression, ssim
from cogvision.foveation.systems import make_system
from cogvision.io import save_figure
from cogvision.viz.foveation import plot_systems, plot_windows
from data_loaders.images import builtin_images

IMAGES = ["astronaut", "chelsea", "coffee", "grace_hopper"]
SIZE = 128


def run(out_dir: pathlib.Path, shared: pathlib.Path | None = None, device: str = "auto") -> dict:
    """Windows, the four systems on one image, SSIM to the reference, and compression matching."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    images, names = builtin_images(IMAGES, size=SIZE)
    images = images.to(dev)
    numbers: dict[str, float] = {}

    windows = pooling_windows(SIZE, SIZE, 0.4)
    numbers["windows_s0.4"] = float(windows.n_windows)
    save_figure(plot_windows(windows, images[1].cpu()), out_dir / "foveation_windows.png", dpi=100)

    # matching at s = 0.25: at s = 0.4 the texture's SSIM falls below what any blur reaches on these photos
    texture_matched = make_system("texture", scaling=0.25)
    t0 = time.perf_counter()
    match = match_compression(images, texture_matched, names=names)
    numbers["match_seconds"] = time.perf_counter() - t0
    numbers["matched_uniform_sigma_deg"] = match.uniform_sigma_deg
    numbers["matched_foveated_slope"] = match.foveated_slope
    numbers["target_ssim_s0.25"] = match.target_ssim

    systems = {"reference": make_system("reference"), "texture s=0.4": make_system("texture", scaling=0.4),
               "foveated blur": make_system("foveated_blur", foveated_slope=match.foveated_slope),
               "uniform blur": make_system("uniform", uniform_sigma_deg=match.uniform_sigma_deg)}
    outputs = {}
    with torch.no_grad():
        reference = systems["reference"](images)
        for name, system in systems.items():
            result = system(images)
            numbers[f"ssim_{name.replace(' ', '_')}"] = float(ssim(result, reference).mean())
            outputs[name] = result[1].cpu()
    save_figure(plot_systems(outputs), out_dir / "foveation_systems.png", dpi=100)

    rows = "\n".join(f"| {k} | {v:.4g} |" for k, v in numbers.items())
    markdown = (
        f"Four front-ends of Deza & Konkle (2020) on {len(names)} built-in photographs ({SIZE} px, 26 deg across): "
        "pooling windows at s = 0.4, the foveated texture (steerable-pyramid AdaIN), and blur controls matched "
        "in mean SSIM to the texture system at s = 0.25.\n\n| quantity | value |\n|---|---|\n" + rows +
        "\n\n![windows](foveation_windows.png)\n\n![systems](foveation_systems.png)\n")
    return Section(title="Foveated front-ends", markdown=markdown, numbers=numbers,
                   command="cogvision foveate IMAGE... --system texture --scaling 0.4 --out DIR")
