"""``cogvision foveate IMAGE... --system texture|blur|uniform|reference``: render foveated images."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

console = Console()
SYSTEMS = ("texture", "blur", "uniform", "reference")


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
    from data_loaders.images import read_image, square_resize

    if system not in SYSTEMS:
        raise typer.BadParameter(f"--system must be one of {SYSTEMS}, got {system!r}")
    if match_to is not None and (match_to != "texture" or system not in ("blur", "uniform")):
        console.print(f"[red]error:[/red] --match-to texture applies to --system blur or uniform, got --match-to "
                      f"{match_to!r} with --system {system!r}")
        raise typer.Exit(code=2)
    if out.exists() and not overwrite:
        console.print(f"[red]error:[/red] {out} exists; pass --overwrite to replace it")
        raise typer.Exit(code=2)
    dev = resolve_device(device)
    try:
        batch = torch.stack([square_resize(read_image(p), size) for p in images]).to(dev)
        fix = _fixation(fixation)
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
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    for path, image in zip(images, result):
        matplotlib.image.imsave(tmp / f"{path.stem}_{system}.png", image.permute(1, 2, 0).numpy())
    if matching is not None:
        import json

        matching["parameter_name"] = "blur_sigma_deg" if system == "uniform" else "blur_slope"
        (tmp / "matching.json").write_text(json.dumps(matching, indent=2))
        state = "matched" if matching["feasible"] else "NOT reachable: strongest blur tried"
        console.print(f"SSIM target {matching['target']:.3f} (texture, scaling {scaling}), achieved "
                      f"{matching['achieved']:.3f} at {matching['parameter_name']} {matching['parameter']:.4g} ({state})")
    if show_windows:
        from cogvision.foveation import pooling_windows
        from cogvision.viz.foveation import plot_windows

        fig = plot_windows(pooling_windows(size, size, scaling, fixation=fix, fov_deg=fov_deg), batch[0].cpu())
        fig.savefig(tmp / "windows.png", dpi=120, bbox_inches="tight")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    console.print(f"wrote {len(images)} image(s) through the {system} system to {out}")
