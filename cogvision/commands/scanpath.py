"""``cogvision scanpath train|predict|evaluate``: OAT on a data set name or files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

app = typer.Typer(help="Object-level scanpath prediction (OAT), baselines and scanpath metrics.", no_args_is_help=True)
console = Console()

DATASETS = "amazon | coco-search18 | synthetic | PATH to an Amazon-style or COCO-Search18 JSON"


def load_dataset(dataset: str, detections: Optional[Path] = None, filter_sd: Optional[float] = 3.0):
    """A :class:`~cogvision.scanpath.ScanpathSet` from a name or a file (see ``DATASETS``)."""
    from data_loaders.amazon_covers import load_amazon_covers
    from data_loaders.coco_search18 import load_coco_search18
    from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

    if dataset == "amazon":
        data = load_amazon_covers()
    elif dataset == "coco-search18":
        data = load_coco_search18(detections=detections)
    elif dataset == "synthetic":
        data = make_synthetic_scanpaths()
    else:
        path = Path(dataset)
        if not path.exists():
            raise FileNotFoundError(f"data set {dataset!r} is neither a known name ({DATASETS}) nor an existing file")
        with open(path) as handle:
            head = handle.read(1).strip() or handle.read(64).lstrip()[:1]
        if head == "[":
            if detections is None:
                raise ValueError(f"{path} looks like COCO-Search18 fixations: pass --detections FOLDER")
            data = load_coco_search18(path, detections)
        else:
            data = load_amazon_covers(path)
    return data.filter_length(filter_sd) if filter_sd else data


class _OutDir:
    """Write into a temporary folder and rename it to ``path`` at the end; refuse to overwrite unless asked."""

    def __init__(self, path: Path, overwrite: bool):
        if path.exists() and any(path.iterdir()) and not overwrite:
            console.print(f"[red]error:[/red] {path} exists and is not empty; pass --overwrite to replace it")
            raise typer.Exit(code=2)
        self.path, self.overwrite = path, overwrite

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self.tmp

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return False


def _fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {err}")
    raise typer.Exit(code=2)


@app.command("train")
def train(
    dataset: str = typer.Argument(..., help=DATASETS),
    out: Path = typer.Option(..., "--out", help="Folder for model.pt, split.json and history.csv."),
    detections: Optional[Path] = typer.Option(None, help="COCO-Search18 detection CSV folder (for a JSON path)."),
    seed: int = typer.Option(0, help="Split and training seed."),
    d_model: int = typer.Option(128, help="Width (paper: 512)."),
    layers: int = typer.Option(2, help="Encoder and decoder layers (paper: 4)."),
    epochs: int = typer.Option(50, help="Most epochs (paper: 500)."),
    warmup: int = typer.Option(15, help="Epochs before early stopping watches the delta (paper: 0)."),
    patience: int = typer.Option(10, help="Early-stopping patience on the validation delta (paper: 30)."),
    lr: float = typer.Option(5e-4, help="Adam learning rate (paper: 1e-4)."),
    batch_size: int = typer.Option(20),
    pe_iterations: int = typer.Option(10_000, help="Adam steps fitting the learned position table (paper: 10,000)."),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Fit OAT on the training part of an image-level 80/10/10 split; early-stop on the validation delta."""
    from cogvision.scanpath import OAT

    try:
        data = load_dataset(dataset, detections)
        tr, va, te = data.split(seed=seed)
        with _OutDir(out, overwrite) as tmp:
            model = OAT(d_model=d_model, n_layers=layers, ffn=2 * d_model, epochs=epochs, warmup_epochs=warmup,
                        patience=patience, lr=lr, batch_size=batch_size, pe_iterations=pe_iterations, device=device,
                        seed=seed, progress=True).fit(tr, va if len(va) else None,
                                                                                            checkpoint_dir=tmp / "checkpoint")
            model.save(tmp / "model.pt")
            shutil.rmtree(tmp / "checkpoint", ignore_errors=True)
            (tmp / "split.json").write_text(json.dumps({"dataset": dataset, "seed": seed, "train": tr.trials,
                                                        "val": va.trials, "test": te.trials}, indent=1))
            model.history_.to_csv(tmp / "history.csv", index=False)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    console.print(f"best epoch {model.best_epoch_}, validation delta {model.best_delta_}; wrote {out}")


