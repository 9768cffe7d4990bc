"""Baseline scanpath models over objects, with the ``fit``/``predict`` interface of :class:`~cogvision.scanpath.OAT`.

Every baseline stops when it reaches the target or after a length drawn from the training scanpath
lengths (the median for a deterministic prediction, ``n_samples=0``), so that the baselines are
calibrated in length and differ from OAT only in *which* objects they visit:

- :class:`RandomOrder`: objects uniformly at random (never the current one again immediately), drawn
  afresh for every scanpath also when ``n_samples=0``;
- :class:`CentreNearest`: start at the object nearest the image centre, then always the nearest
  unvisited object (a centre-out nearest-neighbour tour);
- :class:`SaliencyIOR`: objects by decreasing saliency with inhibition of return (a visited object is not
  chosen again); saliency is the mean of a map inside each box, from a centre prior
  ``exp(-d^2 / (2 (s * diagonal)^2))`` or from a given map per trial. Sampling draws the next object with
  probability proportional to ``saliency ** (1 / temperature)`` among the unvisited ones.

Human consistency (leave-one-subject-out) is :func:`cogvision.scanpath.evaluate.human_consistency`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from cogvision.scanpath.containers import ScanpathSet, Scene, prediction_frame


class _Baseline:
    seed: int

    def fit(self, train: ScanpathSet, val: ScanpathSet | None = None) -> _Baseline:
        """Learn the distribution of scanpath lengths from ``train``; returns ``self``."""
        lengths = np.array([len(s) for *_, s in train.sequences()], int)
        lengths = lengths[lengths > 0]
        if len(lengths) == 0:
            raise ValueError("train has no non-empty scanpaths")
        self.lengths_ = lengths
        return self

    def predict(self, data: ScanpathSet | Sequence[Scene], n_samples: int = 0) -> pd.DataFrame:
        """Scanpaths per trial (columns ``trial, sample, fixation, object, x, y``); see the module docstring."""
        if not hasattr(self, "lengths_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet")
        scenes = [data.scenes[t] for t in data.trials] if isinstance(data, ScanpathSet) else list(data)
        rng = np.random.default_rng(self.seed)
        seqs = []
        for scene in scenes:
            for _ in range(max(n_samples, 1)):
                length = int(rng.choice(self.lengths_)) if n_samples else int(np.median(self.lengths_))
                seqs.append(self._walk(scene, length, rng, n_samples > 0))
        return prediction_frame(scenes, seqs, max(n_samples, 1))

    def _walk(self, scene: Scene, length: int, rng: np.random.Generator, sample: bool) -> np.ndarray:
        raise NotImplementedError  # each baseline defines its walk


def _stop_at_target(seq: list[int], target: int) -> np.ndarray:
    seq = np.asarray(seq, int)
    hit = np.flatnonzero(seq == target)
    return seq[: hit[0] + 1] if len(hit) else seq


class RandomOrder(_Baseline):
    """Random objects (see the module docstring). ``seed`` seeds the draws."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _walk(self, scene, length, rng, sample):
        seq = [int(rng.integers(scene.n_objects))]
        while len(seq) < length and scene.n_objects > 1:
            nxt = int(rng.integers(scene.n_objects - 1))
            seq.append(nxt + (nxt >= seq[-1]))
        return _stop_at_target(seq, scene.target)


class CentreNearest(_Baseline):
    """Centre-out nearest-neighbour tour over object centres (deterministic; ``seed`` only draws lengths)."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _walk(self, scene, length, rng, sample):
        centres = scene.centres
        current = int(np.argmin(np.hypot(centres[:, 0] - scene.width / 2, centres[:, 1] - scene.height / 2)))
        seq, visited = [current], {current}
        while len(seq) < min(length, scene.n_objects):
            dist = np.hypot(*(centres - centres[current]).T)
            dist[list(visited)] = np.inf
            current = int(np.argmin(dist))
            seq.append(current)
            visited.add(current)
        return _stop_at_target(seq, scene.target)


class SaliencyIOR(_Baseline):
    """Objects by decreasing saliency with inhibition of return.

    Parameters
    ----------
    maps
        Optional ``trial -> saliency map (height, width)``; trials without one use the centre prior.
    centre_sigma
        Width of the centre prior as a fraction of the image diagonal.
    temperature
        Sampling temperature (``n_samples > 0``).
    seed
        Seed of the draws.
    """

    def __init__(self, maps: dict[str, np.ndarray] | None = None, centre_sigma: float = 0.25, temperature: float = 0.1,
                 seed: int = 0):
        self.maps, self.centre_sigma, self.temperature, self.seed = maps, centre_sigma, temperature, seed

    def object_saliency(self, scene: Scene) -> np.ndarray:
        """Saliency of each object, shape ``(n_objects,)``, positive."""
        if self.maps is not None and scene.trial in self.maps:
            smap = np.asarray(self.maps[scene.trial], float)
            if smap.ndim != 2:
                raise ValueError(f"trial {scene.trial!r}: saliency map must be 2-D, got shape {smap.shape}")
            sy, sx = smap.shape[0] / scene.height, smap.shape[1] / scene.width
            out = []
            for x0, y0, x1, y1 in scene.boxes:
                r0, c0 = int(y0 * sy), int(x0 * sx)
                patch = smap[r0:max(int(np.ceil(y1 * sy)), r0 + 1), c0:max(int(np.ceil(x1 * sx)), c0 + 1)]
                out.append(patch.mean() if patch.size else 0.0)
            return np.asarray(out) + 1e-12
        c = scene.centres
        d2 = (c[:, 0] - scene.width / 2) ** 2 + (c[:, 1] - scene.height / 2) ** 2
        sigma = self.centre_sigma * np.hypot(scene.width, scene.height)
        return np.exp(-d2 / (2 * sigma**2)) + 1e-12

    def _walk(self, scene, length, rng, sample):
        sal = self.object_saliency(scene)
        visited = np.zeros(scene.n_objects, bool)
        seq = []
        while len(seq) < min(length, scene.n_objects):
            if not sample:
                nxt = int(np.argmax(np.where(visited, -np.inf, sal)))
            else:
                logit = np.where(visited, -np.inf, np.log(sal) / self.temperature)
                p = np.exp(logit - logit.max())
                nxt = int(rng.choice(scene.n_objects, p=p / p.sum()))
            seq.append(nxt)
            visited[nxt] = True
        return _stop_at_target(seq, scene.target)
