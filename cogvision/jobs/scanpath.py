"""Scanpath jobs: data sets by name, OAT training (resumable after an interruption) and prediction into a folder.

:func:`train_oat` trains :class:`~cogvision.scanpath.OAT` on a named data set, a fixation file or a
ViSioNS-layout folder and publishes ``model.pt``, ``split.json``, ``history.csv`` (and ``features.json``).
Its checkpoints (model, optimiser and loop state after every epoch) live in ``OUT.partial`` beside the output
folder, which survives Ctrl-C, SIGTERM and SIGKILL: rerunning the same command with ``resume=True`` continues
from the last finished epoch and gives the same model and history as an uninterrupted run (on the CPU). The
folder is removed once the results are published, or, with a warning, by the next run that does not resume.
:func:`predict_oat` writes predicted scanpaths and figures. The evaluation jobs are in
:mod:`cogvision.jobs.scanpath_evaluate`.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from cogvision._docs import fill_doc
from cogvision.config import Config, describe_differences
from cogvision.device import resolve_device
from cogvision.io import (
    atomic_write,
    check_out_dir,
    publish_folder,
    run_metadata,
    save_figure,
    write_table,
)
from cogvision.jobs.scanpath_interiors import FeatureSpec, load_with_features
from cogvision.reporting import get_logger
from cogvision.scanpath import OAT, ScanpathSet
from cogvision.scanpath.density import prepared
from cogvision.scanpath.presets import OATParams
from cogvision.viz.scanpath import plot_scanpaths
from data_loaders.amazon_covers import load_amazon_covers
from data_loaders.coco_search18 import load_coco_search18
from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

log = get_logger(__name__)

CONFIG_NAME = "config.json"
PARTIAL_SUFFIX = ".partial"


class ScanpathDataset(str, enum.Enum):
    """Data sets known by name (anything else is a path to an Amazon-style or COCO-Search18 JSON file)."""

    amazon = "amazon"
    coco_search18 = "coco-search18"
    synthetic = "synthetic"
    interiors = "interiors"


#: Named object data sets: name -> loader(detections) (interiors is a folder: :mod:`.scanpath_interiors`).
OBJECT_DATASETS = {
    "amazon": lambda detections: load_amazon_covers(),
    "coco-search18": lambda detections: load_coco_search18(detections=detections),
    "synthetic": lambda detections: make_synthetic_scanpaths(),
}
DATASETS_HELP = "amazon | coco-search18 | synthetic | interiors | PATH to an Amazon-style or COCO-Search18 JSON"


class Part(str, enum.Enum):
    """Which part of a training run's split to predict on."""

    train = "train"
    val = "val"
    test = "test"
    all = "all"


def load_dataset(dataset: str, detections: Optional[Path] = None, filter_sd: Optional[float] = 3.0) -> ScanpathSet:
    """A :class:`~cogvision.scanpath.ScanpathSet` from a name of :data:`OBJECT_DATASETS` or a JSON file.

    Parameters
    ----------
    dataset : str
        ``amazon``, ``coco-search18``, ``synthetic`` or the path of an Amazon-style or COCO-Search18 JSON file.
    detections : Path, optional
        COCO-Search18 detection CSV folder (needed for a COCO-Search18 file).
    filter_sd : float or None
        Drop scanpaths longer than the mean + this many standard deviations (``None``: keep all).

    Raises
    ------
    FileNotFoundError
        If ``dataset`` is neither a known name nor an existing file.
    ValueError
        If a COCO-Search18 file comes without ``detections``, or the file is malformed.
    """
    if dataset in OBJECT_DATASETS:
        data = OBJECT_DATASETS[dataset](detections)
    else:
        path = Path(dataset)
        if not path.is_file():
            raise FileNotFoundError(f"data set {dataset!r} is neither a known name ({DATASETS_HELP}) nor an existing "
                                    "file")
        with open(path) as handle:
            head = handle.read(1).strip() or handle.read(64).lstrip()[:1]
        if head == "[":
            if detections is None:
                raise ValueError(f"{path} looks like COCO-Search18 fixations: pass --detections FOLDER")
            data = load_coco_search18(path, detections)
        else:
            data = load_amazon_covers(path)
    return data.filter_length(filter_sd) if filter_sd else data


