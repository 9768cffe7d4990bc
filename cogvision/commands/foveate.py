"""``cogvision foveate IMAGE... --system NAME``: render images through one foveated front-end.

The systems are those of :data:`cogvision.foveation.systems.ALL_SYSTEMS` (``reference``, ``texture``,
``uniform``, ``foveated_blur``); ``blur`` is accepted as the older name of ``foveated_blur``. The run is
:func:`cogvision.jobs.foveation.foveate_images`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from cogvision.commands._options import (
    batch_size_option,
    device_option,
    image_size_option,
    out_option,
    overwrite_option,
    seed_option,
)
from cogvision.foveation.systems import ALIASES, ALL_SYSTEMS, SystemParameters, choices_text, system_name
from cogvision.jobs.foveation import foveate_images

console = Console()
SYSTEM_METAVAR = "|".join([*ALL_SYSTEMS, *ALIASES])


def _fixation(text: Optional[str]) -> Optional[tuple[float, float]]:
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--fixation must be 'x,y' in pixels, got {text!r}")
    return x, y


def _size(image_size: int, size: Optional[int]) -> int:
    """``--image-size``, or the older ``--size`` when that is given; at least 8 pixels."""
    flag, value = ("--size", size) if size is not None else ("--image-size", image_size)
    if value < 8:
        raise ValueError(f"{flag} must be at least 8 pixels, got {value}")
    return value


def foveate(
    images: List[Path] = typer.Argument(..., help="Image files."),
    out: Path = out_option(help="Output folder (<stem>_<system>.png per image)."),
    system: str = typer.Option("texture", "--system", metavar=SYSTEM_METAVAR,
                               help=f"Foveation system: {choices_text()}."),
    scaling: float = typer.Option(0.4, "--scaling", help="Window size / eccentricity (texture system)."),
    fixation: Optional[str] = typer.Option(None, "--fixation", help="x,y in pixels of the resized image "
                                           "(default centre)."),
    fov_deg: float = typer.Option(26.0, "--fov-deg", help="Degrees spanned by the image width."),
    image_size: int = image_size_option(256, help="Images are centre-cropped and resized to SIZE x SIZE pixels."),
    size: Optional[int] = typer.Option(None, "--size", hidden=True, help="Older name of --image-size."),
    blur_slope: float = typer.Option(0.1, "--blur-slope", help="Foveated blur: sigma (deg) per degree of "
                                     "eccentricity."),
    blur_sigma: float = typer.Option(0.3, "--blur-sigma", help="Uniform blur: sigma in degrees."),
    seed: int = seed_option(help="Noise seed of the texture system (image i of the list uses seed + i)."),
    match_to: Optional[str] = typer.Option(None, "--match-to", help="'texture': pick the blur parameter whose mean "
                                           "SSIM to the reference equals the texture system's (at --scaling) on "
                                           "IMAGES; writes matching.json (foveated_blur and uniform only)."),
    show_windows: bool = typer.Option(False, "--show-windows", help="Also save windows.png."),
    batch_size: int = batch_size_option(8, help="Images rendered at a time."),
    overwrite: bool = overwrite_option(),
    device: str = device_option(),
) -> None:
    """Transform IMAGES through one foveated front-end and write PNGs into OUT."""
    try:
        canonical = system_name(system)
    except ValueError:
        raise ValueError(f"--system must be one of {choices_text()}, got {system!r}") from None
    if match_to is not None and (match_to != "texture" or canonical not in ("uniform", "foveated_blur")):
        raise ValueError(f"--match-to texture applies to --system foveated_blur (blur) or uniform, got --match-to "
                         f"{match_to!r} with --system {system!r}")
    parameters = SystemParameters(scaling=scaling, uniform_sigma_deg=blur_sigma, foveated_slope=blur_slope,
                                  fixation=_fixation(fixation), fov_deg=fov_deg, seed=seed)
    result = foveate_images(images, out, system=system, parameters=parameters, image_size=_size(image_size, size),
                            match_to_texture=match_to is not None, show_windows=show_windows, batch_size=batch_size,
                            device=device, overwrite=overwrite)
    matching = result["matching"]
    if matching is not None:
        state = "matched" if matching["feasible"] else "NOT reachable: strongest blur tried"
        console.print(f"SSIM target {matching['target']:.3f} (texture, scaling {scaling}), achieved "
                      f"{matching['achieved']:.3f} at {matching['parameter_name']} {matching['parameter']:.4g} "
                      f"({escape(state)})")
    console.print(f"wrote {len(result['files'])} image(s) through the {result['system']} system to "
                  f"{escape(str(out))}")
