"""Scanpath evaluation jobs: OAT against the baselines and humans, written into one result folder.

:func:`evaluate_objects` (amazon, coco-search18, synthetic, files): per split seed, greedy and sampled
scanpaths against every baseline and human consistency, and human scanpath prediction (AUC, NSS, IG, LL).
:func:`evaluate_interiors` (a ViSioNS-layout folder): human scanpath prediction on images OAT never saw,
cross-validated by image or on a separate test folder, with paired differences, targets found within k
fixations, behaviour and figures. Everything is validated and loaded before the output folder is claimed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.io import atomic_write, check_out_dir, publish_folder, run_metadata, save_figure, write_table
from cogvision.jobs.scanpath import load_dataset
from cogvision.jobs.scanpath_interiors import FeatureSpec, load_with_features
from cogvision.reporting import get_logger
from cogvision.scanpath.compare import compare_models, hsp_by_seed, markdown_table, summarise
from cogvision.scanpath.density import prepared
from cogvision.scanpath.hsp_evaluation import (
    cross_validate_hsp,
    cumulative_performance,
    paired_differences,
    per_image_scores,
    summarise_hsp,
)
from cogvision.scanpath.presets import OATParams
from cogvision.viz.scanpath import plot_cumulative, plot_hsp_maps, plot_metric_bars, plot_scanpaths

log = get_logger(__name__)


@fill_doc
def evaluate_objects(out: str | os.PathLike, dataset: str, params: OATParams, *, seeds: Sequence[int] = (0, 1, 2),
                     samples: int = 20, detections: Optional[Path] = None, device: str = "auto",
                     overwrite: bool = False, progress: bool = True) -> None:
    """Score OAT, the baselines and humans on each seed's test collages (``metrics.csv``, ``summary.*``, ``hsp.csv``).

    Parameters
    ----------
    %(out)s
    dataset : str
        A name of :data:`~cogvision.jobs.scanpath.OBJECT_DATASETS` or a fixation JSON file.
    params : OATParams
        OAT's hyper-parameters (the seed is each split's).
    seeds : sequence of int
        One image-level split, OAT initialisation and sampling seed each.
    samples : int
        Sampled scanpaths per test trial.
    detections : Path, optional
        COCO-Search18 detection folder (for a COCO-Search18 file).
    %(device)s
    %(overwrite)s
    %(progress)s
    """
    if samples < 0:
        raise ValueError(f"--samples must be >= 0, got {samples}")
    device = str(resolve_device(device))
    target = check_out_dir(out, overwrite)
    data = load_dataset(dataset, detections)
    oat = {**params.oat_kwargs(), "device": device}
    table, models = compare_models(data, seeds, oat_params=oat, n_samples=samples, progress=progress)
    per_fixation = hsp_by_seed(data, models)
    hsp = summarise_hsp(per_fixation)
    summary = summarise(table)
    with publish_folder(target, overwrite=overwrite, metadata=run_metadata(seed=list(seeds), device=device)) as tmp:
        write_table(table, tmp / "metrics.csv")
        write_table(summary, tmp / "summary.csv", index=True)
        atomic_write(tmp / "summary.md", markdown_table(summary))
        write_table(hsp, tmp / "hsp.csv")
        write_table(paired_differences(per_fixation), tmp / "hsp_paired.csv")
        save_figure(plot_metric_bars(table), tmp / "metrics.png", dpi=90)
        atomic_write(tmp / "command.json", json.dumps({"dataset": dataset, "seeds": list(seeds), "samples": samples,
                                                       "oat": oat}, indent=1))
    log.info("%s", summary.to_string())
    log.info("%s", hsp.to_string())


def _write_interiors_figures(tmp: Path, result, scored, figures: int) -> None:
    """OAT's maps and a sampled scanpath over the first ``figures`` test images of the first fold."""
    all_images = scored.images() if figures else {}
    (fold, _), model = next(iter(result.models.items()))
    tested = sorted(result.per_fixation.query("model == 'oat' and fold == @fold")["trial"].unique())
    for trial in tested[:figures]:
        image = all_images[trial]
        data = prepared(scored.scanpaths.subset([trial]))
        save_figure(plot_hsp_maps(model, data, image), tmp / f"maps_{Path(trial).stem}.png", dpi=80)
        pred = model.predict(data, n_samples=1)
        save_figure(plot_scanpaths(data, trial, pred, image=image, max_humans=2),
                    tmp / f"scanpaths_{Path(trial).stem}.png", dpi=80)