class TrainSettings(Config):
    """Everything that decides a training run's result; ``--resume`` refuses a run whose settings differ."""

    dataset: str
    detections: Optional[str] = None
    train_dir: Optional[str] = None
    seed: int = 0
    oat: OATParams
    features: Optional[dict[str, Any]] = None


def partial_folder(out: str | os.PathLike) -> Path:
    """``OUT.partial``: where :func:`train_oat` keeps the checkpoints of a run until it is published."""
    target = Path(os.path.abspath(out))
    return target.with_name(target.name + PARTIAL_SUFFIX)


def _prepare_partial(target: Path, settings: TrainSettings, resume: bool) -> Path:
    """Check ``--resume`` against ``OUT.partial``; remove a stale one when not resuming. Nothing else is written."""
    partial = partial_folder(target)
    if partial.exists() and not partial.is_dir():
        raise NotADirectoryError(f"{partial} is a file; it is where training keeps its checkpoints: move it away")
    if not resume:
        if partial.exists():
            shutil.rmtree(partial)
            log.warning("removed %s, the checkpoints of an earlier interrupted run (pass --resume to continue such a "
                        "run instead of starting again)", partial)
        return partial
    if not partial.is_dir():
        done = target.is_dir() and (target / "model.pt").is_file()
        raise FileNotFoundError(f"--resume: nothing to resume for {target}: "
                                + ("it is complete; drop --resume (and pass --overwrite) to train again" if done else
                                   f"{partial} does not exist; drop --resume to start a new run"))
    try:
        saved = json.loads((partial / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--resume: {partial / CONFIG_NAME} is missing or unreadable ({err}); delete {partial} "
                         "and rerun without --resume") from None
    differences = describe_differences(settings.model_dump(mode="json"), saved)
    if differences:
        raise ValueError(f"--resume: the configuration differs from the interrupted run's in {partial} ("
                         + "; ".join(differences) + "); rerun with the same options, or without --resume to start "
                         "again")
    return partial


def _training_data(settings: TrainSettings, device: str, feature_cache: Optional[Path]):
    """(train, val, test trials, source record, feature spec) of a run."""
    if settings.dataset == ScanpathDataset.interiors.value:
        spec = FeatureSpec(**{**settings.features, "layers": tuple(settings.features["layers"])})
        loaded = load_with_features(Path(settings.train_dir) if settings.train_dir else None, spec, device,
                                    feature_cache)
        train, val = prepared(loaded.scanpaths).split((0.85, 0.15), seed=settings.seed)
        return train, val, [], {"dataset": "interiors", "folder": str(loaded.root)}, spec
    data = load_dataset(settings.dataset, Path(settings.detections) if settings.detections else None)
    train, val, test = data.split(seed=settings.seed)
    return train, val, test.trials, {"dataset": settings.dataset}, None


@fill_doc
def train_oat(out: str | os.PathLike, settings: TrainSettings, *, overwrite: bool = False, resume: bool = False,
              device: str = "auto", feature_cache: Optional[Path] = None, progress: bool = True) -> OAT:
    """Train OAT as ``settings`` say and publish it into ``out`` (resumable, see the module docstring).

    On object data sets the scanpaths are split by image 80/10/10 (``seed``); on a ViSioNS-layout folder
    (``dataset="interiors"``) 15% of its images early-stop the training on the validation likelihood.

    Parameters
    ----------
    %(out)s
    settings : TrainSettings
        Data set, seed, OAT hyper-parameters and (interiors) the cell features.
    %(overwrite)s
    resume : bool, default False
        Continue the interrupted run kept in ``OUT.partial``; refused, naming the keys, if ``settings`` differ.
    %(device)s
    feature_cache : Path, optional
        Interiors: the cell-feature cache folder.
    %(progress)s

    Returns
    -------
    OAT
        The fitted model (also in ``out/model.pt``).
    """
    device = str(resolve_device(device))
    target = check_out_dir(out, overwrite)
    partial = _prepare_partial(target, settings, resume)
    train, val, test_trials, source, spec = _training_data(settings, device, feature_cache)
    model = OAT(**settings.oat.oat_kwargs(), device=device, seed=settings.seed, progress=progress)
    if not resume:
        atomic_write(partial / CONFIG_NAME, json.dumps(settings.model_dump(mode="json"), indent=1) + "\n")
    try:
        with publish_folder(target, overwrite=overwrite, metadata=run_metadata(seed=settings.seed, device=device,
                                                                             settings=settings.model_dump())) as tmp:
            model.fit(train, val if len(val) else None, checkpoint_dir=partial, resume=True)
            model.save(tmp / "model.pt")
            atomic_write(tmp / "split.json", json.dumps({**source, "seed": settings.seed, "train": train.trials,
                                                         "val": val.trials, "test": test_trials}, indent=1))
            if spec is not None:
                atomic_write(tmp / "features.json", spec.to_json())
            write_table(model.history_, tmp / "history.csv")
    except KeyboardInterrupt:
        log.warning("training interrupted; its checkpoints are kept in %s: run the same command with --resume to "
                    "continue from the last finished epoch", partial)
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(partial, ignore_errors=True)
    log.info("best epoch %s, validation metric %s; wrote %s", model.best_epoch_, model.best_val_metric_, target)
    return model


def _read_split(model_dir: Path) -> dict:
    split_file = model_dir / "split.json"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} does not exist: {model_dir} is not a folder written by "
                                "`cogvision scanpath train`")
    try:
        split = json.loads(split_file.read_text())
        if not isinstance(split, dict) or "dataset" not in split:
            raise ValueError("no 'dataset' entry")
    except (json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"{split_file}: not a split file written by `cogvision scanpath train` ({err})") from None
    return split


