"""``cogvision disrt``: the DiSRT odd-one-out diagnostic of global-structure sensitivity on any model.

The flags build one :class:`cogvision.gestalt.DisrtProtocol` (validated once); ``--config FILE`` reads the
same settings from a YAML, JSON or TOML file, and flags given on the command line override the file. The
run itself is :func:`cogvision.jobs.disrt.run_disrt_job`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cogvision.commands._options import (
    batch_size_option,
    device_option,
    layers_option,
    model_option,
    out_option,
    overwrite_option,
    seed_option,
    split_names,
    weights_option,
)
from cogvision.config import read_mapping, validate_config
from cogvision.gestalt.distortions import DISTORTIONS
from cogvision.gestalt.settings import DisrtProtocol, Nuisance, Pooling, Similarity, TokenMode
from cogvision.jobs.disrt import run_disrt_job

console = Console()

#: Command-line parameter -> protocol key (``no_match`` is the negation of ``match``).
PROTOCOL_FLAGS = {"distortion": "distortions", "grid": "grids", "pool": "pooling", "similarity": "similarity",
                  "nuisance": "nuisance", "no_match": "match", "token_mode": "token_mode", "seed": "seed",
                  "trials": "trials", "n_boot": "n_boot", "human": "human"}


def _numbers(text: str | None, kind: type, option: str) -> list:
    try:
        return [kind(part) for part in split_names(text, option)] if text else []
    except ValueError:
        raise ValueError(f"{option} expects comma-separated {kind.__name__} values, got {text!r}") from None


def _distortions(text: str) -> list[str]:
    names = split_names(text, "--distortion")
    unknown = [name for name in names if name not in DISTORTIONS]
    if unknown:
        raise ValueError(f"--distortion: {', '.join(map(repr, unknown))} not one of {', '.join(DISTORTIONS)}")
    return names


def _topk(text: str | None) -> list[float]:
    values = _numbers(text, float, "--topk")
    bad = [v for v in values if not 0 < v < 1]
    if bad:
        raise ValueError(f"--topk expects fractions in (0, 1) (1 = dense is always included), got {text!r}")
    return values


def _flag_values(distortion: str, grid: str, pool: Pooling, similarity: Similarity, nuisance: Nuisance,
                 no_match: bool, token_mode: TokenMode, seed: int, trials: int, n_boot: int,
                 human: Optional[float]) -> dict:
    """The protocol settings the flags give, by protocol key."""
    return {"distortions": _distortions(distortion), "grids": _numbers(grid, int, "--grid"),
            "pooling": pool.value, "similarity": similarity.value, "nuisance": nuisance.value, "match": not no_match,
            "token_mode": token_mode.value, "seed": seed, "trials": trials, "n_boot": n_boot, "human": human}


def build_protocol(ctx: typer.Context, config: Optional[Path], flags: dict) -> DisrtProtocol:
    """The run's settings: ``config`` (if any), overridden by the flags given on the command line."""
    if config is None:
        return validate_config(DisrtProtocol, flags, "disrt settings")
    # by name: typer may carry its own copy of click, whose ParameterSource is another enum
    given = {key for name, key in PROTOCOL_FLAGS.items()
             if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"}
    raw = read_mapping(config)
    raw.update({key: value for key, value in flags.items() if key in given})
    return validate_config(DisrtProtocol, raw, str(config))


def _command(ctx: typer.Context) -> str:
    """The full command line that reproduces a run (every option spelled out, flags only when set)."""
    parts = ["cogvision", "disrt"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        flag = param.opts[0] if param.opts else f"--{param.name}"
        if isinstance(value, bool):
            parts += [flag] if value else []
        elif value is not None:
            parts += [flag, str(getattr(value, "value", value))]
    return shlex.join(parts)


def _print_summary(info: dict, model: str, out: Path) -> None:
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


def disrt(
    ctx: typer.Context,
    model: str = model_option(),
    out: Path = out_option(help="Result folder."),
    weights: Optional[Path] = weights_option(),
    images: Optional[str] = typer.Option(None, "--images", help="Folder or glob of images (default: photographs "
                                         "shipped in scikit-image and matplotlib)."),
    layers: Optional[str] = layers_option(help="Default (or 'auto'): a spread of four."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML, JSON or TOML file of protocol settings "
                                          "(keys of cogvision.gestalt.DisrtProtocol); flags given here override it."),
    distortion: str = typer.Option("shuffle,rotate", "--distortion",
                                   help=f"Comma-separated, some of: {', '.join(DISTORTIONS)}."),
    grid: str = typer.Option("2,4,8", "--grid", help="Comma-separated grid sizes (patches per side, >= 2)."),
    pool: Pooling = typer.Option("mean", "--pool", help="Readout pooling."),
    similarity: Similarity = typer.Option("cosine", "--similarity", help="Similarity of two readouts."),
    nuisance: Nuisance = typer.Option("local", "--nuisance", help="Nuisance variant: local (small shift, colour "
                                      "change and band-limited noise; keeps global layout), shift or color."),
    no_match: bool = typer.Option(False, "--no-match", help="Use a fixed small nuisance (a 2% shift) instead of "
                                  "matching its pixel MSE to the distortion's (deep layers then saturate)."),
    trials: int = typer.Option(3, "--trials", help="Trials per image and cell (distortion and nuisance seeds)."),
    topk: Optional[str] = typer.Option(None, "--topk",
                                       help="Comma-separated Top-K fractions in (0, 1) to sweep, e.g. 0.05,0.1,0.2."),
    topk_layers: Optional[str] = typer.Option(None, "--topk-layers",
                                              help="Where Top-K is attached (default: --layers)."),
    token_mode: TokenMode = typer.Option("token", "--token-mode", help="Top-K on token sequences: per token or per "
                                         "channel."),
    human: Optional[float] = typer.Option(None, "--human", help="Human reference accuracy drawn in the figure."),
    batch_size: int = batch_size_option(),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the intervals."),
    device: str = device_option(),
    seed: int = seed_option(help="Seed of random initialisation, distortions, nuisances and the bootstrap."),
    strict: bool = typer.Option(False, "--strict", help="Fail on an unreadable image instead of skipping it."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Odd-one-out among (image, pixel-matched nuisance, distortion) at chosen layers; writes a report folder."""
    for flag, value in (("--trials", trials), ("--n-boot", n_boot)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    flags = _flag_values(distortion, grid, pool, similarity, nuisance, no_match, token_mode, seed, trials, n_boot,
                         human)
    protocol = build_protocol(ctx, config, flags)
    chosen = None if layers in (None, "auto") else split_names(layers, "--layers")
    info = run_disrt_job(protocol, model=model, out=out, weights=weights, images=images, layers=chosen,
                         topk=_topk(topk), topk_layers=split_names(topk_layers, "--topk-layers") if topk_layers
                         else None, batch_size=batch_size, strict=strict, device=device, overwrite=overwrite,
                         allow_code=True, command=_command(ctx))  # a spec typed on the command line is opted in
    _print_summary(info, model, out)
