"""One interface for every scanpath model that likelihood metrics can score, and the scoring itself.

A :class:`ScanpathDensityModel` answers one question (as pysaliency's ``ScanpathModel``): given the objects a
person has fixated so far on a scene, where does the next fixation go? It returns a log-density over the
scene's objects (on a grid scene, its cells). Human scanpath prediction (:func:`score_hsp`) asks it along every
human scanpath and scores each answer with :func:`cogvision.scanpath.metrics.hsp.hsp_scores`.

Scanpaths are prepared as ViSioNS does (:func:`hsp_sequences`): consecutive fixations on one object merged,
the scanpath cut at the first fixation on one of the scene's ``target_objects``; fixations on the background
(object ``-1``) are dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.metrics.hsp import hsp_scores


class ScanpathDensityModel(ABC):
    """A model of where the next fixation goes, given the scanpath so far.

    Subclasses implement :meth:`conditional_log_density`; :meth:`log_density_sequences` (all steps of many
    scanpaths of one scene) loops over it by default and is what a model overrides when it can do all steps
    at once (OAT: one teacher-forced pass).
    """

    def fit(self, train: ScanpathSet) -> ScanpathDensityModel:
        """Fit on training scanpaths (default: nothing to fit); returns ``self``."""
        return self

    @abstractmethod
    def conditional_log_density(self, scene: Scene, history: np.ndarray, subject: str | None = None) -> np.ndarray:
        """Natural-log density ``(n_objects,)`` of the next fixated object.

        Parameters
        ----------
        scene
            The scene searched.
        history
            Objects fixated so far, shape ``(k,)`` with ``k >= 1`` (the first is the initial fixation).
        subject
            Whose scanpath it is (only a leave-one-subject-out model such as the gold standard uses it).
        """

    def log_density_sequences(self, scene: Scene, sequences: Sequence[np.ndarray],
                              subjects: Sequence[str] | None = None) -> list[np.ndarray]:
        """For each scanpath ``seq``, the log-densities ``(len(seq) - 1, n_objects)`` of fixations ``1..``."""
        subjects = subjects if subjects is not None else [None] * len(sequences)
        return [np.stack([self.conditional_log_density(scene, seq[:i], subj) for i in range(1, len(seq))])
                if len(seq) > 1 else np.zeros((0, scene.n_objects)) for seq, subj in zip(sequences, subjects)]


def prepare_sequence(objects: np.ndarray, target_objects: Sequence[int]) -> np.ndarray:
    """Drop background fixations, merge consecutive fixations on one object, cut at the first target fixation."""
    objects = np.asarray(objects, int)
    objects = objects[objects >= 0]
    if len(objects) > 1:
        objects = objects[np.r_[True, objects[1:] != objects[:-1]]]
    targets = set(target_objects)
    for k, obj in enumerate(objects.tolist()):
        if obj in targets:
            return objects[: k + 1]
    return objects


def hsp_sequences(data: ScanpathSet) -> list[tuple[str, str, np.ndarray]]:
    """``(trial, subject, objects)`` of every scanpath, prepared for HSP (:func:`prepare_sequence`)."""
    return [(trial, subject, prepare_sequence(seq, data.scenes[trial].target_objects))
            for trial, subject, seq in data.sequences(drop_background=False)]


def prepared(data: ScanpathSet) -> ScanpathSet:
    """``data`` with every scanpath prepared as for HSP (merged, cut at the target), as a new set."""
    frames = []
    for trial, subject, seq in hsp_sequences(data):
        scene = data.scenes[trial]
        centres = scene.centres[seq]
        frames.append(pd.DataFrame({"subject": subject, "trial": trial, "fixation": np.arange(len(seq)),
                                    "x": centres[:, 0], "y": centres[:, 1], "duration": np.nan, "object": seq}))
    return ScanpathSet(pd.concat(frames, ignore_index=True), dict(data.scenes), data.name, data.allow_outside)


def score_hsp(model: ScanpathDensityModel, data: ScanpathSet, centre_bias: dict[str, np.ndarray] | np.ndarray,
              name: str = "model") -> pd.DataFrame:
    """Human scanpath prediction: the five scores of every scored fixation of every human scanpath.

    Parameters
    ----------
    model
        A fitted :class:`ScanpathDensityModel`.
    data
        Human scanpaths (their scenes' objects are the cells the maps cover).
    centre_bias
        The information-gain baseline: one map ``(n_objects,)`` (or the grid's ``(rows, cols)``) for every
        scene, or ``trial -> map``.
    name
        Written in the ``model`` column.

    Returns
    -------
    DataFrame
        One row per scored fixation: ``model, image, trial, subject, fixation, object`` and
        ``auc, nss, ig, ll, nss_standard``.
    """
    by_trial: dict[str, list[tuple[str, np.ndarray]]] = {}
    for trial, subject, seq in hsp_sequences(data):
        if len(seq) > 1:
            by_trial.setdefault(trial, []).append((subject, seq))
    frames = []
    for trial, paths in by_trial.items():
        scene = data.scenes[trial]
        base = centre_bias[trial] if isinstance(centre_bias, dict) else centre_bias
        subjects = [s for s, _ in paths]
        seqs = [q for _, q in paths]
        maps = model.log_density_sequences(scene, seqs, subjects)
        logp = np.concatenate(maps)
        if logp.shape != (sum(len(q) - 1 for q in seqs), scene.n_objects):
            raise ValueError(f"{type(model).__name__} gave maps of shape {logp.shape} on trial {trial!r}; expected "
                             f"one row of {scene.n_objects} objects per scored fixation")
        fixated = np.concatenate([q[1:] for q in seqs])
        scores = hsp_scores(logp, fixated, np.asarray(base, float).reshape(-1))
        frames.append(pd.DataFrame({
            "model": name, "image": scene.image_id, "trial": trial,
            "subject": np.concatenate([[s] * (len(q) - 1) for s, q in paths]),
            "fixation": np.concatenate([np.arange(1, len(q)) for q in seqs]), "object": fixated, **scores}))
    if not frames:
        raise ValueError(f"{data.name!r} has no scanpath with a fixation to score (all have one fixation)")
    return pd.concat(frames, ignore_index=True)

