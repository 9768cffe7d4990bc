"""Ablation study of ViTGaze on synthetic scenes: which parts carry the result, with intervals over seeds.

Each variant (:data:`VARIANTS`) is trained with several seeds on the same settings, then scored on the
same fresh test scenes together with the analytic baselines (centre prior, training-mean prior, and the
object prior that knows every object but not where the head points). Intervals:

- trained variants: mean over seeds with a 95 % Student-t interval over seeds (what changes between
  training runs: initialisation, training scenes, batch order), and the paired difference to the full
  model (same seed, hence same training scenes);
- baselines (deterministic): 95 % percentile bootstrap over test people.

The runs are trained by ``cogvision.jobs.gaze_study.train_variants``; this module scores them on given test
samples and builds the table.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from cogvision._docs import fill_doc
from cogvision.gaze.baselines import centre_prior, mean_target_prior, object_prior
from cogvision.gaze.evaluate import evaluate_heatmaps
from cogvision.gaze.metrics import gazefollow_scores, vat_auc
from cogvision.gaze.model import ViTGaze
from cogvision.gaze.predict import predict_dataset
from cogvision.gaze.samples import GazeSamples
from cogvision.reporting import markdown_rows
from cogvision.stats import bootstrap_interval

VARIANTS: dict[str, dict[str, str]] = {
    "ViTGaze (interaction + learned guidance)": {"features": "interaction", "guidance": "learned"},
    "plain tokens (no interaction)": {"features": "tokens", "guidance": "learned"},
    "uniform guidance": {"features": "interaction", "guidance": "uniform"},
}
FULL = "ViTGaze (interaction + learned guidance)"
METRICS = ("auc", "avg_l2", "vat_auc", "ap")


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of ``values`` (one per seed); the interval is ``nan`` for one value."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def per_person(heatmaps: np.ndarray, dataset) -> pd.DataFrame:
    """Per in-frame person ``auc``, ``avg_l2`` and ``vat_auc`` (same conventions as :func:`evaluate_heatmaps`)."""
    keep = dataset.inout.numpy() == 1
    size = dataset.size
    table = gazefollow_scores(heatmaps[keep], dataset.gaze[keep], sizes=np.tile(size, (keep.sum(), 1)))
    table["vat_auc"] = [vat_auc(h, g[0]) for h, g in zip(heatmaps[keep], dataset.gaze[keep])]
    return table[["auc", "avg_l2", "vat_auc"]]


def flat_share(heatmaps: np.ndarray, tol: float = 1e-6) -> float:
    """Share of (P, h, w) maps that are constant (range below ``tol``): a collapsed decoder predicts those."""
    heatmaps = np.asarray(heatmaps)
    spread = np.ptp(heatmaps.reshape(len(heatmaps), -1), axis=1)
    return float((spread < tol).mean())


@fill_doc
def score_study(paths: dict[tuple[str, int], str | os.PathLike], test: GazeSamples, objects: pd.DataFrame,
                prior_set: GazeSamples, device: str = "auto", n_boot: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the trained runs and the baselines on the same fresh test scenes.

    Parameters
    ----------
    paths
        ``(variant, seed) -> checkpoint`` (:meth:`~cogvision.gaze.model.ViTGaze.save` files).
    test
        Test samples (synthetic scenes).
    objects
        Object table of the test scenes (columns ``scene, x, y``), for the object prior.
    prior_set
        Other scenes whose mean target is the training-mean prior.
    %(device)s
    n_boot
        Bootstrap resamples of the baselines' intervals.

    Returns
    -------
    runs : pandas.DataFrame
        One row per (method, seed): ``method, seed``, :data:`METRICS` and ``flat_maps`` (share of constant
        maps, :func:`flat_share`; a run with more than half is counted as collapsed); baselines have seed -1.
    table : pandas.DataFrame
        One row per method: for each metric its mean, ``_low`` and ``_high``, and for trained variants
        ``d_<metric>`` (paired difference to :data:`FULL`) with its interval; ``interval`` says which kind.
    """
    rows = []
    for (name, seed), path in paths.items():
        heatmaps, inout = predict_dataset(ViTGaze.load(Path(path), device=device), test, device=device, progress=False)
        rows.append({"method": name, "seed": seed, **evaluate_heatmaps(heatmaps, inout, test),
                     "flat_maps": flat_share(heatmaps)})
    centres = {s: g[["x", "y"]].to_numpy() for s, g in objects.groupby("scene")}
    baselines = {
        "object prior (no head direction)": object_prior([centres[s] for s in test.people["scene"]]).numpy(),
        "centre prior": centre_prior(len(test)).numpy(),
        "training-mean prior": mean_target_prior(torch.from_numpy(prior_set.gaze[:, 0]), len(test)).numpy(),
    }
    table = []
    for name, maps in baselines.items():
        scores = evaluate_heatmaps(maps, np.full(len(test), 0.5), test)
        rows.append({"method": name, "seed": -1, **scores})
        people = per_person(maps, test)
        row = {"method": name, "interval": f"bootstrap over {len(people)} test people"}
        for metric in METRICS:
            row[metric] = scores[metric]
            if metric in people:
                low, high = bootstrap_interval(people[metric].to_numpy(), n_boot=n_boot)
                row[f"{metric}_low"], row[f"{metric}_high"] = float(low), float(high)
        table.append(row)
    runs = pd.DataFrame(rows)
    trained = runs[runs.seed >= 0]
    full = trained[trained.method == FULL].set_index("seed")
    for name, group in trained.groupby("method", sort=False):
        group = group.set_index("seed")
        collapsed = int((group["flat_maps"] > 0.5).sum())
        row = {"method": name, "interval": f"t over {len(group)} seeds ({collapsed} collapsed)",
               "collapsed": collapsed}
        for metric in METRICS:
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = seed_interval(group[metric])
            if name != FULL and len(full):
                diff = (group[metric] - full[metric]).dropna()
                row[f"d_{metric}"], row[f"d_{metric}_low"], row[f"d_{metric}_high"] = seed_interval(diff)
        table.append(row)
    order = list(dict.fromkeys(list(trained.method) + list(baselines)))
    table = pd.DataFrame(table).set_index("method").loc[order].reset_index()
    return runs, table


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """The study table as Markdown: ``mean [low, high]`` per metric, then the paired differences."""
    def cell(row, key):
        value = row.get(key, np.nan)
        if pd.isna(value):
            return ""
        low, high = row.get(f"{key}_low", np.nan), row.get(f"{key}_high", np.nan)
        sign = "+" if key.startswith("d_") else ""
        text = f"{value:{sign}.{digits}f}"
        return text if pd.isna(low) else f"{text} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"

    head = ["method", *METRICS, *[f"Δ{m} vs full" for m in ("auc", "avg_l2")], "interval"]
    rows = [[row["method"], *[cell(row, m) for m in METRICS], cell(row, "d_auc"), cell(row, "d_avg_l2"),
             row["interval"]] for _, row in table.iterrows()]
    return markdown_rows(head, rows).removesuffix("\n")
