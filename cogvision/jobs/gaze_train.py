"""Job: train ViTGaze on a named data set and publish a run folder (``cogvision gaze train``).

Everything is checked before the output folder is claimed: the config (typed), the device, the backbone spec
and weights (the model is built), the data (scenes rendered or annotations and images found), the output
folder, and for ``resume`` that the saved config equals the new one. The run is then written into a staging
folder that replaces OUT only when complete (:func:`cogvision.io.publish_folder`), so an error, Ctrl-C or a
kill leaves the previous results untouched.

The fit's checkpoint lives beside OUT, in ``.<name>.checkpoint/`` (``last.pt`` after every epoch, and
``state.json`` with the config), so it survives an interruption: ``resume=True`` continues from it and gives
the result of an uninterrupted run; it is removed once the run is published.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from cogvision._docs import fill_doc
from cogvision.config import config_differences
from cogvision.device import resolve_device
from cogvision.gaze.config import TrainConfig
from cogvision.gaze.evaluate import METRIC_CONVENTIONS, score_methods
from cogvision.gaze.model import ViTGaze
from cogvision.gaze.samples import GazeSamples
from cogvision.gaze.train import TrainResult, build_model, train_vitgaze
from cogvision.io import atomic_write, check_out_dir, publish_folder, run_metadata, save_figure, write_table
from cogvision.reporting import get_logger
from cogvision.training import CHECKPOINT_NAME, FitResult
from cogvision.viz.gaze import plot_scores
from data_loaders.gazefollow import gazefollow_samples
from data_loaders.synthetic_gaze import make_gaze_scenes

log = get_logger(__name__)

STATE_NAME = "state.json"
VAL_SEED_OFFSET = 10_000  # validation scenes are drawn with seed + this


@dataclass
class GazeData:
    """Training and validation samples of a run, and the validation scenes' objects (synthetic data only)."""

    train: GazeSamples
    val: GazeSamples
    objects: pd.DataFrame | None


@dataclass
class TrainRun:
    """A trained and scored run.

    Attributes
    ----------
    config : TrainConfig
        Its settings.
    model : ViTGaze
        The trained model (best validation epoch).
    fit : cogvision.training.FitResult
        History of the fit.
    scores : pandas.DataFrame
        One row per method (``ViTGaze`` and the baselines) on the validation set.
    seconds : float
        Wall time of the fit.
    data : GazeData
        The samples it was trained and scored on.
    """

    config: TrainConfig
    model: ViTGaze
    fit: FitResult
    scores: pd.DataFrame
    seconds: float
    data: GazeData


def synthetic_samples(n_scenes: int, image_size: int, seed: int, n_objects: int = 3,
                      p_out: float = 0.2) -> tuple[GazeSamples, pd.DataFrame]:
    """``n_scenes`` synthetic scenes (``data_loaders.synthetic_gaze``) as samples, plus their object table."""
    scenes = make_gaze_scenes(n_scenes, image_size=image_size, n_objects=n_objects, p_out=p_out, seed=seed)
    return scenes.samples(), scenes.objects


def build_data(config: TrainConfig) -> GazeData:
    """The samples ``config`` names: synthetic scenes (seeded by ``seed`` and ``seed + 10000``), or GazeFollow.

    Raises
    ------
    FileNotFoundError
        Missing GazeFollow annotation files or images (listed).
    ValueError
        Annotation files in the wrong format.
    """
    if config.data == "synthetic":
        train, _ = synthetic_samples(config.n_train, config.image_size, config.seed, config.n_objects, config.p_out)
        val, objects = synthetic_samples(config.n_val, config.image_size, config.seed + VAL_SEED_OFFSET,
                                         config.n_objects, config.p_out)
        return GazeData(train, val, objects)
    train = gazefollow_samples(config.annotations, config.image_root, config.image_size)
    val = gazefollow_samples(config.val_annotations or config.annotations, config.image_root, config.image_size)
    return GazeData(train, val, None)


@fill_doc
def fit_and_score(model: ViTGaze, data: GazeData, config: TrainConfig, *, checkpoint_dir: Path | None = None,
                  resume: bool = False, device: str | torch.device = "auto", progress: bool = True) -> TrainRun:
    """Train ``model`` on ``data`` (:func:`cogvision.gaze.train.train_vitgaze`) and score it beside the baselines.

    Parameters
    ----------
    model
        From :func:`cogvision.gaze.train.build_model`.
    data
        From :func:`build_data`.
    config
        The run's settings.
    checkpoint_dir
        Folder of the fit's checkpoint (``None``: none).
    resume
        Continue from the checkpoint in ``checkpoint_dir``.
    %(device)s
    %(progress)s
    """
    result: TrainResult = train_vitgaze(model, data.train, data.val, config, checkpoint_dir=checkpoint_dir,
                                        resume=resume, device=device, progress=progress)
    scores = score_methods(result.model, data.train, data.val, data.objects, device=device, progress=progress)
    return TrainRun(config, result.model, result.fit, scores, result.seconds, data)


@fill_doc
def train_in_memory(config: TrainConfig, device: str | torch.device = "auto", progress: bool = True) -> TrainRun:
    """Build, train and score the run ``config`` describes without writing anything (demo, notebooks).

    Parameters
    ----------
    config
        The run's settings.
    %(device)s
    %(progress)s
    """
    model = build_model(config)
    return fit_and_score(model, build_data(config), config, device=resolve_device(device), progress=progress)


