"""``cogvision disrt``: the DiSRT odd-one-out diagnostic of global-structure sensitivity on any model."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _numbers(text: str | None, kind: type, option: str) -> list:
    try:
        return [kind(part) for part in _split(text)]
    except ValueError:
        raise ValueError(f"{option} expects comma-separated {kind.__name__} values, got {text!r}") from None


def _add_model_column(path: Path, model: str) -> None:
    """Insert a first column ``model`` into the CSV table at ``path`` (tables of several runs concatenate)."""
    import pandas as pd

    from cogvision.io import atomic_write

    frame = pd.read_csv(path)
    frame.insert(0, "model", model)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _command(**options) -> str:
    """The full command line that reproduces a run (every option spelled out, flags only when set)."""
    parts = ["cogvision", "disrt"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parts += [flag] if value else []
        elif value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


def disrt(
    model: str = typer.Option(..., "--model",
                              help="Model spec, e.g. torchvision:mobilenet_v2 or timm:vit_small_patch16_224."),
    out: Path = typer.Option(..., "--out", help="Result folder (must not exist unless --overwrite)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local weights (.safetensors or torch state dict)."),
    images: Optional[str] = typer.Option(None, "--images", help="Folder or glob of images (default: photographs "
                                         "shipped in scikit-image and matplotlib)."),
    layers: str = typer.Option("auto", "--layers", help="Comma-separated module names, or 'auto' (a spread of four)."),
    distortion: str = typer.Option("shuffle,rotate", "--distortion",
                                   help="Comma-separated: shuffle, shuffle_seamless, rotate, texform."),
    grid: str = typer.Option("2,4,8", "--grid", help="Comma-separated grid sizes (patches per side)."),
    pool: str = typer.Option("mean", "--pool", help="Readout pooling: cls, mean or flat."),
    similarity: str = typer.Option("cosine", "--similarity", help="cosine, correlation or euclidean."),
    nuisance: str = typer.Option("local", "--nuisance", help="Nuisance variant: local (small shift, colour change "
                                 "and band-limited noise; keeps global layout), shift or color."),
    no_match: bool = typer.Option(False, "--no-match", help="Use a fixed small nuisance (a 2% shift) instead of "
                                  "matching its pixel MSE to the distortion's (deep layers then saturate)."),
    trials: int = typer.Option(3, "--trials", help="Trials per image and cell (distortion and nuisance seeds)."),
    topk: Optional[str] = typer.Option(None, "--topk",
                                       help="Comma-separated Top-K fractions to sweep, e.g. 0.05,0.1,0.2."),
    topk_layers: Optional[str] = typer.Option(None, "--topk-layers",
                                              help="Where Top-K is attached (default: --layers)."),
    token_mode: str = typer.Option("token", "--token-mode", help="Top-K on token sequences: per token or per channel."),
    human: Optional[float] = typer.Option(None, "--human", help="Human reference accuracy drawn in the figure."),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per forward pass."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the intervals."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, mps."),
    seed: int = typer.Option(0, "--seed", help="Seed of random initialisation, distortions, nuisances, bootstrap."),
    strict: bool = typer.Option(False, "--strict", help="Fail on an unreadable image instead of skipping it."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing result folder."),
) -> None:
    """Odd-one-out among (image, pixel-matched nuisance, distortion) at chosen layers; writes a report folder."""
    from cogvision.gestalt import DisrtProtocol, run_disrt
    from cogvision.gestalt.report import save_results
    from cogvision.io import check_out_dir, publish_folder, run_metadata
    from cogvision.models import load_model, preprocessing_for
    from cogvision.training import seed_everything
    from data_loaders.images import builtin_images, load_images

    command = _command(model=model, weights=weights, images=images, layers=layers, distortion=distortion, grid=grid,
                       pool=pool, similarity=similarity, nuisance=nuisance, no_match=no_match, trials=trials, topk=topk,
                       topk_layers=topk_layers, token_mode=token_mode, human=human, batch_size=batch_size,
                       n_boot=n_boot, device=device, seed=seed, strict=strict, out=out)
    for flag, value in (("--trials", trials), ("--batch-size", batch_size), ("--n-boot", n_boot)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    check_out_dir(out, overwrite)
    protocol = DisrtProtocol(distortions=tuple(_split(distortion)), grids=tuple(_numbers(grid, int, "--grid")),
                             pooling=pool, similarity=similarity, nuisance=nuisance, match=not no_match,
                             token_mode=token_mode, seed=seed, trials=trials, n_boot=n_boot, human=human)
    seed_everything(seed)  # a randomly initialised model is the same network for the same --seed
    net = load_model(model, weights=weights, device=device)
    side = preprocessing_for(net).resize
    skipped: list[str] = []
    if images:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            batch, names, skipped = load_images(images, size=side, strict=strict)
        for warning in caught:
            console.print(f"[yellow]warning:[/yellow] {escape(str(warning.message))}")
    else:
        batch, names = builtin_images(size=side)
    dev = next(net.parameters()).device
    console.print(f"{len(names)} images" + (f" ({len(skipped)} unreadable, skipped)" if skipped else "")
                  + f"; model {escape(model)} on {dev}")
    ds = run_disrt(net, batch, protocol, layers=None if layers == "auto" else _split(layers),
                   topk=_numbers(topk, float, "--topk"), topk_layers=_split(topk_layers) or None,
                   batch_size=batch_size, image_names=names, progress=True)
    ds.attrs["n_skipped"] = len(skipped)
    metadata = run_metadata(seed=seed, device=dev, model=model)
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as tmp:
        info = save_results(ds, tmp, command=command, overwrite=True)
        for table_name in ("scores.csv", "trials.csv"):
            _add_model_column(tmp / table_name, model)
    table = Table("layer", "mean accuracy", "graded index",
                  title=f"DiSRT {escape(model)} (nulls: structure-blind {info['null_structure_blind']:.2f}, "
                        f"pixel observer {info['null_pixel']:.2f})")
    table.add_row("null: structure-blind", f"{info['null_structure_blind']:.3f}", f"{info['null_structure_blind']:.3f}")
    table.add_row("null: pixel observer", f"{info['null_pixel']:.3f}", f"{info['null_pixel']:.3f}")
    for layer, value in info["per_layer"].items():
        table.add_row(escape(layer) if layer != "pixels" else "pixels (measured)", f"{value:.3f}",
                      f"{info['per_layer_index'][layer]:.3f}")
    console.print(table)
    excluded = ", ".join(f"{c['distortion']} {c['strength']}x{c['strength']}" for c in info["excluded_cells"])
    console.print(escape(f"score {info['score']:.3f} [{info['score_low']:.3f}, {info['score_high']:.3f}] at "
                         f"{info['readout_layer']}; index {info['index']:.3f} [{info['index_low']:.3f}, "
                         f"{info['index_high']:.3f}]; nuisance matched on {info['nuisance_matched_fraction']:.1%}; "
                         f"left out: {excluded or 'none'}; results in {out}"))
