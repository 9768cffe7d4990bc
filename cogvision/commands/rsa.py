"""``cogvision rsa``: a network's layer RDMs against human and monkey IT on the 92-image set."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from cogvision.brain.rsa import METHODS, METRICS

console = Console()


def rsa(
    model: str = typer.Option(..., "--model", help="Model spec, e.g. torchvision:mobilenet_v2."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local weights (default: seeded random init)."),
    stimuli: Path = typer.Option(..., "--stimuli", help="Folder in the 92-image layout (Kriegeskorte 2008 .mat files)."),
    out: Path = typer.Option(..., "--out", "-o", help="Result folder."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated module names (default: 8 spread)."),
    metric: str = typer.Option("correlation", help=f"RDM distance: {', '.join(METRICS)}."),
    method: str = typer.Option("tau_a", help=f"RDM comparison: {', '.join(METHODS)}."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap samples over stimuli."),
    mixed_splits: int = typer.Option(0, "--mixed-splits", help="Reweighted RSA over this many 50/50 stimulus splits."),
    paired_untrained: bool = typer.Option(
        False, "--paired-untrained",
        help="Also score the same network untrained (seeded init) and write paired.csv: model minus untrained, "
             "paired bootstrap over stimuli, per layer and best layer (needs --weights)."),
    seed: int = typer.Option(0, help="Seed of the random init and the bootstrap."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing result folder."),
) -> None:
    """Layer sweep of RSA against human IT (4 subjects, ceiling band) and monkey IT; writes rsa.csv."""
    import torch

    from cogvision.brain.rsa_report import model_layer_rdms, write_rsa
    from cogvision.io import check_out_dir, publish_folder, run_metadata
    from data_loaders.images import to_tensor
    from data_loaders.kriegeskorte92 import load_92images, reference_rdms

    if metric not in METRICS or method not in METHODS:
        raise ValueError(f"--metric must be one of {METRICS} and --method one of {METHODS}")
    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"--weights file {weights} does not exist")
    if paired_untrained and weights is None:
        raise ValueError("--paired-untrained compares trained with untrained weights; give --weights")
    if n_boot < 1:
        raise ValueError(f"--n-boot must be >= 1, got {n_boot}")
    if mixed_splits < 0:
        raise ValueError(f"--mixed-splits must be >= 0, got {mixed_splits}")
    check_out_dir(out, overwrite)
    ds = load_92images(stimuli)
    images = torch.stack([to_tensor(img) for img in ds["images"].values])
    names = [x.strip() for x in layers.split(",")] if layers else None
    rdms = model_layer_rdms(model, images, names, weights=None if weights is None else str(weights), metric=metric,
                            seed=seed, device=device)
    baseline = (model_layer_rdms(model, images, list(rdms), weights=None, metric=metric, seed=seed, device=device)
                if paired_untrained else None)
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(seed=seed, device=device, model=model)) as tmp:
        table = write_rsa(tmp, rdms, reference_rdms(ds), method=method, n_boot=n_boot, seed=seed,
                          mixed_splits=mixed_splits, baseline_rdms=baseline,
                          info={"model": model, "weights": str(weights) if weights else None, "metric": metric,
                                "stimuli": str(stimuli), "paired_untrained": paired_untrained})
    console.print(escape(table.to_string(index=False, float_format=lambda v: f"{v:.3f}")))
    console.print(f"results: {escape(str(out))}")
