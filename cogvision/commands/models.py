"""``cogvision models list|inspect``: what specs exist, and what a network looks like inside."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import cogvision.models as models_api
from cogvision.commands._options import weights_option

app = typer.Typer(help="Load and inspect vision networks.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_specs() -> None:
    """Show the model spec prefixes with examples."""
    table = Table("prefix", "example", "what")
    for prefix, (example, what) in models_api.SPEC_EXAMPLES.items():
        table.add_row(escape(prefix), escape(example), escape(what))
    console.print(table)


@app.command("inspect")
def inspect(
    spec: str = typer.Argument(..., help="Model spec, e.g. timm:vit_small_patch16_224 or torchvision:mobilenet_v2."),
    weights: Optional[Path] = weights_option(),
    image_size: Optional[int] = typer.Option(None, "--image-size",
                                             help="Test input side in pixels (default: the model's own)."),
    all_layers: bool = typer.Option(False, "--all-layers",
                                    help="List every named layer, not only the leaves' parents."),
) -> None:
    """Layers, parameter count, input size, attention blocks and whether the harnesses can use SPEC.

    A ``package.module:factory`` SPEC runs that factory: typing it here is the opt-in (configuration files need
    ``allow_code: true`` instead).
    """
    if image_size is not None and image_size < 8:
        raise ValueError(f"--image-size must be at least 8 pixels, got {image_size}")
    model = models_api.load_model(spec, weights=weights, device="cpu", allow_code=True)
    prep = models_api.preprocessing_for(model)
    size = image_size or prep.crop
    report = models_api.validate_model(model, size)
    console.print(f"[bold]{escape(spec)}[/bold]  ({type(model).__name__})")
    console.print(escape(f"input: {size}x{size} px, preprocessing: resize {prep.resize}, crop {prep.crop}, "
                         f"mean {prep.mean}, std {prep.std} (from {prep.source})"))
    console.print(escape(str(report)))
    layers = [n for n in models_api.list_layers(model) if all_layers or n.count(".") <= 1]
    console.print(f"layers ({len(layers)} shown; --all-layers for every one):")
    console.print(escape(", ".join(layers)))
    if not report.ok:
        raise typer.Exit(code=1)