@fill_doc
def evaluate_interiors(out: str | os.PathLike, params: OATParams, spec: FeatureSpec, *,
                       train_dir: Optional[Path] = None, test_dir: Optional[Path] = None, folds: int = 5,
                       seeds: Sequence[int] = (0, 1, 2), samples: int = 10, figures: int = 3,
                       feature_cache: Optional[Path] = None, device: str = "auto", overwrite: bool = False,
                       progress: bool = True) -> None:
    """Human scanpath prediction on images OAT never saw, against the baselines (``hsp.csv`` and companions).

    Parameters
    ----------
    %(out)s
    params : OATParams
        OAT's hyper-parameters (the seed is each run's).
    spec : FeatureSpec
        The network giving each cell's appearance.
    train_dir : Path, optional
        ViSioNS-layout training folder (default: the shared Interiors copy); cross-validated by image into
        ``folds`` without ``test_dir``.
    test_dir : Path, optional
        A separate test folder of the same layout.
    folds : int
        Image folds of the cross-validation (at least 2).
    seeds : sequence of int
        OAT seeds per fold.
    samples : int
        OAT scanpaths sampled per test image for the behavioural summaries.
    figures : int
        Test images drawn (maps and scanpaths).
    feature_cache : Path, optional
        The cell-feature cache folder.
    %(device)s
    %(overwrite)s
    %(progress)s
    """
    if folds < 2 or samples < 0 or figures < 0:
        raise ValueError(f"--folds must be >= 2 and --samples, --figures >= 0, got {folds}, {samples}, {figures}")
    device = str(resolve_device(device))
    target = check_out_dir(out, overwrite)
    train = load_with_features(train_dir, spec, device, feature_cache)
    test = load_with_features(test_dir, spec, device, feature_cache) if test_dir is not None else None
    oat = {**params.oat_kwargs(), "device": device}
    result = cross_validate_hsp(train.scanpaths, train.centre_bias, test=test.scanpaths if test else None,
                                folds=folds, seeds=seeds, oat_params=oat, n_samples=samples, progress=progress)
    summary = summarise_hsp(result.per_fixation)
    with publish_folder(target, overwrite=overwrite, metadata=run_metadata(seed=list(seeds), device=device)) as tmp:
        write_table(summary, tmp / "hsp.csv")
        write_table(per_image_scores(result.per_fixation).reset_index(), tmp / "hsp_per_image.csv")
        atomic_write(tmp / "hsp_per_fixation.csv.gz", lambda path: result.per_fixation.to_csv(
            path, index=False, compression="gzip"))
        atomic_write(tmp / "hsp_per_fixation.parquet", lambda path: result.per_fixation.to_parquet(path, index=False))
        write_table(paired_differences(result.per_fixation), tmp / "hsp_paired.csv")
        curve = cumulative_performance(result.found)
        write_table(curve, tmp / "cumulative_performance.csv")
        write_table(result.behaviour, tmp / "behaviour.csv")
        save_figure(plot_cumulative(curve), tmp / "cumulative_performance.png", dpi=90)
        _write_interiors_figures(tmp, result, test or train, figures)
        atomic_write(tmp / "command.json", json.dumps({
            "dataset": "interiors", "train": str(train.root), "test": str(test.root) if test else None,
            "folds": None if test else folds, "seeds": list(seeds), "samples": samples, "oat": oat,
            "features": spec.to_dict(), "seconds": result.seconds}, indent=1))
    log.info("%s", summary[["model", "auc", "nss", "ig", "ll"]].round(3).to_string(index=False))
