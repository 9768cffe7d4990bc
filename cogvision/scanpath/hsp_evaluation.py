"""Human scanpath prediction on images a model never saw: OAT against the density baselines, cross-validated.

The protocol (``docs/scanpath.md`` has the commands and the numbers):

1. Scanpaths are prepared as ViSioNS does (:func:`~cogvision.scanpath.density.prepared`: merged, cut at the
   target).
2. Images are split into ``folds`` parts (a fixed permutation, ``split_seed``); each part is the test set
   once, the rest is the training set; without folds, a given training and test set are used as they are.
3. On each training set: OAT is fitted per seed (``val_fraction`` of the training images early-stop it on
   the validation negative log-likelihood), and the fitted baselines once (the saccade Markov models, the
   statistics walker, and, when no centre map is given, the centre bias). On the test set the gold standard
   (leave-one-subject-out density of the other subjects) is fitted on the test scanpaths themselves.
4. Every model follows every test scanpath (:func:`~cogvision.scanpath.density.score_hsp`).
5. Behaviour beside the likelihoods: OAT's sampled scanpaths (stopping when it points at the target token),
   prepared as the humans' are, against the humans' -- target found within k fixations, the behavioural delta,
   MultiMatch and Sequence Score (:func:`~cogvision.scanpath.evaluate.evaluate_predictions`).

Summaries (:func:`summarise_hsp`) average OAT's per-image scores over seeds before bootstrapping over images;
:func:`paired_differences` gives intervals of OAT minus each baseline, image by image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from cogvision.reporting import progress as progress_bar
from cogvision.scanpath.containers import ScanpathSet, predicted_sequences, prediction_frame
from cogvision.scanpath.density import ScanpathDensityModel, hsp_sequences, prepare_sequence, prepared, score_hsp
from cogvision.scanpath.density_baselines import (
    CentreBiasDensity,
    GoldStandard,
    SaccadeMarkov,
    StatisticsWalker,
    UniformDensity,
)
from cogvision.scanpath.evaluate import evaluate_predictions
from cogvision.scanpath.metrics.hsp import HSP_METRICS, aggregate_hsp
from cogvision.scanpath.oat import OAT

BASELINES = ("uniform", "centre_bias", "markov", "markov_centre", "statistics_walker", "gold_standard")


@dataclass
class HSPResult:
    """What :func:`cross_validate_hsp` returns.

    Attributes
    ----------
    per_fixation : DataFrame
        One row per scored fixation and model: ``model, seed, fold, image, trial, subject, fixation, object`` and
        the metrics of :mod:`cogvision.scanpath.metrics.hsp` (``seed`` -1 for deterministic models).
    found : DataFrame
        Target found within ``k`` fixations: ``who (human | oat), seed, fold, k, found``.
    behaviour : DataFrame
        OAT's sampled scanpaths against the humans' per fold and seed: ``seed, fold, delta, sequence_score,
        edit_distance, mm_*, stat_*``.
    models : dict
        ``(fold, seed) -> fitted OAT``.
    seconds : float
        Wall time.
    """

    per_fixation: pd.DataFrame
    found: pd.DataFrame
    behaviour: pd.DataFrame
    models: dict = field(default_factory=dict)
    seconds: float = 0.0


def fitted_baselines(train: ScanpathSet, test: ScanpathSet,
                     centre_map: np.ndarray | None) -> dict[str, ScanpathDensityModel]:
    """The six baselines of :data:`BASELINES`, fitted (the gold standard on ``test``, the others on ``train``)."""
    return {
        "uniform": UniformDensity().fit(train),
        "centre_bias": CentreBiasDensity(centre_map).fit(train),
        "markov": SaccadeMarkov().fit(train),
        "markov_centre": SaccadeMarkov(with_centre=True).fit(train),
        "statistics_walker": StatisticsWalker().fit(train),
        "gold_standard": GoldStandard().fit(test),
    }


def found_within(sequences: Sequence[np.ndarray], target_objects: Sequence[Sequence[int]], k_max: int) -> np.ndarray:
    """Fraction of scanpaths that fixate a target object within ``k`` fixations after the first, ``k = 1..k_max``.

    Returns
    -------
    ndarray, shape (k_max,)
    """
    first_hit = []
    for seq, targets in zip(sequences, target_objects):
        hit = np.flatnonzero(np.isin(np.asarray(seq, int)[1:], list(targets)))
        first_hit.append(hit[0] + 1 if len(hit) else np.inf)
    first_hit = np.asarray(first_hit, float)
    return np.array([(first_hit <= k).mean() for k in range(1, k_max + 1)]) if len(first_hit) else np.zeros(k_max)


def _image_folds(data: ScanpathSet, folds: int, split_seed: int) -> list[list[str]]:
    images = sorted({s.image_id for s in data.scenes.values()})
    if folds < 2 or folds > len(images):
        raise ValueError(f"folds must be between 2 and the number of images ({len(images)}), got {folds}")
    order = np.random.default_rng(split_seed).permutation(len(images))
    return [[images[i] for i in part] for part in np.array_split(order, folds)]


def _by_images(data: ScanpathSet, images: set[str], keep: bool) -> ScanpathSet:
    return data.subset([t for t, s in data.scenes.items() if (s.image_id in images) == keep])


def evaluate_split(train: ScanpathSet, test: ScanpathSet, centre_map: np.ndarray | None, *, seeds: Sequence[int],
                   oat_params: dict, val_fraction: float = 0.15, n_samples: int = 10, k_max: int = 12,
                   fold: int = 0, multimatch: bool = True, progress: bool = False) -> HSPResult:
    """Fit on prepared ``train``, score on prepared ``test`` (see the module docstring)."""
    frames, found, behaviour, models = [], [], [], {}
    centre = centre_maps(test, centre_map, train)
    for name, model in fitted_baselines(train, test, centre_map).items():
        frames.append(score_hsp(model, test, centre, name).assign(seed=-1))
    human_seqs = [s for *_, s in hsp_sequences(test)]
    human_targets = [test.scenes[t].target_objects for t, *_ in hsp_sequences(test)]
    found.append(pd.DataFrame({"who": "human", "seed": -1, "k": np.arange(1, k_max + 1),
                               "found": found_within(human_seqs, human_targets, k_max)}))
    for seed in seeds:
        n_images = len({s.image_id for s in train.scenes.values()})
        if val_fraction and round(val_fraction * n_images) >= 1:
            fit_part, val_part = train.split((1 - val_fraction, val_fraction), seed=seed)
        else:
            fit_part, val_part = train, None  # too few images to hold some back: no early stopping
        oat = OAT(**{**oat_params, "seed": seed, "progress": progress}).fit(fit_part, val_part)
        models[(fold, seed)] = oat
        frames.append(score_hsp(oat, test, centre, "oat").assign(seed=seed))
        if n_samples:
            pred = prepared_predictions(oat.predict(test, n_samples=n_samples), test)
            sampled = predicted_sequences(pred)
            seqs = [s for t in test.trials for s in sampled.get(t, [])]
            targets = [test.scenes[t].target_objects for t in test.trials for _ in sampled.get(t, [])]
            found.append(pd.DataFrame({"who": "oat", "seed": seed, "k": np.arange(1, k_max + 1),
                                       "found": found_within(seqs, targets, k_max)}))
            if multimatch:
                behaviour.append({"seed": seed, **evaluate_predictions(pred, test)})
    per_fixation = pd.concat(frames, ignore_index=True).assign(fold=fold)
    return HSPResult(per_fixation, pd.concat(found, ignore_index=True).assign(fold=fold),
                     pd.DataFrame(behaviour).assign(fold=fold), models)


def prepared_predictions(predictions: pd.DataFrame, data: ScanpathSet) -> pd.DataFrame:
    """Predicted scanpaths prepared as the humans' are for HSP: consecutive repeats merged, cut at the target."""
    scenes, seqs, repeats = [], [], None
    for trial, samples in predicted_sequences(predictions).items():
        scene = data.scenes[trial]
        if repeats is not None and len(samples) != repeats:
            raise ValueError(f"trial {trial!r} has {len(samples)} samples, others {repeats}")
        repeats = len(samples)
        scenes.append(scene)
        seqs.extend(prepare_sequence(s, scene.target_objects) for s in samples)
    return prediction_frame(scenes, seqs, repeats or 1)


