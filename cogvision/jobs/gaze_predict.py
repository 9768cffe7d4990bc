"""Jobs: gaze of the people in one image (``cogvision gaze predict``) and scores of a model or of analytic maps
(``cogvision gaze evaluate``), each checked completely before its output folder is claimed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
import xarray as xr

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.gaze.evaluate import score_analytic
from cogvision.gaze.metrics import conventions
from cogvision.gaze.model import ViTGaze, build_vitgaze, is_vitgaze_checkpoint
from cogvision.gaze.predict import predict
from cogvision.io import (
    atomic_write,
    check_out_dir,
    publish_folder,
    run_metadata,
    save_figure,
    write_dataset,
    write_table,
)
from cogvision.jobs.gaze_train import evaluate_synthetic
from cogvision.reporting import get_logger
from cogvision.viz.gaze import plot_gaze
from data_loaders.gazefollow import read_annotations
from data_loaders.images import read_image

log = get_logger(__name__)


@fill_doc
def load_gaze_model(model: str | None, weights: str | os.PathLike | None,
                    device: str | torch.device = "auto") -> tuple[ViTGaze, bool]:
    """A ViTGaze from a checkpoint of ``gaze train`` (``weights``), or a backbone spec with optional backbone weights.

    Parameters
    ----------
    model
        Backbone spec; not needed when ``weights`` is a ViTGaze checkpoint (whose own spec is used).
    weights
        A ViTGaze checkpoint (:meth:`ViTGaze.save`), or backbone weights for ``model``.
    %(device)s

    Returns
    -------
    model : ViTGaze
    trained : bool
        Whether the gaze head (guidance, decoder, in/out) comes from a checkpoint.
    """
    if model is None:
        if weights is None:
            raise ValueError("--model SPEC or --weights CHECKPOINT (from `cogvision gaze train`) is needed")
        return ViTGaze.load(weights, device=device), True
    if weights is not None and is_vitgaze_checkpoint(weights):
        loaded = ViTGaze.load(weights, device=device)
        if model != loaded.config["spec"]:
            log.warning("%s was trained on %s; using that, not %s", weights, loaded.config["spec"], model)
        return loaded, True
    return build_vitgaze(model, weights=weights, device=device), False


@fill_doc
def predict_image(image: str | os.PathLike, heads: Sequence[Sequence[float]], out: str | os.PathLike, *,
                  model: str | None = None, weights: str | os.PathLike | None = None, refine: bool = False,
                  image_size: int | None = None, device: str | torch.device = "auto",
                  overwrite: bool = False) -> xr.Dataset:
    """Predict the gaze of every head in ``image`` and publish ``prediction.nc``, ``prediction.csv`` (+ Parquet)
    and ``overlay.png`` in ``out``.

    Parameters
    ----------
    image
        Image file.
    heads
        Head boxes ``x1, y1, x2, y2`` in pixels.
    %(out)s
    model, weights
        See :func:`load_gaze_model`.
    refine
        DARK sub-pixel gaze points.
    image_size
        Square input side (default: the model's).
    %(device)s
    %(overwrite)s

    Returns
    -------
    xarray.Dataset
        The output of :func:`cogvision.gaze.predict.predict`.
    """
    image = Path(image)
    dev = resolve_device(device)
    check_out_dir(out, overwrite=overwrite)
    picture = read_image(image)
    net, trained = load_gaze_model(model, weights, dev)
    result = predict(net, picture, heads, refine=refine, image_size=image_size, device=dev)
    result.attrs["image"] = str(image)
    if not trained:
        log.warning("the gaze head (guidance, decoder, in/out) is untrained: train one with `cogvision gaze train` "
                    "and pass it as --weights")
    frame = result[["gaze_x", "gaze_y", "inout"]].to_dataframe().reset_index()
    metadata = run_metadata(device=dev, model=net.config.get("spec"), weights=weights, image=image)
    with publish_folder(out, overwrite=overwrite, metadata=metadata) as folder:
        write_dataset(result, folder / "prediction.nc")
        write_table(frame, folder / "prediction.csv")
        save_figure(plot_gaze(picture, result, title=image.name), folder / "overlay.png", dpi=110)
    return result


@dataclass
class Evaluation:
    """What :func:`evaluate` computed: one table per part, with a title saying its conventions."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    conventions: dict[str, dict] = field(default_factory=dict)

    def report(self) -> dict:
        """``scores.json``: each part's rows and the metric conventions used."""
        return {"conventions": self.conventions,
                **{name: table.to_dict(orient="records") for name, table in self.tables.items()}}


@fill_doc
def evaluate(*, weights: str | os.PathLike | None = None, synthetic: int = 300, seed: int = 12345,
             gazefollow: str | os.PathLike | None = None, image_root: str | os.PathLike | None = None,
             out: str | os.PathLike | None = None, overwrite: bool = False, device: str | torch.device = "auto",
             progress: bool = True) -> Evaluation:
    """Score a trained model on fresh synthetic scenes and/or analytic maps on real GazeFollow annotations.

    Parameters
    ----------
    weights
        ViTGaze checkpoint scored on ``synthetic`` scenes drawn with ``seed``.
    synthetic
        Number of synthetic test scenes.
    %(seed)s
    gazefollow
        GazeFollow annotations (``.mat`` release or Chong's text) on which analytic maps are scored.
    image_root
        Image folder of ``gazefollow``: AUC at image size (the reference) instead of 64 x 64.
    out
        Folder for ``scores.json`` and one table per part (CSV + Parquet); ``None`` writes nothing.
    %(overwrite)s
    %(device)s
    %(progress)s
    """
    if weights is None and gazefollow is None:
        raise ValueError("nothing to evaluate: pass --weights CKPT and/or --gazefollow ANNOTATIONS.mat|.txt")
    if synthetic < 1:
        raise ValueError(f"--synthetic {synthetic}: expected a positive number of scenes")
    dev = resolve_device(device)
    if out is not None:
        check_out_dir(out, overwrite=overwrite)
    result = Evaluation()
    if weights is not None:
        net = ViTGaze.load(weights, device=dev)
        result.tables["synthetic"] = evaluate_synthetic(net, n_scenes=synthetic, seed=seed, device=dev,
                                                        progress=progress)
        result.titles["synthetic"] = (f"{synthetic} synthetic test scenes (seed {seed}; AUC: image size, uint8 "
                                      "resize; VAT AUC: uint8, 19x19 square)")
        result.conventions["synthetic"] = conventions()
    if gazefollow is not None:
        gaze, sizes = read_annotations(gazefollow, image_root)
        auc_size = "image" if sizes is not None else "64x64"
        result.tables["gazefollow"] = score_analytic(gaze, seed=seed, sizes=sizes)
        result.titles["gazefollow"] = f"analytic maps on {Path(gazefollow).name} (AUC: {auc_size} size, uint8 resize)"
        result.conventions["gazefollow"] = conventions(auc_size=auc_size)
    if out is not None:
        metadata = run_metadata(seed=seed, device=dev, weights=weights, gazefollow=gazefollow)
        with publish_folder(out, overwrite=overwrite, metadata=metadata) as folder:
            atomic_write(folder / "scores.json", json.dumps(result.report(), indent=2) + "\n")
            for name, table in result.tables.items():
                write_table(table, folder / f"scores_{name}.csv")
    return result
