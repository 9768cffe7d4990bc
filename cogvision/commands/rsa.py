"""``cogvision rsa``: a network's layer RDMs against human and monkey IT on the 92-image set.

Job: :mod:`cogvision.jobs.rsa`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from cogvision.brain.rsa import METHODS, METRICS
from cogvision.commands._options import (
    device_option,
    layers_option,
    model_option,
    out_option,
    overwrite_option,
    seed_option,
    split_names,
    weights_option,
)
from cogvision.jobs.rsa import run_rsa

console = Console()
Metric = Enum("Metric", {m: m for m in METRICS}, type=str)
Method = Enum("Method", {m: m for m in METHODS}, type=str)


def rsa(
    model: str = model_option(),
    weights: Optional[Path] = weights_option("Local weights (default: the seeded random initialisation)."),
    stimuli: Path = typer.Option(..., "--stimuli",
                                 help="Folder in the 92-image layout (Kriegeskorte 2008 .mat files)."),
    out: Path = out_option(help="Result folder."),
    layers: Optional[str] = layers_option(help="Default: 8 spread over the network."),
    metric: Metric = typer.Option("correlation", "--metric", help="RDM distance."),
    method: Method = typer.Option("tau_a", "--method", help="RDM comparison."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap samples over stimuli."),
    mixed_splits: int = typer.Option(0, "--mixed-splits", help="Reweighted RSA over this many 50/50 stimulus splits."),
    paired_untrained: bool = typer.Option(
        False, "--paired-untrained",
        help="Also score the same network untrained (seeded init) and write paired.csv: model minus untrained, "
             "paired bootstrap over stimuli, per layer and best layer (needs --weights)."),
    seed: int = seed_option(help="Seed of the random initialisation and the bootstrap."),
    device: str = device_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Layer sweep of RSA against human IT (4 subjects, ceiling band) and monkey IT; writes rsa.csv."""
    table = run_rsa(model, stimuli, out, weights=None if weights is None else str(weights),
                    layers=split_names(layers, "--layers") if layers else None, metric=metric.value,
                    method=method.value, n_boot=n_boot, mixed_splits=mixed_splits, paired_untrained=paired_untrained,
                    seed=seed, device=device, overwrite=overwrite)
    console.print(escape(table.to_string(index=False, float_format=lambda v: f"{v:.3f}")))
    console.print(f"results: {escape(str(out))}")
