"""``cogvision foveate IMAGE... --system texture|blur|uniform|reference``: render foveated images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
SYSTEMS = ("texture", "blur", "uniform", "reference")


def _output_names(images: List[Path], system: str) -> list[str]:
    """``<stem>_<system>.png`` per image; two inputs with the same stem are an error (one would be lost)."""
    names, seen = [], {}
    for path in images:
        name = f"{path.stem}_{system}.png"
        if name in seen:
            raise ValueError(f"{seen[name]} and {path} would both be written as {name}; give images with "
                             "different file names (stems)")
        seen[name] = path
        names.append(name)
    return names


def _fixation(text: Optional[str]) -> Optional[tuple[float, float]]:
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--fixation must be 'x,y' in pixels, got {text!r}")
    return x, y


def foveate(
    images: List[Path] = typer.Argument(..., help="Image files."),
    out: Path = typer.Option(..., "--out", help="Output folder (refused if it exists, unless --overwrite)."),
    system: str = typer.Option("texture", help="texture | blur | uniform | reference."),
    scaling: float = typer.Option(0.4, help="Window size / eccentricity (texture system)."),
    fixation: Optional[str] = typer.Option(None, help="x,y in pixels of the resized image (default centre)."),
    fov_deg: float = typer.Option(26.0, "--fov-deg", help="Degrees spanned by the image width."),
    size: int = typer.Option(256, help="Images are centre-cropped and resized to size x size."),
    blur_slope: float = typer.Option(0.1, help="Foveated blur: sigma (deg) per degree of eccentricity."),
    blur_sigma: float = typer.Option(0.3, help="Uniform blur: sigma in degrees."),
    seed: int = typer.Option(0, help="Noise seed of the texture system (image i of the list uses seed + i)."),
    match_to: Optional[str] = typer.Option(None, "--match-to", help="'texture': pick the blur parameter whose mean "
                                           "SSIM to the reference equals the texture system's (at --scaling) on "
                                           "IMAGES; writes matching.json (blur and uniform systems only)."),
    show_windows: bool = typer.Option(False, "--show-windows", help="Also save windows.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps."),
) -> None:
    """Transform IMAGES through one foveated front-end and write PNGs into OUT."""
    import matplotlib.image
    import torch

    from cogvision.device import resolve_device
    from cogvision.foveation import FoveatedBlur, FoveatedTexture, Reference, UniformBlur
    from cogvision.io import check_out_dir, publish_folder, run_metadata
    from data_loaders.images import read_image, square_resize

    if system not in SYSTEMS:
        raise typer.BadParameter(f"--system must be one of {SYSTEMS}, got {system!r}")
    if match_to is not None and (match_to != "texture" or system not in ("blur", "uniform")):
        raise ValueError(f"--match-to texture applies to --system blur or uniform, got --match-to {match_to!r} "
                         f"with --system {system!r}")
    if size < 8:
        raise ValueError(f"--size must be at least 8 pixels, got {size}")
    names = _output_names(images, system)
    check_out_dir(out, overwrite)
    dev = resolve_device(device)
    fix = _fixation(fixation)
    batch = torch.stack([square_resize(read_image(p), size) for p in images]).to(dev)
    matching = None
    if match_to is not None:
        from cogvision.foveation.matching import match_system

        texture = FoveatedTexture(scaling, fixation=fix, fov_deg=fov_deg, seed=seed)
        matching = match_system("uniform" if system == "uniform" else "foveated_blur", batch, texture)
        if system == "uniform":
            blur_sigma = matching["parameter"]
        else:
            blur_slope = matching["parameter"]
    module = {
        "texture": lambda: FoveatedTexture(scaling, fixation=fix, fov_deg=fov_deg, seed=seed),
        "blur": lambda: FoveatedBlur(blur_slope, fixation=fix, fov_deg=fov_deg),
        "uniform": lambda: UniformBlur(blur_sigma, fov_deg=fov_deg),
        "reference": lambda: Reference(),
    }[system]()
    with torch.no_grad():
        index = list(range(len(batch)))  # texture noise seeded per image
        result = (module(batch, index=index) if system == "texture" else module(batch)).cpu()
    metadata = run_metadata(seed=seed, device=dev, system=system, images=len(images))
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as tmp:
        for name, image in zip(names, result):
            matplotlib.image.imsave(tmp / name, image.permute(1, 2, 0).numpy())
        if matching is not None:
            matching["parameter_name"] = "blur_sigma_deg" if system == "uniform" else "blur_slope"
            (tmp / "matching.json").write_text(json.dumps(matching, indent=2))
        if show_windows:
            from cogvision.foveation import pooling_windows
            from cogvision.viz.foveation import plot_windows

            fig = plot_windows(pooling_windows(size, size, scaling, fixation=fix, fov_deg=fov_deg), batch[0].cpu())
            fig.savefig(tmp / "windows.png", dpi=120, bbox_inches="tight")
    if matching is not None:
        state = "matched" if matching["feasible"] else "NOT reachable: strongest blur tried"
        console.print(f"SSIM target {matching['target']:.3f} (texture, scaling {scaling}), achieved "
                      f"{matching['achieved']:.3f} at {matching['parameter_name']} {matching['parameter']:.4g} "
                      f"({escape(state)})")
    console.print(f"wrote {len(names)} image(s) through the {system} system to {escape(str(out))}")