def checkpoint_folder(out: str | os.PathLike) -> Path:
    """Where the checkpoint of a run into ``out`` lives: ``.<name>.checkpoint`` beside it."""
    target = Path(os.path.abspath(out))
    return target.parent / f".{target.name}.checkpoint"


def _check_resume(config: TrainConfig, out: Path, checkpoint: Path) -> bool:
    """Whether the interrupted run replaces OUT; refuses a missing checkpoint or a different config."""
    state_file = checkpoint / STATE_NAME
    if not state_file.is_file():
        raise FileNotFoundError(f"--resume: no interrupted run of {out} to continue ({checkpoint} holds no "
                                f"{STATE_NAME}); start the run without --resume")
    try:
        state = json.loads(state_file.read_text())
        saved, replace = state["config"], bool(state["overwrite"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"--resume: {state_file} is not a checkpoint state written by `cogvision gaze train`; "
                         "start again with --overwrite") from None
    keys = config_differences(config.model_dump(mode="json"), saved)
    if keys:
        raise ValueError(f"--resume: the config differs from the one of the interrupted run in {checkpoint} at "
                         f"{', '.join(keys)}; use the same config, or --overwrite to start again")
    return replace


def write_run(folder: Path, run: TrainRun) -> None:
    """Write a run into ``folder``: ``vitgaze.pt`` (:meth:`ViTGaze.save`), ``config.json``, ``history`` and
    ``scores`` tables (CSV + Parquet), ``metric_conventions.json`` and ``scores.png``."""
    config = run.config.model_dump(mode="json")
    run.model.save(folder / "vitgaze.pt", extra={"train_config": config})
    write_table(run.fit.history, folder / "history.csv")
    write_table(run.scores, folder / "scores.csv")
    atomic_write(folder / "config.json", json.dumps(config, indent=2) + "\n")
    atomic_write(folder / "metric_conventions.json", json.dumps(METRIC_CONVENTIONS, indent=2) + "\n")
    save_figure(plot_scores(run.scores), folder / "scores.png", dpi=110)


@fill_doc
def run_training(config: TrainConfig, out: str | os.PathLike, *, overwrite: bool = False, resume: bool = False,
                 device: str | torch.device = "auto", progress: bool = True) -> TrainRun:
    """Validate everything, train, score and publish the run folder ``out``.

    Parameters
    ----------
    config
        The run's settings (from :func:`cogvision.gaze.config.read_train_config`).
    %(out)s
    %(overwrite)s
    resume
        Continue the interrupted run of ``out`` from its checkpoint; refused when ``config`` differs from the
        saved one (the differing keys are named) or when there is nothing to resume.
    %(device)s
    %(progress)s

    Raises
    ------
    ValueError, OSError
        For any bad input, before anything is written.
    """
    if overwrite and resume:
        raise ValueError("--overwrite and --resume exclude each other: --resume continues the interrupted run, "
                         "--overwrite starts again")
    target = Path(out)
    checkpoint = checkpoint_folder(target)
    dev = resolve_device(device)
    if resume:
        replace = _check_resume(config, target, checkpoint)
    else:
        replace = overwrite
        if (checkpoint / STATE_NAME).is_file() and not overwrite:
            raise FileExistsError(f"--out {out}: an interrupted run left its checkpoint in {checkpoint}; pass "
                                  "--resume to continue it, or --overwrite to start again")
    check_out_dir(target, overwrite=replace)
    model = build_model(config)
    data = build_data(config)
    if not resume:
        shutil.rmtree(checkpoint, ignore_errors=True)
        state = {"config": config.model_dump(mode="json"), "overwrite": replace, "out": str(target)}
        atomic_write(checkpoint / STATE_NAME, json.dumps(state, indent=2) + "\n")
    metadata = run_metadata(seed=config.seed, device=dev, model=config.model, data=config.data)
    log.info("training ViTGaze on %d people (%s), validating on %d; checkpoint in %s", len(data.train), config.data,
             len(data.val), checkpoint)
    try:
        with publish_folder(target, overwrite=replace, metadata=metadata) as folder:
            run = fit_and_score(model, data, config, checkpoint_dir=checkpoint, resume=resume, device=dev,
                                progress=progress)
            write_run(folder, run)
    except KeyboardInterrupt:
        log.warning("interrupted: %s is unchanged; continue with --resume (checkpoint in %s)", out, checkpoint)
        raise
    except Exception:
        if not (checkpoint / CHECKPOINT_NAME).is_file():
            shutil.rmtree(checkpoint, ignore_errors=True)  # no epoch finished: nothing worth resuming
        raise
    shutil.rmtree(checkpoint, ignore_errors=True)
    return run


@fill_doc
def evaluate_synthetic(model: ViTGaze, n_scenes: int = 300, seed: int = 12345, device: str | torch.device = "auto",
                       progress: bool = True) -> pd.DataFrame:
    """Score ``model`` and the baselines on ``n_scenes`` fresh synthetic scenes drawn with ``seed``.

    The scenes are ``model.image_size`` pixels wide with the default objects and out-of-frame share; the
    training-mean prior is built from another ``n_scenes`` scenes (seed ``seed + 1``).

    Parameters
    ----------
    model
        The trained model.
    n_scenes
        Test scenes.
    %(seed)s
    %(device)s
    %(progress)s
    """
    test, objects = synthetic_samples(n_scenes, model.image_size, seed)
    prior_set, _ = synthetic_samples(n_scenes, model.image_size, seed + 1)
    return score_methods(model, prior_set, test, objects, device=device, progress=progress)