def centre_maps(test: ScanpathSet, centre_map: np.ndarray | None, train: ScanpathSet) -> np.ndarray | dict:
    """The IG baseline: the given centre map, or the centre bias fitted on the training part."""
    model = CentreBiasDensity(centre_map).fit(train)
    return {t: np.exp(model.scene_log_density(s)) for t, s in test.scenes.items()}


def cross_validate_hsp(data: ScanpathSet, centre_map: np.ndarray | None = None, *, test: ScanpathSet | None = None,
                       folds: int = 5, split_seed: int = 0, seeds: Sequence[int] = (0, 1, 2),
                       oat_params: dict | None = None, val_fraction: float = 0.15, n_samples: int = 10,
                       k_max: int = 12, multimatch: bool = True, progress: bool = False) -> HSPResult:
    """HSP of OAT and the baselines on images OAT never saw.

    Parameters
    ----------
    data
        Training scanpaths (with ``test``) or all scanpaths (cross-validated by image into ``folds``).
    centre_map
        ``(rows, cols)`` centre-bias map (the IG baseline and the ``centre_bias`` model); ``None`` fits one on
        each training part.
    test
        A separate test set (an unseen image set): no cross-validation.
    seeds
        OAT seeds per fold (initialisation, batch order, validation split, sampling).
    oat_params
        Keyword arguments of :class:`~cogvision.scanpath.OAT` (``seed`` and ``progress`` are set here).
    n_samples
        OAT scanpaths sampled per test image for the behavioural summaries (0: none).
    """
    t0 = time.perf_counter()
    oat_params = dict(oat_params or {})
    data = prepared(data)
    if test is not None:
        splits = [(data, prepared(test))]
    else:
        splits = [(_by_images(data, set(part), keep=False), _by_images(data, set(part), keep=True))
                  for part in _image_folds(data, folds, split_seed)]
    results = [evaluate_split(tr, te, centre_map, seeds=seeds, oat_params=oat_params, val_fraction=val_fraction,
                              n_samples=n_samples, k_max=k_max, fold=k, multimatch=multimatch, progress=progress)
               for k, (tr, te) in progress_bar(enumerate(splits), desc="folds", total=len(splits),
                                               disable=None if progress else True)]
    return HSPResult(pd.concat([r.per_fixation for r in results], ignore_index=True),
                     pd.concat([r.found for r in results], ignore_index=True),
                     pd.concat([r.behaviour for r in results], ignore_index=True),
                     {key: m for r in results for key, m in r.models.items()}, time.perf_counter() - t0)