@fill_doc
def predict_oat(model_dir: Path, out: str | os.PathLike, *, dataset: Optional[str] = None,
                detections: Optional[Path] = None, part: Part = Part.test, data_dir: Optional[Path] = None,
                samples: int = 0, figures: int = 4, feature_cache: Optional[Path] = None, device: str = "auto",
                overwrite: bool = False) -> None:
    """Write a trained OAT's scanpaths (``predictions.csv``: ``trial, sample, fixation, object, x, y``) and figures.

    Parameters
    ----------
    model_dir : Path
        A folder written by :func:`train_oat`.
    %(out)s
    dataset : str, optional
        Data set to predict on (default: the one the model was trained on).
    detections : Path, optional
        COCO-Search18 detection folder (for a COCO-Search18 file).
    part : Part
        Part of the training run's split (object data sets; a ViSioNS folder is predicted whole).
    data_dir : Path, optional
        Interiors: the ViSioNS-layout folder to predict on (default: the training folder).
    samples : int
        Sampled scanpaths per trial (0: the greedy one).
    figures : int
        Trials drawn (numbered scanpaths over the stimulus).
    feature_cache : Path, optional
        Interiors: the cell-feature cache folder.
    %(device)s
    %(overwrite)s
    """
    if samples < 0 or figures < 0:
        raise ValueError(f"--samples and --figures must be >= 0, got {samples} and {figures}")
    device = str(resolve_device(device))
    target = check_out_dir(out, overwrite)
    split = _read_split(model_dir)
    model = OAT.load(model_dir / "model.pt", device=device)
    images: dict = {}
    if split["dataset"] == ScanpathDataset.interiors.value:
        folder = data_dir if data_dir is not None else Path(split["folder"])
        loaded = load_with_features(folder, FeatureSpec.from_json(model_dir / "features.json"), device, feature_cache)
        data = loaded.scanpaths
        images = loaded.images() if figures else {}
    else:
        data = load_dataset(dataset or split["dataset"], detections)
        if part != Part.all:
            data = data.subset(split[Part(part).value])
    pred = model.predict(data, n_samples=samples)
    with publish_folder(target, overwrite=overwrite, metadata=run_metadata(device=device)) as tmp:
        write_table(pred, tmp / "predictions.csv")
        for trial in data.trials[:figures]:
            fig = plot_scanpaths(data, trial, pred, image=images.get(trial))
            save_figure(fig, tmp / f"scanpath_{trial.replace('/', '_')}.png", dpi=80)
    log.info("%d scanpaths -> %s", pred.groupby(["trial", "sample"]).ngroups, target / "predictions.csv")
