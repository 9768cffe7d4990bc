"""``cogvision scanpath train|predict|evaluate``: OAT on a data set name or files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from cogvision.io import check_out_dir, publish_folder, run_metadata

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


def _positive(**values: float) -> None:
    """Refuse a value below 1, naming its flag (``d_model=0`` -> ``--d-model``)."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


FEATURE_LAYERS = "features.6,features.13,features.17"


@app.command("train")
def train(
    dataset: str = typer.Argument(..., help=DATASETS + " | interiors (a ViSioNS-layout folder: --train)"),
    out: Path = typer.Option(..., "--out", help="Folder for model.pt, split.json and history.csv."),
    detections: Optional[Path] = typer.Option(None, help="COCO-Search18 detection CSV folder (for a JSON path)."),
    seed: int = typer.Option(0, help="Split and training seed."),
    d_model: int = typer.Option(128, help="Width (paper: 512)."),
    layers: int = typer.Option(2, help="Encoder and decoder layers (paper: 4)."),
    epochs: int = typer.Option(50, help="Most epochs (paper: 500)."),
    warmup: int = typer.Option(15, help="Epochs before early stopping watches the delta (paper: 0)."),
    patience: int = typer.Option(10, help="Early-stopping patience on the validation metric (paper: 30)."),
    lr: float = typer.Option(5e-4, help="Adam learning rate (paper: 1e-4)."),
    batch_size: int = typer.Option(20),
    pe_iterations: int = typer.Option(10_000, help="Adam steps fitting the learned position table (paper: 10,000)."),
    train_dir: Optional[Path] = typer.Option(None, "--train", help="interiors: the folder to train on (default: the "
                                             "shared Interiors copy); 15% of its images early-stop OAT."),
    feature_model: str = typer.Option("torchvision:mobilenet_v2", help="interiors: network giving cell appearance."),
    weights: Optional[Path] = typer.Option(None, help="interiors: its weights (default: the shared ImageNet MobileNetV2)."),
    feature_layers: str = typer.Option(FEATURE_LAYERS, help="interiors: comma-separated layers pooled over each cell."),
    similarity: bool = typer.Option(True, "--similarity/--no-similarity", help="interiors: template-similarity feature."),
    scenes_per_batch: int = typer.Option(2, help="interiors: images per training batch (all their scanpaths)."),
    feature_cache: Optional[Path] = typer.Option(None, help="interiors: feature cache folder."),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Fit OAT: on an image-level 80/10/10 split (early-stopped on the validation delta), or on interiors on a
    whole folder (15% of its images early-stop on the validation likelihood)."""
    from cogvision.scanpath import OAT

    _positive(epochs=epochs, d_model=d_model, layers=layers, batch_size=batch_size, scenes_per_batch=scenes_per_batch)
    check_out_dir(out, overwrite)
    if dataset == "interiors":
        from cogvision.commands.scanpath_interiors import load_with_features
        from cogvision.scanpath.density import prepared

        spec = _feature_spec(feature_model, weights, feature_layers, similarity)
        loaded = load_with_features(train_dir, spec, device, feature_cache)
        tr, va = prepared(loaded.scanpaths).split((0.85, 0.15), seed=seed)
        te_trials: list[str] = []
        params = dict(relative_bias=True, appearance="features", scenes_per_batch=scenes_per_batch,
                      early_stopping="nll", warmup_epochs=0)
        source = {"dataset": "interiors", "folder": str(loaded.root)}
    else:
        data = load_dataset(dataset, detections)
        tr, va, te = data.split(seed=seed)
        te_trials = te.trials
        params = dict(warmup_epochs=warmup, batch_size=batch_size)
        source = {"dataset": dataset}
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(seed=seed, device=device)) as tmp:
        model = OAT(d_model=d_model, n_layers=layers, ffn=2 * d_model, epochs=epochs, patience=patience, lr=lr,
                    pe_iterations=pe_iterations, device=device, seed=seed, progress=True, **params)
        model.fit(tr, va if len(va) else None, checkpoint_dir=tmp / "checkpoint")
        model.save(tmp / "model.pt")
        shutil.rmtree(tmp / "checkpoint", ignore_errors=True)
        (tmp / "split.json").write_text(json.dumps({**source, "seed": seed, "train": tr.trials, "val": va.trials,
                                                    "test": te_trials}, indent=1))
        if dataset == "interiors":
            (tmp / "features.json").write_text(spec.to_json())
        model.history_.to_csv(tmp / "history.csv", index=False)
    console.print(f"best epoch {model.best_epoch_}, validation metric {model.best_val_metric_}; wrote {out}")


@app.command("predict")
def predict(
    model_dir: Path = typer.Argument(..., help="Folder written by `cogvision scanpath train`."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv and figures."),
    dataset: Optional[str] = typer.Option(None, help="Data set (default: the one the model was trained on)."),
    detections: Optional[Path] = typer.Option(None),
    part: str = typer.Option("test", help="Which part of the split: train, val, test or all (interiors: all)."),
    data_dir: Optional[Path] = typer.Option(None, "--data", help="interiors: the ViSioNS-layout folder to predict on "
                                            "(default: the training folder)."),
    samples: int = typer.Option(0, help="Sampled scanpaths per trial (0: greedy)."),
    figures: int = typer.Option(4, help="Trials to draw."),
    feature_cache: Optional[Path] = typer.Option(None, help="interiors: feature cache folder."),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Write predicted scanpaths (``trial, sample, fixation, object, x, y``) and figures."""
    from cogvision.scanpath import OAT
    from cogvision.viz.scanpath import plot_scanpath_on_image, plot_scanpaths

    if samples < 0 or figures < 0:
        raise ValueError(f"--samples and --figures must be >= 0, got {samples} and {figures}")
    check_out_dir(out, overwrite)
    split_file = model_dir / "split.json"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} does not exist: {model_dir} is not a folder written by "
                                "`cogvision scanpath train`")
    split = json.loads(split_file.read_text())
    images = {}
    if split.get("dataset") == "interiors":
        from cogvision.commands.scanpath_interiors import FeatureSpec, load_with_features

        folder = data_dir if data_dir is not None else Path(split["folder"])
        loaded = load_with_features(folder, FeatureSpec.from_json(model_dir / "features.json"), device, feature_cache)
        data = loaded.scanpaths
        images = loaded.images() if figures else {}
    else:
        data = load_dataset(dataset or split["dataset"], detections)
        if part != "all":
            if part not in ("train", "val", "test"):
                raise ValueError(f"--part must be train, val, test or all, got {part!r}")
            data = data.subset(split[part])
    model = OAT.load(model_dir / "model.pt", device=device)
    pred = model.predict(data, n_samples=samples)
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(device=device)) as tmp:
        pred.to_csv(tmp / "predictions.csv", index=False)
        for trial in data.trials[:figures]:
            if images:
                fig = plot_scanpath_on_image(data, trial, images[trial], pred)
            else:
                fig = plot_scanpaths(data, trial, pred)
            fig.savefig(tmp / f"scanpath_{trial.replace('/', '_')}.png", dpi=80)
    console.print(f"{pred.groupby(['trial', 'sample']).ngroups} scanpaths -> {out / 'predictions.csv'}")


