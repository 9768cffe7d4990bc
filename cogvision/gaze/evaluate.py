"""Scoring heatmaps: of a model and the analytic baselines on samples, and of analytic maps on annotations.

:func:`evaluate_heatmaps` scores predicted maps on :class:`~cogvision.gaze.samples.GazeSamples` with the
reference scripts' conventions (:data:`METRIC_CONVENTIONS`); :func:`score_methods` puts a model beside the
analytic baselines. :func:`score_analytic` scores analytic maps on real GazeFollow annotations (no images
needed; ``data_loaders.gazefollow.read_annotations`` reads the ``.mat`` release and Chong's text format).

The reference AUC is at each image's size (the uint8-resized map against one pixel per annotator). The
``.mat`` test2 annotations carry no image sizes, so without ``sizes`` AUC is the 64 x 64 variant (the
uint8 map scored at its own size); for maps that are Gaussians in normalised coordinates this ranks
pixels by normalised distance as the image-size AUC would, up to the annotator points' pixel
quantisation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cogvision._docs import fill_doc
from cogvision.gaze.baselines import centre_prior, mean_target_prior, object_prior, point_gaussians
from cogvision.gaze.losses import HEATMAP_SIZE
from cogvision.gaze.metrics import conventions, gazefollow_scores, inout_ap, vat_scores
from cogvision.gaze.model import ViTGaze
from cogvision.gaze.predict import predict_dataset
from cogvision.gaze.samples import GazeSamples

METRIC_CONVENTIONS = conventions()  # what evaluate_heatmaps uses (the reference scripts' defaults)

ANALYTIC_METHODS = ("centre prior", "Gaussian at mean annotator point", "random point")


def analytic_heatmaps(method: str, gaze: np.ndarray, seed: int = 0, size: int = HEATMAP_SIZE) -> np.ndarray:
    """(P, size, size) maps of an analytic method for people with (P, K, 2) annotator points (-1 padded).

    ``"centre prior"``: a Gaussian at (0.5, 0.5); ``"Gaussian at mean annotator point"``: sigma 3 map
    pixels at the true mean (an oracle: Avg L2 only measures the argmax quantisation); ``"random
    point"``: a Gaussian at a uniformly random point (seeded).
    """
    n = len(gaze)
    if method == "centre prior":
        return centre_prior(n, size=size).numpy()
    if method == "Gaussian at mean annotator point":
        return point_gaussians(torch.as_tensor(gaze, dtype=torch.float32), size=size).numpy()
    if method == "random point":
        points = torch.from_numpy(np.random.default_rng(seed).uniform(0, 1, size=(n, 2))).float()
        return point_gaussians(points, size=size).numpy()
    raise ValueError(f"unknown analytic method {method!r}; choose from {ANALYTIC_METHODS}")


def score_analytic(gaze: np.ndarray, methods: tuple[str, ...] = ANALYTIC_METHODS, seed: int = 0,
                   sizes: np.ndarray | None = None) -> pd.DataFrame:
    """GazeFollow AUC (uint8 resize), Avg L2 and Min L2 of analytic maps, one row per method.

    Parameters
    ----------
    gaze
        (P, K, 2) annotator points, -1 padded (e.g. ``data_loaders.gazefollow.gaze_array``).
    methods
        Names from :data:`ANALYTIC_METHODS`.
    seed
        Seed of the random-point method.
    sizes
        (P, 2) image (height, width): AUC at image size (the reference); ``None``: the 64 x 64 variant.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, auc, avg_l2, min_l2, n``.
    """
    rows = []
    for method in methods:
        table = gazefollow_scores(analytic_heatmaps(method, gaze, seed=seed), gaze, sizes=sizes)
        rows.append({"method": method, "auc": table["auc"].mean(), "avg_l2": table["avg_l2"].mean(),
                     "min_l2": table["min_l2"].mean(), "n": len(table)})
    return pd.DataFrame(rows)


def evaluate_heatmaps(heatmaps: np.ndarray, inout_prob: np.ndarray, dataset: GazeSamples) -> dict[str, float]:
    """GazeFollow-style (in-frame people) and VAT-style metrics of predicted maps on ``dataset``.

    Returns ``auc`` (GazeFollow AUC of the uint8-resized map at the original image size when the table
    has ``height`` and ``width`` columns, else at the input size), ``avg_l2``, ``min_l2`` (argmax),
    ``vat_auc`` (uint8 64 x 64 map, 19 x 19 square), ``ap`` (in-frame probability; ``nan`` if all are in
    frame) and ``n_in``: the reference scripts' conventions, recorded by :data:`METRIC_CONVENTIONS`.
    """
    inout = dataset.inout.numpy().astype(int)
    keep = inout == 1
    if {"height", "width"} <= set(dataset.people.columns):
        sizes = dataset.people[["height", "width"]].to_numpy()[keep]
    else:
        sizes = np.tile(dataset.size, (keep.sum(), 1))
    scores = gazefollow_scores(heatmaps[keep], dataset.gaze[keep], sizes=sizes)
    vat = vat_scores(heatmaps, dataset.gaze[:, 0], inout, inout_prob)
    ap = inout_ap(inout, inout_prob) if (inout == 0).any() else float("nan")
    return {"auc": float(scores["auc"].mean()), "avg_l2": float(scores["avg_l2"].mean()),
            "min_l2": float(scores["min_l2"].mean()), "vat_auc": vat["auc"], "ap": ap, "n_in": int(keep.sum())}


def baseline_heatmaps(prior: GazeSamples, val: GazeSamples, objects: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Maps of the analytic baselines for every person of ``val``.

    ``centre prior``; ``training-mean prior`` (the average target of ``prior``, e.g. the training set); and,
    when the ``objects`` of ``val``'s scenes are known (synthetic scenes: columns ``scene, x, y``),
    ``objects, no head direction`` (equal Gaussians on all objects of the scene).
    """
    n = len(val)
    maps = {"centre prior": centre_prior(n).numpy(),
            "training-mean prior": mean_target_prior(torch.from_numpy(prior.gaze[:, 0]), n).numpy()}
    if objects is not None:
        centres = {s: g[["x", "y"]].to_numpy() for s, g in objects.groupby("scene")}
        maps["objects, no head direction"] = object_prior([centres[s] for s in val.people["scene"]]).numpy()
    return maps


@fill_doc
def score_methods(model: ViTGaze, prior: GazeSamples, val: GazeSamples, objects: pd.DataFrame | None,
                  device: str | torch.device = "auto", progress: bool = True) -> pd.DataFrame:
    """:func:`evaluate_heatmaps` of ``model`` and of the baselines (:func:`baseline_heatmaps`) on ``val``.

    The baselines carry no in/out information: their in-frame score is a constant 0.5, so their ``ap``
    equals the share of in-frame people.

    Parameters
    ----------
    model
        The trained model.
    prior
        Samples whose mean target is the training-mean prior (the training set).
    val
        Samples scored.
    objects
        Object table of ``val``'s scenes, or ``None`` (no object prior).
    %(device)s
    %(progress)s

    Returns
    -------
    pandas.DataFrame
        One row per method: ``method``, then the keys of :func:`evaluate_heatmaps`.
    """
    heatmaps, inout = predict_dataset(model, val, device=device, progress=progress)
    rows = [{"method": "ViTGaze", **evaluate_heatmaps(heatmaps, inout, val)}]
    for name, maps in baseline_heatmaps(prior, val, objects).items():
        rows.append({"method": name, **evaluate_heatmaps(maps, np.full(len(val), 0.5), val)})
    return pd.DataFrame(rows)