def per_image_scores(per_fixation: pd.DataFrame) -> pd.DataFrame:
    """Per model and image, the ViSioNS-averaged metrics; a seeded model's per-image scores averaged over seeds.

    Returns
    -------
    DataFrame
        Index ``(model, image)``; one column per metric.
    """
    parts = []
    for (model, seed), frame in per_fixation.groupby(["model", "seed"], sort=False):
        per_image, _ = aggregate_hsp(frame)
        parts.append(per_image.assign(model=model, seed=seed).reset_index())
    table = pd.concat(parts, ignore_index=True)
    return table.groupby(["model", "image"], sort=False)[list(HSP_METRICS)].mean()


def summarise_hsp(per_fixation: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per model: ``model, auc, nss, ig, ll, nss_standard``, 95% bootstrap intervals over images
    (``<metric>_low``, ``<metric>_high``), and for seeded models ``<metric>_seed_sd`` (sd over seeds of the
    mean over images)."""
    per_image = per_image_scores(per_fixation)
    images = sorted(per_fixation["image"].unique())
    draws = np.random.default_rng(seed).integers(0, len(images), size=(n_boot, len(images)))
    rows = []
    for model in per_fixation["model"].unique():
        table = per_image.loc[model].reindex(images)
        row = {"model": model}
        for metric in HSP_METRICS:
            values = table[metric].to_numpy()
            boot = np.nanmean(values[draws], 1)
            row[metric] = float(np.nanmean(values))
            row[f"{metric}_low"], row[f"{metric}_high"] = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
        frame = per_fixation[per_fixation["model"] == model]
        if frame["seed"].nunique() > 1:
            by_seed = [aggregate_hsp(f)[1] for _, f in frame.groupby("seed")]
            for metric in HSP_METRICS:
                row[f"{metric}_seed_sd"] = float(np.std([s[metric] for s in by_seed], ddof=1))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(per_fixation: pd.DataFrame, model: str = "oat", n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """``model`` minus every other model, image by image, with 95% bootstrap intervals over images.

    Returns
    -------
    DataFrame
        ``model, reference, metric, difference, low, high``.
    """
    per_image = per_image_scores(per_fixation)
    images = sorted(per_fixation["image"].unique())
    draws = np.random.default_rng(seed).integers(0, len(images), size=(n_boot, len(images)))
    ours = per_image.loc[model].reindex(images)
    rows = []
    for reference in per_fixation["model"].unique():
        if reference == model:
            continue
        theirs = per_image.loc[reference].reindex(images)
        for metric in HSP_METRICS:
            diff = ours[metric].to_numpy() - theirs[metric].to_numpy()
            low, high = np.percentile(np.nanmean(diff[draws], 1), [2.5, 97.5])
            rows.append({"model": model, "reference": reference, "metric": metric,
                         "difference": float(np.nanmean(diff)), "low": float(low), "high": float(high)})
    return pd.DataFrame(rows)


def cumulative_performance(found: pd.DataFrame) -> pd.DataFrame:
    """Target found within ``k`` fixations, averaged over folds (and seeds), per ``who`` and ``k``; with
    ``auc_perf`` = the mean over ``k`` (ViSioNS' area under the cumulative-performance curve, normalised)."""
    curve = found.groupby(["who", "k"], sort=True)["found"].mean().reset_index()
    auc = curve.groupby("who")["found"].mean().rename("auc_perf")
    return curve.merge(auc, on="who")
