"""``cogvision fit-encoder CONFIG``: a scripted, resumable encoding fit (the job: :mod:`cogvision.jobs.fit_encoder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cogvision.commands._options import device_option, out_option, overwrite_option, resume_option
from cogvision.jobs import fit_encoder as job

console = Console()


def fit_encoder(
    config: Path = typer.Argument(..., help="Config file (YAML, JSON or TOML): data/features/responses, encoder, cv "
                                            "(see docs/fit_encoder.md)."),
    out: Path = out_option(Path("results/fit_encoder"), help="Result folder."),
    overwrite: bool = overwrite_option(),
    resume: bool = resume_option("fit"),
    dask: Optional[str] = typer.Option(None, "--dask", help="Scheduler address, or 'local' for a LocalCluster "
                                                            "(ridge); default: the config's 'dask'."),
    device: Optional[str] = device_option(None, help="Default: the config's 'device', else auto."),
) -> None:
    """Fit an encoder (ridge, factorized, transformer or banded) with held-out CV; write scores, maps and figures.

    The config is checked (keys, types, choices, files, data) before anything is written.
    """
    summary = job.run_fit(config, out, overwrite=overwrite, resume=resume, dask=dask, device=device)
    table = Table("quantity", "value")
    for key, value in summary.items():
        table.add_row(escape(str(key)), f"{value:.4f}" if isinstance(value, float) else escape(str(value)))
    console.print(table)
    console.print(f"results: {escape(str(out))}")
