"""``cogvision demo``: every module on built-in data, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

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
    from cogvision.demo import SECTIONS, run_demo
    from cogvision.device import resolve_device
    from cogvision.io import check_out_dir, publish_folder, run_metadata
    from data_loaders.shared import shared_dir

    if data is not None and not data.is_dir():
        raise NotADirectoryError(f"--data {data} is not a folder")
    chosen = tuple(s.strip() for s in sections.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ValueError(f"--sections: unknown or no sections {unknown or sections!r}; expected some of "
                         f"{', '.join(SECTIONS)}")
    check_out_dir(out, overwrite)
    dev = str(resolve_device(device))
    shared = None if no_data else (data or shared_dir())
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(device=dev, sections=",".join(chosen))) as tmp:
        results = run_demo(tmp, shared=shared, device=dev, sections=chosen, overwrite=True)
    for r in results:
        status = "[red]failed[/red]" if r.error else "[green]ok[/green]"
        console.print(f"{escape(r.title)}: {status} ({r.seconds:.1f} s)")
    console.print(f"report: {escape(str(out / 'report.html'))}")
    if any(r.error for r in results):
        raise typer.Exit(code=1)
