"""``cogvision demo``: every module on built-in data, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from cogvision import demo as demo_job
from cogvision.commands._options import device_option, existing_folder, out_option, overwrite_option, split_names
from cogvision.device import resolve_device
from data_loaders.shared import shared_dir

console = Console()


def demo(
    out: Path = out_option(Path("results/demo"), help="Report folder."),
    data: Optional[Path] = typer.Option(None, "--data", help="Real data folder (default: $COGVISION_SHARED or "
                                                             "../shared when present)."),
    sections: str = typer.Option(",".join(demo_job.SECTIONS), "--sections",
                                 help=f"Comma-separated sections to run, some of {', '.join(demo_job.SECTIONS)}."),
    device: str = device_option(),
    overwrite: bool = overwrite_option(),
    no_data: bool = typer.Option(False, "--no-data", help="Ignore any real data folder: built-in data only."),
) -> None:
    """Run DiSRT, the foveated front-ends, the brain encoders, OAT and ViTGaze on built-in data.

    Writes OUT/report.html (and report.md, numbers.json, figures), one progress line per section on stderr.
    Real data (Amazon covers, Haxby, GazeFollow annotations, MobileNetV2 weights) is used where the data
    folder has it.
    """
    existing_folder(data, "--data")
    chosen = tuple(split_names(sections, "--sections"))
    unknown = [s for s in chosen if s not in demo_job.SECTIONS]
    if unknown:
        raise ValueError(f"--sections: unknown sections {unknown}; expected some of {', '.join(demo_job.SECTIONS)}")
    resolve_device(device)
    shared = None if no_data else (data or shared_dir())
    results = demo_job.run_demo(out, shared=shared, device=device, sections=chosen, overwrite=overwrite)
    for r in results:
        status = "[red]failed[/red]" if r.error else "[green]ok[/green]"
        console.print(f"{escape(r.title)}: {status} ({r.seconds:.1f} s)")
    console.print(f"report: {escape(str(out / 'report.html'))}")
    if any(r.error for r in results):
        raise typer.Exit(code=1)
