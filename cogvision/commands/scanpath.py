"""``cogvision scanpath train|predict|evaluate``: OAT on a data set name, a fixation file or a ViSioNS folder.

Thin wrappers: each command parses its flags, reads the OAT preset (``--preset`` or ``--config``) with the
flags given on top, and calls a job of :mod:`cogvision.jobs.scanpath` / :mod:`cogvision.jobs.scanpath_evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cogvision.commands._options import (
    batch_size_option,
    device_option,
    out_option,
    overwrite_option,
    resume_option,
    seed_option,
    weights_option,
)
from cogvision.jobs.scanpath import DATASETS_HELP, Part, ScanpathDataset, TrainSettings, predict_oat, train_oat
from cogvision.jobs.scanpath_evaluate import evaluate_interiors, evaluate_objects
from cogvision.jobs.scanpath_interiors import FeatureSpec, default_weights
from cogvision.scanpath.presets import OATParams, Preset, read_preset

app = typer.Typer(help="Object-level scanpath prediction (OAT), baselines and scanpath metrics.", no_args_is_help=True)

FEATURE_LAYERS = "features.6,features.13,features.17"
INTERIORS = ScanpathDataset.interiors.value


def _preset(preset: Optional[Preset], config: Optional[Path], dataset: str, **flags) -> OATParams:
    """The preset (``--preset``, ``--config`` or the data set's default) with the flags given on top."""
    if preset is not None and config is not None:
        raise ValueError("--preset and --config: give one of them")
    chosen = config if config is not None else (preset or (Preset.interiors if dataset == INTERIORS else Preset.small))
    return read_preset(chosen).updated("command-line flags", **flags)


def _feature_spec(feature_model: str, weights: Optional[Path], feature_layers: str, similarity: bool) -> FeatureSpec:
    layers = tuple(x.strip() for x in feature_layers.split(",") if x.strip())
    if not layers:
        raise ValueError("--feature-layers must name at least one layer")
    resolved = str(weights) if weights is not None else (
        default_weights() if feature_model == "torchvision:mobilenet_v2" else None)
    return FeatureSpec(feature_model, resolved, layers, similarity)


def _seeds(value: str) -> list[int]:
    try:
        seeds = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--seeds: expected comma-separated integers such as 0,1,2, got {value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: expected distinct comma-separated integers such as 0,1,2, got {value!r}")
    return seeds


# The OAT options of `train` and `evaluate` (None: the preset's value).
PRESET = typer.Option(None, "--preset", help="OAT preset (default: small; interiors for interiors). Each flag below "
                      "overrides its value.")
CONFIG = typer.Option(None, "--config", exists=True, dir_okay=False, help="A YAML file of OAT hyper-parameters (the "
                      "keys of cogvision/scanpath/configs/paper.yaml) instead of a preset.")
D_MODEL = typer.Option(None, "--d-model", min=1, help="Width (small: 128; paper: 512).")
N_LAYERS = typer.Option(None, "--n-layers", min=1, help="Encoder and decoder layers (small: 2; paper: 4).")
EPOCHS = typer.Option(None, "--epochs", min=1, help="Most epochs (small: 50; paper: 500).")
WARMUP = typer.Option(None, "--warmup", min=0, help="Epochs before early stopping watches the delta (small: 15).")
PATIENCE = typer.Option(None, "--patience", min=1, help="Early-stopping patience (small: 10; paper: 30).")
LR = typer.Option(None, "--lr", min=0.0, help="Adam learning rate (small: 5e-4; paper: 1e-4).")
BATCH_SIZE = batch_size_option(None, help="Scanpaths per batch (small: 20).")
PE_ITERATIONS = typer.Option(None, "--pe-iterations", min=0, help="Adam steps fitting the learned position table.")
SCENES = typer.Option(None, "--scenes-per-batch", min=1, help="Images per batch, with all their scanpaths "
                      "(interiors: 2).")
DETECTIONS = typer.Option(None, "--detections", help="COCO-Search18 detection CSV folder (for a JSON path).")
TRAIN_DIR = typer.Option(None, "--train", help="interiors: the ViSioNS-layout folder (default: the shared Interiors "
                         "copy).")
FEATURE_MODEL = typer.Option("torchvision:mobilenet_v2", "--feature-model", help="interiors: network giving cell "
                             "appearance.")
FEATURE_WEIGHTS = weights_option(help="interiors: the feature network's weights (default: the shared ImageNet "
                                      "MobileNetV2 for torchvision:mobilenet_v2).")
LAYERS = typer.Option(FEATURE_LAYERS, "--feature-layers", help="interiors: comma-separated modules of the feature "
                      "network pooled over each cell.")
SIMILARITY = typer.Option(True, "--template-similarity/--no-template-similarity", help="interiors: add the "
                          "target template's similarity to each cell as a feature per layer.")
CACHE = typer.Option(None, "--feature-cache", help="interiors: feature cache folder.")


@app.command("train")
def train(
    dataset: str = typer.Argument(..., help=DATASETS_HELP + " (interiors: a ViSioNS-layout folder, --train)"),
    out: Path = out_option(help="Folder for model.pt, split.json and history.csv."),
    overwrite: bool = overwrite_option(),
    resume: bool = resume_option("training (its checkpoints are in OUT.partial)"),
    seed: int = seed_option(help="Split and training seed."),
    device: Optional[str] = device_option(),
    preset: Optional[Preset] = PRESET, config: Optional[Path] = CONFIG,
    d_model: Optional[int] = D_MODEL, n_layers: Optional[int] = N_LAYERS, epochs: Optional[int] = EPOCHS,
    warmup: Optional[int] = WARMUP, patience: Optional[int] = PATIENCE, lr: Optional[float] = LR,
    batch_size: Optional[int] = BATCH_SIZE,
    pe_iterations: Optional[int] = PE_ITERATIONS, scenes_per_batch: Optional[int] = SCENES,
    detections: Optional[Path] = DETECTIONS, train_dir: Optional[Path] = TRAIN_DIR,
    feature_model: str = FEATURE_MODEL, weights: Optional[Path] = FEATURE_WEIGHTS, feature_layers: str = LAYERS,
    similarity: bool = SIMILARITY, feature_cache: Optional[Path] = CACHE,
) -> None:
    """Fit OAT: on an image-level 80/10/10 split (early-stopped on the validation delta), or on interiors on a
    whole folder (15% of its images early-stop on the validation likelihood). Ctrl-C keeps the checkpoints in
    OUT.partial; the same command with --resume continues from the last finished epoch."""
    params = _preset(preset, config, dataset, d_model=d_model, n_layers=n_layers, epochs=epochs,
                     warmup_epochs=warmup, patience=patience, lr=lr, batch_size=batch_size,
                     pe_iterations=pe_iterations, scenes_per_batch=scenes_per_batch)
    interiors = dataset == INTERIORS
    spec = _feature_spec(feature_model, weights, feature_layers, similarity) if interiors else None
    settings = TrainSettings(dataset=dataset, detections=str(detections.resolve()) if detections else None,
                             train_dir=str(train_dir.resolve()) if train_dir and interiors else None, seed=seed,
                             oat=params, features=spec.to_dict() if spec else None)
    train_oat(out, settings, overwrite=overwrite, resume=resume, device=device, feature_cache=feature_cache)


@app.command("predict")
def predict(
    model_dir: Path = typer.Argument(..., help="Folder written by `cogvision scanpath train`."),
    out: Path = out_option(help="Folder for predictions.csv and figures."),
    overwrite: bool = overwrite_option(),
    device: Optional[str] = device_option(),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Data set (default: the one the model was trained "
                                          "on): " + DATASETS_HELP),
    detections: Optional[Path] = DETECTIONS,
    part: Part = typer.Option(Part.test, "--part", help="Part of the training split (interiors: the whole folder)."),
    data_dir: Optional[Path] = typer.Option(None, "--data", help="interiors: the ViSioNS-layout folder to predict on "
                                            "(default: the training folder)."),
    samples: int = typer.Option(0, "--samples", min=0, help="Sampled scanpaths per trial (0: greedy)."),
    figures: int = typer.Option(4, "--figures", min=0, help="Trials drawn (numbered scanpaths over the stimulus)."),
    feature_cache: Optional[Path] = CACHE,
) -> None:
    """Write predicted scanpaths (``trial, sample, fixation, object, x, y``) and figures."""
    predict_oat(model_dir, out, dataset=dataset, detections=detections, part=part, data_dir=data_dir,
                samples=samples, figures=figures, feature_cache=feature_cache, device=device, overwrite=overwrite)


@app.command("evaluate")
def evaluate(
    dataset: str = typer.Argument(..., help=DATASETS_HELP + " (interiors: a ViSioNS-layout folder, --train, --test)"),
    out: Path = out_option(help="Folder for the tables and figures."),
    overwrite: bool = overwrite_option(),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated split seeds (interiors: OAT seeds per fold)."),
    device: Optional[str] = device_option(),
    samples: int = typer.Option(20, "--samples", min=0, help="Sampled scanpaths per trial."),
    preset: Optional[Preset] = PRESET, config: Optional[Path] = CONFIG,
    d_model: Optional[int] = D_MODEL, n_layers: Optional[int] = N_LAYERS, epochs: Optional[int] = EPOCHS,
    warmup: Optional[int] = WARMUP, patience: Optional[int] = PATIENCE, lr: Optional[float] = LR,
    batch_size: Optional[int] = BATCH_SIZE,
    pe_iterations: Optional[int] = PE_ITERATIONS, scenes_per_batch: Optional[int] = SCENES,
    detections: Optional[Path] = DETECTIONS, train_dir: Optional[Path] = TRAIN_DIR,
    test_dir: Optional[Path] = typer.Option(None, "--test", help="interiors: a separate test folder of the same "
                                            "layout (no cross-validation)."),
    folds: int = typer.Option(5, "--folds", min=2, help="interiors: image folds of the cross-validation."),
    feature_model: str = FEATURE_MODEL, weights: Optional[Path] = FEATURE_WEIGHTS, feature_layers: str = LAYERS,
    similarity: bool = SIMILARITY, feature_cache: Optional[Path] = CACHE,
    figures: int = typer.Option(3, "--figures", min=0, help="interiors: test images drawn (maps and scanpaths)."),
) -> None:
    """Train OAT and score it against the baselines.

    amazon / coco-search18 / files: per split seed, greedy and sampled scanpaths against every baseline and human
    consistency (behavioural delta, Sequence Score, MultiMatch), and human scanpath prediction (AUC, NSS, IG, LL)
    of OAT and the density baselines. interiors: human scanpath prediction on images OAT never saw (hsp.csv with
    one row per model), paired differences, target found within k fixations, behaviour, figures.
    """
    seed_list = _seeds(seeds)
    params = _preset(preset, config, dataset, d_model=d_model, n_layers=n_layers, epochs=epochs,
                     warmup_epochs=warmup, patience=patience, lr=lr, batch_size=batch_size,
                     pe_iterations=pe_iterations, scenes_per_batch=scenes_per_batch)
    if dataset == INTERIORS:
        spec = _feature_spec(feature_model, weights, feature_layers, similarity)
        evaluate_interiors(out, params, spec, train_dir=train_dir, test_dir=test_dir, folds=folds, seeds=seed_list,
                           samples=samples, figures=figures, feature_cache=feature_cache, device=device,
                           overwrite=overwrite)
    else:
        evaluate_objects(out, dataset, params, seeds=seed_list, samples=samples, detections=detections,
                         device=device, overwrite=overwrite)
