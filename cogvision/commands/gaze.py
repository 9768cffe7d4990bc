"""``cogvision gaze predict|train|evaluate``: gaze following with ViTGaze on any ViT.

Thin wrappers: each parses its flags and calls a job (:mod:`cogvision.jobs.gaze_train`,
:mod:`cogvision.jobs.gaze_predict`); errors are raised as ``ValueError``/``OSError`` and printed as one line
by the shared handler (exit code 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cogvision.commands._options import (
    device_option,
    image_size_option,
    model_option,
    out_option,
    overwrite_option,
    resume_option,
    seed_option,
    weights_option,
)
from cogvision.gaze.config import read_train_config, train_config
from cogvision.jobs.gaze_predict import evaluate, predict_image
from cogvision.jobs.gaze_train import run_training

app = typer.Typer(help="Gaze following (ViTGaze): predict, train, evaluate.", no_args_is_help=True)
console = Console()


def parse_head(text: str) -> list[float]:
    """``"x1,y1,x2,y2"`` -> four floats; anything else is an error naming ``--head``."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--head {text!r}: expected four numbers x1,y1,x2,y2 in pixels")
    return values


def _table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(*[escape(str(c)) for c in frame.columns], title=escape(title))
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else escape(str(v)) for v in row])
    return table


@app.command("predict")
def predict_command(
    image: Path = typer.Argument(..., help="Image file."),
    head: List[str] = typer.Option(..., "--head", help="Head box x1,y1,x2,y2 in pixels; repeat for several people."),
    model: Optional[str] = model_option(None, help="Backbone of an untrained gaze head, e.g. "
                                        "timm:vit_small_patch14_dinov2 (not needed with a ViTGaze checkpoint)."),
    weights: Optional[Path] = weights_option("ViTGaze checkpoint from `gaze train`, or backbone weights for --model."),
    out: Path = out_option(help="Output folder: prediction.nc, prediction.csv (+ .parquet), overlay.png."),
    refine: bool = typer.Option(False, "--refine", help="DARK sub-pixel gaze points."),
    image_size: Optional[int] = image_size_option(None, help="Square input side (default: the model's)."),
    device: str = device_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Heatmap, gaze point and in-frame probability for every head box, from one backbone pass."""
    heads = [parse_head(h) for h in head]
    result = predict_image(image, heads, out, model=model, weights=weights, refine=refine, image_size=image_size,
                           device=device, overwrite=overwrite)
    frame = result[["gaze_x", "gaze_y", "inout"]].to_dataframe().reset_index()
    console.print(_table(frame, f"gaze of {len(heads)} people in {image.name}"))
    console.print(f"wrote {escape(str(out))}: prediction.nc, prediction.csv, overlay.png")


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="Config file (.json, .toml, .yaml) with TrainConfig keys."),
    out: Path = out_option(help="Run folder: vitgaze.pt, scores.csv, history.csv, config.json, scores.png."),
    device: str = device_option(),
    seed: Optional[int] = seed_option(None, help="Seed of scenes, initialisation and batch order (default: the "
                                                 "config's)."),
    overwrite: bool = overwrite_option(),
    resume: bool = resume_option("training run"),
) -> None:
    """Train ViTGaze as CONFIG says and compare it with the analytic baselines on the validation set."""
    settings = read_train_config(config)
    if seed is not None:
        settings = train_config({**settings.model_dump(), "seed": seed}, source="--seed")
    run = run_training(settings, out, overwrite=overwrite, resume=resume, device=device)
    console.print(_table(run.fit.history, "training"))
    console.print(_table(run.scores, "validation scores"))
    console.print(f"fit took {run.seconds:.1f} s; wrote {escape(str(out))}")


@app.command("evaluate")
def evaluate_command(
    weights: Optional[Path] = weights_option("ViTGaze checkpoint to score on fresh synthetic scenes."),
    synthetic: int = typer.Option(300, "--synthetic", help="Number of synthetic test scenes for --weights."),
    seed: int = seed_option(12345, help="Seed of the synthetic test scenes and the random-point baseline."),
    gazefollow: Optional[Path] = typer.Option(None, "--gazefollow", help="GazeFollow annotations (.mat release or "
                                              "Chong's .txt): score analytic predictions."),
    image_root: Optional[Path] = typer.Option(None, "--image-root", help="Image folder of --gazefollow: AUC at "
                                              "image size (the reference) instead of 64x64."),
    out: Optional[Path] = out_option(None, help="Write scores.json and one table per part (CSV + Parquet) here."),
    overwrite: bool = overwrite_option(),
    device: str = device_option(),
) -> None:
    """Score a trained model on synthetic scenes and/or analytic maps on real GazeFollow annotations."""
    result = evaluate(weights=weights, synthetic=synthetic, seed=seed, gazefollow=gazefollow, image_root=image_root,
                      out=out, overwrite=overwrite, device=device)
    for name, table in result.tables.items():
        console.print(_table(table, result.titles[name]))
    if out is not None:
        console.print(f"wrote {escape(str(out / 'scores.json'))}")