@app.command("predict")
def predict(
    model_dir: Path = typer.Argument(..., help="Folder written by `cogvision scanpath train`."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv and figures."),
    dataset: Optional[str] = typer.Option(None, help="Data set (default: the one the model was trained on)."),
    detections: Optional[Path] = typer.Option(None),
    part: str = typer.Option("test", help="Which part of the split: train, val, test or all."),
    samples: int = typer.Option(0, help="Sampled scanpaths per trial (0: greedy)."),
    figures: int = typer.Option(4, help="Trials to draw."),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Write predicted scanpaths (``trial, sample, fixation, object, x, y``) and figures on the object grid."""
    from cogvision.scanpath import OAT
    from cogvision.viz.scanpath import plot_scanpaths

    try:
        split = json.loads((model_dir / "split.json").read_text())
        data = load_dataset(dataset or split["dataset"], detections)
        if part != "all":
            if part not in ("train", "val", "test"):
                raise ValueError(f"part must be train, val, test or all, got {part!r}")
            data = data.subset(split[part])
        model = OAT.load(model_dir / "model.pt", device=device)
        pred = model.predict(data, n_samples=samples)
        with _OutDir(out, overwrite) as tmp:
            pred.to_csv(tmp / "predictions.csv", index=False)
            for trial in data.trials[:figures]:
                fig = plot_scanpaths(data, trial, pred)
                fig.savefig(tmp / f"scanpath_{trial.replace('/', '_')}.png", dpi=80)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    console.print(f"{pred.groupby(['trial', 'sample']).ngroups} scanpaths -> {out / 'predictions.csv'}")


@app.command("evaluate")
def evaluate(
    dataset: str = typer.Argument(..., help=DATASETS),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.csv, summary.csv/md and figures."),
    detections: Optional[Path] = typer.Option(None),
    seeds: List[int] = typer.Option([0, 1, 2], "--seed", help="Split seeds (repeat the option)."),
    samples: int = typer.Option(20, help="Sampled scanpaths per trial."),
    d_model: int = typer.Option(128),
    layers: int = typer.Option(2),
    epochs: int = typer.Option(50),
    warmup: int = typer.Option(15),
    patience: int = typer.Option(10),
    lr: float = typer.Option(5e-4),
    batch_size: int = typer.Option(20),
    pe_iterations: int = typer.Option(10_000),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Train OAT per seed and score it (greedy, sampled) against every baseline and human consistency."""
    from cogvision.scanpath.compare import compare_models, markdown_table, summarise
    from cogvision.viz.scanpath import plot_metric_bars

    try:
        data = load_dataset(dataset, detections)
        with _OutDir(out, overwrite) as tmp:
            params = dict(d_model=d_model, n_layers=layers, ffn=2 * d_model, epochs=epochs, warmup_epochs=warmup,
                          patience=patience, lr=lr, batch_size=batch_size, pe_iterations=pe_iterations, device=device)
            table, _ = compare_models(data, seeds, oat_params=params, n_samples=samples, progress=True)
            table.to_csv(tmp / "metrics.csv", index=False)
            summary = summarise(table)
            summary.to_csv(tmp / "summary.csv")
            (tmp / "summary.md").write_text(markdown_table(summary))
            plot_metric_bars(table).savefig(tmp / "metrics.png", dpi=90)
            (tmp / "command.json").write_text(json.dumps({"dataset": dataset, "seeds": list(seeds), "samples": samples,
                                                          "oat": params}, indent=1))
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    console.print(summary.to_string())