@app.command("evaluate")
def evaluate(
    dataset: str = typer.Argument(..., help=DATASETS + " | interiors (a ViSioNS-layout folder: --train, --test)"),
    out: Path = typer.Option(..., "--out", help="Folder for the tables and figures."),
    detections: Optional[Path] = typer.Option(None),
    seeds: List[int] = typer.Option([0, 1, 2], "--seed", help="Split seeds, or OAT seeds on interiors (repeat the option)."),
    samples: int = typer.Option(20, help="Sampled scanpaths per trial."),
    d_model: int = typer.Option(128),
    layers: int = typer.Option(2, help="Encoder and decoder layers."),
    epochs: int = typer.Option(50),
    warmup: int = typer.Option(15),
    patience: int = typer.Option(10),
    lr: float = typer.Option(5e-4),
    batch_size: int = typer.Option(20),
    pe_iterations: int = typer.Option(10_000),
    train_dir: Optional[Path] = typer.Option(None, "--train", help="interiors: training folder (default: the shared "
                                             "Interiors copy); cross-validated by image without --test."),
    test_dir: Optional[Path] = typer.Option(None, "--test", help="interiors: a separate test folder of the same layout."),
    folds: int = typer.Option(5, help="interiors: image folds of the cross-validation (without --test)."),
    feature_model: str = typer.Option("torchvision:mobilenet_v2", help="interiors: network giving cell appearance."),
    weights: Optional[Path] = typer.Option(None, help="interiors: its weights (default: the shared ImageNet "
                                           "MobileNetV2 when the network is torchvision:mobilenet_v2)."),
    feature_layers: str = typer.Option("features.6,features.13,features.17", help="interiors: comma-separated layers "
                                       "pooled over each cell."),
    similarity: bool = typer.Option(True, "--similarity/--no-similarity", help="interiors: add the template-similarity "
                                    "feature per layer."),
    scenes_per_batch: int = typer.Option(2, help="interiors: images per training batch (all their scanpaths)."),
    feature_cache: Optional[Path] = typer.Option(None, help="interiors: feature cache folder."),
    figures: int = typer.Option(3, help="interiors: test images drawn (maps and scanpaths)."),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Train OAT and score it against the baselines.

    amazon / coco-search18 / files: per split seed, greedy and sampled scanpaths against every baseline and human
    consistency (behavioural delta, Sequence Score, MultiMatch), and human scanpath prediction (AUC, NSS, IG, LL)
    of OAT and the density baselines. interiors: human scanpath prediction on images OAT never saw (hsp.csv with
    one row per model), paired differences, target found within k fixations, behaviour, figures.
    """
    if dataset == "interiors":
        _evaluate_interiors(out=out, seeds=seeds, samples=samples, d_model=d_model, layers=layers, epochs=epochs,
                            patience=patience, lr=lr, pe_iterations=pe_iterations, train_dir=train_dir,
                            test_dir=test_dir, folds=folds, feature_model=feature_model, weights=weights,
                            feature_layers=feature_layers, similarity=similarity, scenes_per_batch=scenes_per_batch,
                            feature_cache=feature_cache, figures=figures, device=device, overwrite=overwrite)
        return
    from cogvision.scanpath.compare import compare_models, hsp_by_seed, markdown_table, summarise
    from cogvision.scanpath.hsp_evaluation import paired_differences, summarise_hsp
    from cogvision.viz.scanpath import plot_metric_bars

    _positive(epochs=epochs, d_model=d_model, layers=layers, batch_size=batch_size)
    if samples < 0:
        raise ValueError(f"--samples must be >= 0, got {samples}")
    check_out_dir(out, overwrite)
    data = load_dataset(dataset, detections)
    params = dict(d_model=d_model, n_layers=layers, ffn=2 * d_model, epochs=epochs, warmup_epochs=warmup,
                  patience=patience, lr=lr, batch_size=batch_size, pe_iterations=pe_iterations, device=device)
    table, models = compare_models(data, seeds, oat_params=params, n_samples=samples, progress=True)
    per_fixation = hsp_by_seed(data, models)
    hsp = summarise_hsp(per_fixation)
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(seed=list(seeds), device=device)) as tmp:
        table.to_csv(tmp / "metrics.csv", index=False)
        summary = summarise(table)
        summary.to_csv(tmp / "summary.csv")
        (tmp / "summary.md").write_text(markdown_table(summary))
        hsp.to_csv(tmp / "hsp.csv", index=False)
        paired_differences(per_fixation).to_csv(tmp / "hsp_paired.csv", index=False)
        plot_metric_bars(table).savefig(tmp / "metrics.png", dpi=90)
        (tmp / "command.json").write_text(json.dumps({"dataset": dataset, "seeds": list(seeds), "samples": samples,
                                                      "oat": params}, indent=1))
    console.print(summary.to_string())
    console.print(hsp.to_string())


def _feature_spec(feature_model: str, weights: Optional[Path], feature_layers: str, similarity: bool):
    from cogvision.commands.scanpath_interiors import FeatureSpec, default_weights

    layer_list = tuple(x.strip() for x in feature_layers.split(",") if x.strip())
    if not layer_list:
        raise ValueError("--feature-layers must name at least one layer")
    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"--weights {weights} does not exist")
    resolved = str(weights) if weights is not None else (default_weights() if feature_model == "torchvision:mobilenet_v2"
                                                           else None)
    return FeatureSpec(feature_model, resolved, layer_list, similarity)


def _evaluate_interiors(*, out, seeds, samples, d_model, layers, epochs, patience, lr, pe_iterations, train_dir,
                        test_dir, folds, feature_model, weights, feature_layers, similarity, scenes_per_batch,
                        feature_cache, figures, device, overwrite) -> None:
    from cogvision.commands.scanpath_interiors import load_with_features
    from cogvision.scanpath.density import prepared
    from cogvision.scanpath.hsp_evaluation import (
        cross_validate_hsp, cumulative_performance, paired_differences, per_image_scores, summarise_hsp,
    )
    from cogvision.viz.scanpath import plot_cumulative, plot_hsp_maps, plot_scanpath_on_image

    _positive(epochs=epochs, d_model=d_model, layers=layers, scenes_per_batch=scenes_per_batch)
    if folds < 2 or samples < 0 or figures < 0:
        raise ValueError(f"--folds must be >= 2 and --samples, --figures >= 0, got {folds}, {samples}, {figures}")
    spec = _feature_spec(feature_model, weights, feature_layers, similarity)
    check_out_dir(out, overwrite)
    train = load_with_features(train_dir, spec, device, feature_cache)
    test = load_with_features(test_dir, spec, device, feature_cache) if test_dir is not None else None
    centre = train.centre_bias
    params = dict(d_model=d_model, n_heads=4, n_layers=layers, ffn=2 * d_model, epochs=epochs, lr=lr,
                  patience=patience, pe_iterations=pe_iterations, relative_bias=True, appearance="features",
                  scenes_per_batch=scenes_per_batch, early_stopping="nll", device=device)
    result = cross_validate_hsp(train.scanpaths, centre, test=test.scanpaths if test else None, folds=folds,
                                seeds=seeds, oat_params=params, n_samples=samples, progress=True)
    summary = summarise_hsp(result.per_fixation)
    with publish_folder(out, overwrite=overwrite, metadata=run_metadata(seed=list(seeds), device=device)) as tmp:
        summary.to_csv(tmp / "hsp.csv", index=False)
        per_image_scores(result.per_fixation).reset_index().to_csv(tmp / "hsp_per_image.csv", index=False)
        result.per_fixation.to_csv(tmp / "hsp_per_fixation.csv.gz", index=False)
        paired_differences(result.per_fixation).to_csv(tmp / "hsp_paired.csv", index=False)
        curve = cumulative_performance(result.found)
        curve.to_csv(tmp / "cumulative_performance.csv", index=False)
        result.behaviour.to_csv(tmp / "behaviour.csv", index=False)
        plot_cumulative(curve).savefig(tmp / "cumulative_performance.png", dpi=90)
        scored = test or train
        all_images = scored.images() if figures else {}
        (fold, _), model = next(iter(result.models.items()))
        tested = sorted(result.per_fixation.query("model == 'oat' and fold == @fold")["trial"].unique())
        for trial in tested[:figures]:
            image = all_images[trial]
            data = prepared(scored.scanpaths.subset([trial]))
            plot_hsp_maps(model, data, image).savefig(tmp / f"maps_{Path(trial).stem}.png", dpi=80)
            pred = model.predict(data, n_samples=1)
            plot_scanpath_on_image(data, trial, image, pred).savefig(tmp / f"scanpaths_{Path(trial).stem}.png", dpi=80)
        (tmp / "command.json").write_text(json.dumps({
            "dataset": "interiors", "train": str(train.root), "test": str(test.root) if test else None,
            "folds": None if test else folds, "seeds": list(seeds), "samples": samples, "oat": params,
            "features": json.loads(spec.to_json()), "seconds": result.seconds}, indent=1))
    console.print(summary[["model", "auc", "nss", "ig", "ll"]].round(3).to_string(index=False))
