"""``cogvision fit-encoder CONFIG.yaml``: a scripted, resumable encoding fit (see :mod:`cogvision.brain.fitting`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def fit_encoder(
    config: Path = typer.Argument(..., help="YAML config: data/features/responses, encoder, cv."),
    out: Path = typer.Option(Path("results/fit_encoder"), "--out", "-o", help="Result folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing result folder."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted fit in OUT (same config)."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Scheduler address, or 'local' for a LocalCluster (ridge)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or mps (default: the config's, else auto)."),
) -> None:
    """Fit an encoder (ridge, factorized or transformer) with held-out CV; write scores, maps and figures."""
    from cogvision.brain.fitting import run_fit

    try:
        summary = run_fit(config, out, overwrite=overwrite, resume=resume, dask=dask, device=device)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2)
    table = Table("quantity", "value")
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"results: {out}")
