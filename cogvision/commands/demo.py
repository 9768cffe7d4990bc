"""``cogvision demo``: every module on built-in data, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()


def demo(
    out: Path = typer.Option(Path("results/demo"), help="Report folder."),
    data: Optional[Path] = typer.Option(None, help="Real data folder (default: $COGVISION_SHARED or ../shared when present)."),
    sections: str = typer.Option("gestalt,foveation,brain,scanpath,gaze", help="Comma-separated sections to run."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report folder."),
    no_data: bool = typer.Option(False, "--no-data", help="Ignore any real data folder: built-in data only."),
) -> None:
    """Run DiSRT, the foveated front-ends, the brain encoders, OAT and ViTGaze on built-in data.

    Writes OUT/report.html (and report.md, numbers.json, figures). Real data (Amazon covers, Haxby,
    GazeFollow annotations, MobileNetV2 weights) is used where the data folder has it.
    """
    from cogvision.demo import run_demo
    from data_loaders.shared import shared_dir

    if data is not None and not data.is_dir():
        console.print(f"[red]error:[/red] --data {data} is not a folder")
        raise typer.Exit(code=2)
    shared = None if no_data else (data or shared_dir())
    try:
        results = run_demo(out, shared=shared, device=device,
                           sections=tuple(s.strip() for s in sections.split(",") if s.strip()), overwrite=overwrite)
    except (FileExistsError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2)
    for r in results:
        status = "[red]failed[/red]" if r.error else "[green]ok[/green]"
        console.print(f"{r.title}: {status} ({r.seconds:.1f} s)")
    console.print(f"report: {out / 'report.html'}")
    if any(r.error for r in results):
        raise typer.Exit(code=1)
