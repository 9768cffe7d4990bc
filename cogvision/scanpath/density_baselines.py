"""Baseline next-fixation models for likelihood metrics (:class:`~cogvision.scanpath.density.ScanpathDensityModel`).

Each answers "where does the next fixation go?" over a scene's objects, from the objects' grid positions
(``Scene.grid_pos``; on a grid scene the objects are the cells):

- :class:`UniformDensity`: every object equally likely (LL 0 by construction).
- :class:`CentreBiasDensity`: a fixed map over the grid, ignoring the image and the history: a given map (on
  Interiors, ViSioNS' centre bias) or the training fixations' histogram, smoothed.
- :class:`SaccadeMarkov`: a first-order Markov model of saccade *vectors*: ``p(next) ∝ h(pos_next - pos_now)``
  with ``h`` the smoothed histogram of training saccades in grid units; ``with_centre=True`` multiplies in the
  fitted centre bias (a stronger baseline: where people look and how far they jump).
- :class:`StatisticsWalker`: ignores space and the image; reproduces the training rate of returns to an
  earlier-fixated object, spread evenly over them, and otherwise picks an unvisited object at random.
- :class:`GoldStandard`: the other subjects' fixations on the same image (leave-one-subject-out), as a
  Gaussian kernel density over the grid mixed with a uniform floor; bandwidth and floor are chosen by
  maximising the leave-one-subject-out likelihood of the data it is given. Not a model: an estimate of how
  predictable a fixation is from where other people looked on that image (it ignores the history).

Fitted baselines read the scanpaths prepared for HSP (merged, cut at the target) and count fixations
``1..n-1`` (the scored ones).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import logsumexp

from cogvision.scanpath.containers import ScanpathSet, Scene
from cogvision.scanpath.density import ScanpathDensityModel, hsp_sequences

FLOOR = 1e-3  # weight of the uniform map mixed into fitted maps, so that no object has probability 0


def _normalised_log(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, float)
    return np.log(w / w.sum())


def _grid_shape(data: ScanpathSet) -> tuple[int, int]:
    shapes = {s.grid_shape for s in data.scenes.values()}
    if len(shapes) != 1:
        raise ValueError(f"this baseline needs one grid shape for every scene, got {sorted(shapes)}")
    return shapes.pop()


def _scored(data: ScanpathSet):
    """``(scene, subject, prepared sequence)`` of every scanpath with a scored fixation."""
    for trial, subject, seq in hsp_sequences(data):
        if len(seq) > 1:
            yield data.scenes[trial], subject, seq


class _HistoryFree(ScanpathDensityModel):
    """A model whose map does not depend on the history: one map per scene (and subject), tiled over steps."""

    def scene_log_density(self, scene: Scene, subject: str | None) -> np.ndarray:
        raise NotImplementedError  # each subclass defines its map

    def conditional_log_density(self, scene, history, subject=None):
        """Log-density ``(n_objects,)`` of the next object after the fixated objects ``history``."""
        return self.scene_log_density(scene, subject)

    def log_density_sequences(self, scene, sequences, subjects=None):
        """Next-object log-densities ``(len(seq) - 1, n_objects)`` along each scanpath."""
        subjects = subjects if subjects is not None else [None] * len(sequences)
        return [np.tile(self.scene_log_density(scene, subj), (max(len(seq) - 1, 0), 1))
                for seq, subj in zip(sequences, subjects)]


class UniformDensity(_HistoryFree):
    """Every object equally likely."""

    def scene_log_density(self, scene, subject=None):
        """Log-density ``(n_objects,)`` of a fixation in ``scene``, whatever came before."""
        return np.full(scene.n_objects, -np.log(scene.n_objects))


class CentreBiasDensity(_HistoryFree):
    """A fixed map over the grid.

    Parameters
    ----------
    centre_map
        ``(rows, cols)`` map (non-negative) to use as it is; ``None``: fitted from the training fixations.
    sigma
        Smoothing of the fitted histogram, in cells.
    """

    def __init__(self, centre_map: np.ndarray | None = None, sigma: float = 1.5):
        self.centre_map = centre_map
        self.sigma = sigma

    def fit(self, train: ScanpathSet) -> CentreBiasDensity:
        """Fit on the training scanpaths ``train``; returns ``self``."""
        if self.centre_map is not None:
            self.map_ = np.asarray(self.centre_map, float)
            if self.map_.ndim != 2 or (self.map_ < 0).any() or not self.map_.sum() > 0:
                raise ValueError(f"centre_map must be a non-negative 2-D map, got shape {self.map_.shape}")
            return self
        rows, cols = _grid_shape(train)
        counts = np.zeros((rows, cols))
        for scene, _, seq in _scored(train):
            np.add.at(counts, tuple(scene.grid_pos[seq[1:]].T), 1)
        if not counts.sum():
            raise ValueError("train has no scanpath with two or more fixations to fit a centre bias on")
        smooth = gaussian_filter(counts, self.sigma, mode="constant")
        self.map_ = (1 - FLOOR) * smooth / smooth.sum() + FLOOR / smooth.size
        return self

    def scene_log_density(self, scene, subject=None):
        """Log-density ``(n_objects,)`` of a fixation in ``scene``, whatever came before."""
        rows, cols = self.map_.shape
        if scene.grid_shape != (rows, cols):
            raise ValueError(f"trial {scene.trial!r}: grid {scene.grid_shape} differs from the centre map's "
                             f"{(rows, cols)}")
        return _normalised_log(self.map_[scene.grid_pos[:, 0], scene.grid_pos[:, 1]])


def saccade_histogram(data: ScanpathSet, extent: tuple[int, int], sigma: float) -> np.ndarray:
    """Smoothed distribution of saccade vectors in grid units, ``(2 * extent[0] - 1, 2 * extent[1] - 1)``.

    Entry ``[dr + extent[0] - 1, dc + extent[1] - 1]`` is the probability of a saccade of ``dr`` rows and ``dc``
    columns between consecutive fixations of the HSP-prepared scanpaths of ``data``, Gaussian-smoothed by
    ``sigma`` cells and mixed with a uniform floor of weight ``FLOOR``.
    """
    rows, cols = extent
    counts = np.zeros((2 * rows - 1, 2 * cols - 1))
    for scene, _, seq in _scored(data):
        step = scene.grid_pos[seq[1:]] - scene.grid_pos[seq[:-1]]
        np.add.at(counts, (step[:, 0] + rows - 1, step[:, 1] + cols - 1), 1)
    if not counts.sum():
        raise ValueError("the scanpaths hold no saccade to fit a saccade distribution on")
    smooth = gaussian_filter(counts, sigma, mode="constant")
    return (1 - FLOOR) * smooth / smooth.sum() + FLOOR / smooth.size


class SaccadeMarkov(ScanpathDensityModel):
    """First-order Markov model of saccade vectors in grid units.

    Parameters
    ----------
    sigma
        Smoothing of the saccade-vector histogram, in cells.
    with_centre
        Multiply by the fitted centre bias (:class:`CentreBiasDensity` on the same training data).
    """

    def __init__(self, sigma: float = 1.0, with_centre: bool = False):
        self.sigma = sigma
        self.with_centre = with_centre

    def fit(self, train: ScanpathSet) -> SaccadeMarkov:
        """Fit on the training scanpaths ``train``; returns ``self``."""
        self.shape_ = _grid_shape(train)
        self.vectors_ = saccade_histogram(train, self.shape_, self.sigma)
        self.centre_ = CentreBiasDensity().fit(train) if self.with_centre else None
        return self

    def _transitions(self, scene: Scene, current: np.ndarray) -> np.ndarray:
        """``(len(current), n_objects)`` log-probabilities of the next object from each ``current`` object."""
        if scene.grid_shape != self.shape_:
            raise ValueError(f"trial {scene.trial!r}: grid {scene.grid_shape} differs from the fitted {self.shape_}")
        rows, cols = self.shape_
        d = scene.grid_pos[None, :, :] - scene.grid_pos[np.asarray(current, int), None, :]
        logp = np.log(self.vectors_[d[..., 0] + rows - 1, d[..., 1] + cols - 1])
        if self.centre_ is not None:
            logp = logp + self.centre_.scene_log_density(scene)[None, :]
        return logp - logsumexp(logp, 1, keepdims=True)

    def conditional_log_density(self, scene, history, subject=None):
        """Log-density ``(n_objects,)`` of the next object after the fixated objects ``history``."""
        return self._transitions(scene, np.asarray(history)[-1:])[0]

    def log_density_sequences(self, scene, sequences, subjects=None):
        """Next-object log-densities ``(len(seq) - 1, n_objects)`` along each scanpath."""
        current = [np.asarray(seq[:-1], int) for seq in sequences]
        starts, index = np.unique(np.concatenate(current), return_inverse=True)  # each start object's row once
        table = self._transitions(scene, starts)
        bounds = np.cumsum([0] + [len(c) for c in current])
        return [table[index[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]


class StatisticsWalker(ScanpathDensityModel):
    """Space-blind walker matching the training rate of returns to earlier-fixated objects."""

    def fit(self, train: ScanpathSet) -> StatisticsWalker:
        """Fit on the training scanpaths ``train``; returns ``self``."""
        returns = chances = 0
        for _, _, seq in _scored(train):
            for i in range(2, len(seq)):
                earlier = set(seq[:i - 1].tolist()) - {int(seq[i - 1])}
                if earlier:
                    chances += 1
                    returns += int(seq[i]) in earlier
        self.return_rate_ = returns / chances if chances else 0.0
        return self

    def conditional_log_density(self, scene, history, subject=None):
        """Log-density ``(n_objects,)`` of the next object after the fixated objects ``history``."""
        history = np.asarray(history, int)
        current = int(history[-1])
        earlier = np.zeros(scene.n_objects, bool)
        earlier[history[:-1]] = True
        earlier[current] = False
        fresh = np.ones(scene.n_objects, bool)
        fresh[history] = False
        p = np.full(scene.n_objects, FLOOR / scene.n_objects)
        rate = self.return_rate_ if earlier.any() else 0.0
        if earlier.any():
            p[earlier] += (1 - FLOOR) * rate / earlier.sum()
        if fresh.any():
            p[fresh] += (1 - FLOOR) * (1 - rate) / fresh.sum()
        return _normalised_log(p)


class GoldStandard(_HistoryFree):
    """Leave-one-subject-out kernel density of the other subjects' fixations on the same image.

    Parameters
    ----------
    sigmas
        Candidate kernel widths, in cells.
    floors
        Candidate weights of the uniform map mixed in.
    """

    def __init__(self, sigmas: Sequence[float] = (0.5, 1.0, 1.5, 2.0, 3.0),
                 floors: Sequence[float] = (0.01, 0.05, 0.2)):
        self.sigmas = sigmas
        self.floors = floors

    def fit(self, data: ScanpathSet) -> GoldStandard:
        """Store the fixations of ``data`` (the scanpaths to be scored) and choose the bandwidth on them."""
        self.shape_ = _grid_shape(data)
        counts: dict[str, dict[str, np.ndarray]] = {}
        for scene, subject, seq in _scored(data):
            grid = counts.setdefault(scene.image_id, {}).setdefault(subject, np.zeros(self.shape_))
            np.add.at(grid, tuple(scene.grid_pos[seq[1:]].T), 1)
        self.counts_ = counts
        best = -np.inf
        for sigma in self.sigmas:
            for floor in self.floors:
                total = 0.0
                for per_subject in counts.values():
                    all_counts = sum(per_subject.values())
                    for grid in per_subject.values():
                        total += float((grid * self._log_map(all_counts - grid, sigma, floor)).sum())
                if total > best:
                    best, self.sigma_, self.floor_ = total, sigma, floor
        return self

    def _log_map(self, counts: np.ndarray, sigma: float, floor: float) -> np.ndarray:
        uniform = np.full(counts.shape, 1.0 / counts.size)
        if not counts.sum():
            return np.log(uniform)
        smooth = gaussian_filter(counts.astype(float), sigma, mode="constant")
        return np.log((1 - floor) * smooth / smooth.sum() + floor * uniform)

    def scene_log_density(self, scene, subject=None):
        """Log-density ``(n_objects,)`` of a fixation in ``scene``, whatever came before."""
        if scene.grid_shape != self.shape_:
            raise ValueError(f"trial {scene.trial!r}: grid {scene.grid_shape} differs from the fitted {self.shape_}")
        per_subject = self.counts_.get(scene.image_id, {})
        others = sum((g for s, g in per_subject.items() if s != subject), np.zeros(self.shape_))
        full = self._log_map(others, self.sigma_, self.floor_)
        return _normalised_log(np.exp(full[scene.grid_pos[:, 0], scene.grid_pos[:, 1]]))
