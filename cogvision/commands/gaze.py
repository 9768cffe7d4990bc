"""``cogvision gaze predict|train|evaluate``: gaze following with ViTGaze on any ViT."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Gaze following (ViTGaze): predict, train, evaluate.", no_args_is_help=True)
console = Console()


def _fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {err}")
    raise typer.Exit(code=2)


def _parse_head(text: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--head {text!r}: expected four numbers x1,y1,x2,y2 in pixels")
    return values


def _out_dir(out: Path, overwrite: bool) -> Path:
    """A fresh temporary folder beside ``out``; refuses an existing non-empty ``out`` without ``overwrite``."""
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"output folder {out} exists and is not empty; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the published folder is an ordinary one
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished temporary folder to ``out`` (replacing it)."""
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def _table(frame, title: str) -> Table:
    table = Table(*[str(c) for c in frame.columns], title=title)
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    return table


def _load(model: Optional[str], weights: Optional[Path], device: str):
    from cogvision.gaze.model import build_vitgaze, is_vitgaze_checkpoint, load_vitgaze

    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"weights file {weights} does not exist")
    if weights is not None and is_vitgaze_checkpoint(weights):
        loaded = load_vitgaze(weights, device=device)
        if model is not None and model != loaded.config["spec"]:
            console.print(f"[yellow]note:[/yellow] {weights} was trained on {loaded.config['spec']}; using that, "
                          f"not {model}")
        return loaded, True
    if model is None:
        raise ValueError("--model SPEC is needed unless --weights is a ViTGaze checkpoint from `cogvision gaze train`")
    return build_vitgaze(model, weights=weights, device=device), False


@app.command("predict")
def predict_command(
    image: Path = typer.Argument(..., help="Image file."),
    head: List[str] = typer.Option(..., "--head", help="Head box x1,y1,x2,y2 in pixels; repeat for several people."),
    model: Optional[str] = typer.Option(None, help="Backbone spec, e.g. timm:vit_small_patch14_dinov2 (not needed "
                                                   "with a ViTGaze checkpoint)."),
    weights: Optional[Path] = typer.Option(None, help="ViTGaze checkpoint from `gaze train`, or backbone weights."),
    out: Path = typer.Option(..., help="Output folder: prediction.nc, prediction.csv, overlay.png."),
    refine: bool = typer.Option(False, help="DARK sub-pixel gaze points."),
    image_size: Optional[int] = typer.Option(None, help="Square input side (default: the model's)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps."),
    overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
) -> None:
    """Heatmap, gaze point and in-frame probability for every head box, from one backbone pass."""
    import matplotlib.pyplot as plt

    from cogvision.gaze.predict import predict
    from cogvision.viz.gaze import plot_gaze
    from data_loaders.images import read_image

    try:
        heads = [_parse_head(h) for h in head]
        picture = read_image(image)
        net, trained = _load(model, weights, device)
        result = predict(net, picture, heads, refine=refine, image_size=image_size, device=device)
        tmp = _out_dir(out, overwrite)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    if not trained:
        console.print("[yellow]warning:[/yellow] the gaze head (guidance, decoder, in/out) is untrained: train one "
                      "with `cogvision gaze train` and pass it as --weights")
    result.attrs["image"] = str(image)
    result.to_netcdf(tmp / "prediction.nc", engine="scipy")  # netCDF3: readable without h5py
    frame = result[["gaze_x", "gaze_y", "inout"]].to_dataframe().reset_index()
    frame.to_csv(tmp / "prediction.csv", index=False)
    fig = plot_gaze(picture, result, title=image.name)
    fig.savefig(tmp / "overlay.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    _publish(tmp, out)
    console.print(_table(frame, f"gaze of {len(heads)} people in {image.name}"))
    console.print(f"wrote {out}/prediction.nc, prediction.csv, overlay.png")


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="Config file (.json, .toml, .yaml) with TrainConfig fields."),
    out: Path = typer.Option(..., help="Run folder: vitgaze.pt, scores.csv, history.csv, config.json, figures."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps."),
    overwrite: bool = typer.Option(False, help="Replace an existing run folder."),
    resume: bool = typer.Option(False, help="Continue an interrupted run in OUT."),
) -> None:
    """Train ViTGaze as CONFIG says and compare it with the analytic baselines on the validation set."""
    import matplotlib.pyplot as plt

    from cogvision.gaze.train import TrainConfig, train_vitgaze
    from cogvision.viz.gaze import plot_scores

    try:
        cfg = TrainConfig.from_file(config)
        if out.exists() and any(out.iterdir()) and not (overwrite or resume):
            raise ValueError(f"run folder {out} exists and is not empty; pass --overwrite or --resume")
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    if overwrite and out.exists() and not resume:
        shutil.rmtree(out)
    try:
        result = train_vitgaze(cfg, out_dir=out, device=device, resume=resume)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    fig = plot_scores(result.scores)
    fig.savefig(out / "scores.png", dpi=110)
    plt.close(fig)
    console.print(_table(result.fit.history, "training"))
    console.print(_table(result.scores, "validation scores"))
    console.print(f"fit took {result.seconds:.1f} s; wrote {out}")


