"""Score predicted object scanpaths against the human ones of the same trials.

Protocol (explicit, because published numbers differ by protocol): every predicted scanpath of a trial is
compared with every human scanpath of that trial; pair scores are averaged within the trial, then over
trials. MultiMatch uses the object box centres as fixation positions (no durations, so only vector,
direction, length and position are reported, as in OAT) and each trial's image size; pairs with a
scanpath shorter than 3 fixations are left out (MultiMatch is undefined there). The behavioural delta
compares the statistics over all predicted scanpaths with those over all human scanpaths.
Human consistency scores each subject's scanpath against the other subjects' on the same trial
(leave-one-subject-out), and each subject's behaviour against the other subjects' pooled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, predicted_sequences
from cogvision.scanpath.metrics.behaviour import STATISTICS, behaviour_delta, behaviour_summary
from cogvision.scanpath.metrics.multimatch import multimatch_many
from cogvision.scanpath.metrics.sequence import edit_distance, sequence_score

MM_DIMS = ("mm_vector", "mm_direction", "mm_length", "mm_position")
METRICS = ("delta", "sequence_score", "edit_distance") + MM_DIMS


def _pair_scores(data: ScanpathSet, predicted: dict[str, list[np.ndarray]],
                 human: dict[str, list[tuple[str, np.ndarray]]], exclude_same_subject: bool) -> dict[str, float]:
    per_trial = []
    for trial, preds in predicted.items():
        humans = human.get(trial, [])
        scene = data.scenes[trial]
        seqs = [p for _, p in preds] + [h for _, h in humans]
        pairs = [(i, len(preds) + j) for i, (ps, _) in enumerate(preds) for j, (hs, _) in enumerate(humans)
                 if not (exclude_same_subject and ps == hs)]
        if not pairs:
            continue
        pairs = np.asarray(pairs)
        ss = sequence_score(seqs, pairs)
        ed = edit_distance(seqs, pairs)
        xy = [np.column_stack([scene.centres[s], np.ones(len(s))]) if len(s) else np.zeros((0, 3)) for s in seqs]
        mm = multimatch_many(xy, (scene.width, scene.height), pairs)[:, :4]
        row = {"sequence_score": np.nanmean(ss), "edit_distance": np.nanmean(ed)}
        with np.errstate(all="ignore"):
            for k, name in enumerate(MM_DIMS):
                col = mm[:, k]
                row[name] = np.nanmean(col) if np.isfinite(col).any() else np.nan
        per_trial.append(row)
    table = pd.DataFrame(per_trial)
    return {k: float(table[k].mean()) for k in ("sequence_score", "edit_distance") + MM_DIMS}


def _human_by_trial(data: ScanpathSet) -> dict[str, list[tuple[str, np.ndarray]]]:
    out: dict[str, list] = {}
    for trial, subject, seq in data.sequences():
        out.setdefault(trial, []).append((subject, seq))
    return out


def evaluate_predictions(predictions: pd.DataFrame, data: ScanpathSet) -> dict[str, float]:
    """Metrics of predicted scanpaths against the human scanpaths in ``data``.

    Parameters
    ----------
    predictions
        Table from a model's ``predict`` (columns ``trial, sample, fixation, object, ...``).
    data
        Human scanpaths of (at least) the predicted trials.

    Returns
    -------
    dict
        ``delta`` (lower is better), ``sequence_score`` (higher), ``edit_distance`` (lower), MultiMatch
        ``mm_vector, mm_direction, mm_length, mm_position`` (higher), and the five mean statistics
        prefixed ``stat_``.
    """
    predicted = predicted_sequences(predictions)
    missing = sorted(set(predicted) - set(data.scenes))
    if missing:
        raise ValueError(f"predicted trial {missing[0]!r} has no human scanpaths in {data.name!r}")
    # trials with no predicted fixation at all still count (as empty scanpaths) in the behaviour
    seqs = [s for t in data.trials for s in predicted.get(t, [np.zeros(0, int)])]
    targets = [data.scenes[t].target for t in data.trials for _ in predicted.get(t, [None])]
    model_stats = behaviour_summary(seqs, targets)
    human = _human_by_trial(data)
    human_stats = behaviour_summary([s for t in data.trials for _, s in human[t]],
                                    [data.scenes[t].target for t in data.trials for _ in human[t]])
    pred = {t: [(None, s) for s in predicted.get(t, [np.zeros(0, int)])] for t in data.trials}
    out = {"delta": behaviour_delta(model_stats, human_stats)}
    out.update(_pair_scores(data, pred, human, exclude_same_subject=False))
    out.update({f"stat_{k}": float(model_stats[k]) for k in STATISTICS})
    return out


def human_consistency(data: ScanpathSet) -> dict[str, float]:
    """The same metrics for humans, leave-one-subject-out (see the module docstring)."""
    human = _human_by_trial(data)
    subjects = sorted({s for rows in human.values() for s, _ in rows})
    if len(subjects) < 2:
        raise ValueError(f"{data.name!r}: human consistency needs at least 2 subjects")
    deltas, stats = [], []
    for subject in subjects:
        mine = [(t, s) for t, rows in human.items() for subj, s in rows if subj == subject]
        rest = [(t, s) for t, rows in human.items() for subj, s in rows if subj != subject]
        if not mine or not rest:
            continue
        m = behaviour_summary([s for _, s in mine], [data.scenes[t].target for t, _ in mine])
        r = behaviour_summary([s for _, s in rest], [data.scenes[t].target for t, _ in rest])
        deltas.append(behaviour_delta(m, r))
        stats.append(m)
    out = {"delta": float(np.mean(deltas))}
    out.update(_pair_scores(data, human, human, exclude_same_subject=True))
    mean_stats = pd.DataFrame(stats).mean()
    out.update({f"stat_{k}": float(mean_stats[k]) for k in STATISTICS})
    return out


def human_statistics(data: ScanpathSet) -> dict[str, float]:
    """Mean behavioural statistics of the human scanpaths, prefixed ``stat_``."""
    seqs = data.sequences()
    stats = behaviour_summary([s for *_, s in seqs], [data.scenes[t].target for t, *_ in seqs])
    return {f"stat_{k}": float(stats[k]) for k in STATISTICS}
