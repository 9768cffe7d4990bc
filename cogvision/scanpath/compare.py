"""OAT against the baselines and human consistency over several image-level splits (the evidence protocol).

For each seed: split the scanpaths by image (no collage in two parts), fit OAT on the training part
(early-stopped on the behavioural delta of the validation part), fit the baselines' length distribution on
the training part, and score greedy and sampled scanpaths on the test part with
:func:`~cogvision.scanpath.evaluate.evaluate_predictions`; human consistency is scored on the same test part.
"""

from __future__ import annotations

import time
from typing import Sequence

import pandas as pd

from cogvision.reporting import markdown_rows
from cogvision.reporting import progress as progress_bar
from cogvision.scanpath.baselines import CentreNearest, RandomOrder, SaliencyIOR
from cogvision.scanpath.containers import ScanpathSet
from cogvision.scanpath.density import prepared, score_hsp
from cogvision.scanpath.evaluate import METRICS, evaluate_predictions, human_consistency
from cogvision.scanpath.hsp_evaluation import centre_maps, fitted_baselines
from cogvision.scanpath.oat import OAT


def compare_models(data: ScanpathSet, seeds: Sequence[int] = (0, 1, 2), *, fractions=(0.8, 0.1, 0.1),
                   oat_params: dict | None = None, n_samples: int = 20,
                   progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Score OAT (greedy, sampled), the baselines and humans on the test part of each seed's split.

    Parameters
    ----------
    data
        All scanpaths (filter lengths beforehand if wanted).
    seeds
        One split, OAT initialisation and sampling seed each.
    fractions
        Train / validation / test fractions of images.
    oat_params
        Keyword arguments of :class:`~cogvision.scanpath.OAT` (``seed`` is set per split).
    n_samples
        Sampled scanpaths per trial.
    progress
        Progress bars over seeds and OAT's epochs.

    Returns
    -------
    table : DataFrame
        One row per seed, model and decoding: ``seed, model, decoding, delta, sequence_score, edit_distance,
        mm_vector, mm_direction, mm_length, mm_position, stat_*, seconds``.
    models : dict
        ``seed -> fitted OAT``.
    """
    rows, models = [], {}
    for seed in progress_bar(seeds, desc="split seeds", total=len(seeds), disable=None if progress else True):
        train, val, test = data.split(fractions, seed=seed)
        if len(train) == 0 or len(test) == 0:
            raise ValueError(f"seed {seed}: the split {fractions} leaves an empty training or test part")
        t0 = time.perf_counter()
        oat = OAT(**{**(oat_params or {}), "seed": seed, "progress": progress}).fit(train, val if len(val) else None)
        fit_seconds = time.perf_counter() - t0
        models[seed] = oat
        candidates = [("oat", oat), ("random", RandomOrder(seed)), ("centre", CentreNearest(seed)),
                      ("saliency", SaliencyIOR(seed=seed))]
        for name, model in candidates:
            if name != "oat":
                model.fit(train)
            for decoding, n in (("greedy", 0), ("sampled", n_samples)):
                t0 = time.perf_counter()
                scores = evaluate_predictions(model.predict(test, n_samples=n), test)
                rows.append({"seed": seed, "model": name, "decoding": decoding, **scores,
                             "seconds": time.perf_counter() - t0 + (fit_seconds if name == "oat" else 0.0)})
        t0 = time.perf_counter()
        rows.append({"seed": seed, "model": "human", "decoding": "leave-one-subject-out", **human_consistency(test),
                     "seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows), models


def summarise(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric, per model and decoding.

    ``"mean ± sd"`` strings when the table holds several seeds; the plain mean for a single seed.
    """
    grouped = table.groupby(["model", "decoding"], sort=False)[list(metrics)]
    mean, sd = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    if "seed" in table and table["seed"].nunique() < 2:
        return mean.round(3).astype(str)
    return mean.round(3).astype(str) + " ± " + sd.round(3).astype(str)


def markdown_table(frame: pd.DataFrame) -> str:
    """A small DataFrame (index included) as a Markdown table."""
    frame = frame.reset_index()
    return markdown_rows(frame.columns, frame.itertuples(index=False))


def hsp_by_seed(data: ScanpathSet, models: dict, fractions=(0.8, 0.1, 0.1), centre_map=None) -> pd.DataFrame:
    """Human scanpath prediction of each seed's OAT and the density baselines on that seed's test part.

    Parameters
    ----------
    data
        The scanpaths :func:`compare_models` split (the same ``fractions``).
    models
        ``seed -> fitted OAT`` from :func:`compare_models`.
    centre_map
        The IG baseline over the grid; ``None`` fits the centre bias on each seed's training part.

    Returns
    -------
    DataFrame
        Per scored fixation, as :func:`~cogvision.scanpath.hsp_evaluation.cross_validate_hsp` (``fold`` = seed).
    """
    frames = []
    for seed, oat in models.items():
        train, _, test = (prepared(part) for part in data.split(fractions, seed=seed))
        centre = centre_maps(test, centre_map, train)
        for name, model in [*fitted_baselines(train, test, centre_map).items(), ("oat", oat)]:
            frames.append(score_hsp(model, test, centre, name).assign(seed=seed if name == "oat" else -1, fold=seed))
    return pd.concat(frames, ignore_index=True)