@app.command("evaluate")
def evaluate_command(
    weights: Optional[Path] = typer.Option(None, help="ViTGaze checkpoint to score on fresh synthetic scenes."),
    synthetic: int = typer.Option(300, help="Number of synthetic test scenes for --weights."),
    seed: int = typer.Option(12345, help="Seed of the synthetic test scenes and the random-point baseline."),
    gazefollow: Optional[Path] = typer.Option(None, help="GazeFollow annotations (.mat release or Chong's .txt): "
                                                         "score analytic predictions."),
    image_root: Optional[Path] = typer.Option(None, help="Image folder of --gazefollow: AUC at image size (the "
                                                         "reference) instead of 64x64."),
    out: Optional[Path] = typer.Option(None, help="Write scores.json here (atomically)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps."),
) -> None:
    """Score a trained model on synthetic scenes and/or analytic maps on real GazeFollow annotations."""
    if weights is None and gazefollow is None:
        _fail(ValueError("nothing to evaluate: pass --weights CKPT and/or --gazefollow ANNOTATIONS.mat|.txt"))
    from cogvision.gaze.metrics import conventions

    report: dict = {"conventions": {}}
    try:
        if weights is not None:
            from cogvision.gaze.model import load_vitgaze
            from cogvision.gaze.train import TrainConfig, evaluate_synthetic

            net = load_vitgaze(weights, device=device)
            cfg = TrainConfig(image_size=net.image_size)
            scores = evaluate_synthetic(net, cfg, n_scenes=synthetic, seed=seed, device=device)
            console.print(_table(scores, f"{synthetic} synthetic test scenes (seed {seed}; AUC: image size, "
                                         "uint8 resize; VAT AUC: uint8, 19x19 square)"))
            report["synthetic"] = scores.to_dict(orient="records")
            report["conventions"]["synthetic"] = conventions()
        if gazefollow is not None:
            from cogvision.gaze.evaluate import read_annotations, score_analytic

            gaze, sizes = read_annotations(gazefollow, image_root)
            scores = score_analytic(gaze, seed=seed, sizes=sizes)
            auc_size = "image" if sizes is not None else "64x64"
            console.print(_table(scores, f"analytic maps on {gazefollow.name} (AUC: {auc_size} size, uint8 resize)"))
            report["gazefollow"] = scores.to_dict(orient="records")
            report["conventions"]["gazefollow"] = conventions(auc_size=auc_size)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".scores.json.tmp"
        tmp.write_text(json.dumps(report, indent=2))
        os.replace(tmp, out / "scores.json")
        console.print(f"wrote {out / 'scores.json'}")
